import hashlib
import json
import pprint
import shlex
from datetime import date, datetime, time, timezone

from werkzeug.exceptions import NotFound

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessDenied, AccessError
from odoo.tools import SQL

from .. import dispatch, series
from ..tools.api_traffic import auth_kinds, credential_digest, traffic

DEPRECATION_DATE_PARAM = "integration_suite.legacy_deprecation_date"
SUNSET_PARAM = "integration_suite.legacy_sunset_date"
MIGRATION_URL_PARAM = "integration_suite.legacy_migration_url"
DEFAULT_MIGRATION_URL = (
    "https://www.odoo.com/documentation/19.0/developer/reference/external_api.html"
    "#migrating-from-xml-rpc-json-rpc")
# the latest call's arguments are kept up to this size (JSON) to build the JSON/2 example from
MAX_SAMPLE_BYTES = 16 * 1024
PLACEHOLDER = "..."
DOORS = [("/xmlrpc", "/xmlrpc"), ("/xmlrpc/2", "/xmlrpc/2"), ("/jsonrpc", "/jsonrpc")]


def _parse_date(value):
    try:
        return date.fromisoformat((value or "").strip()[:10])
    except ValueError:
        return None


def _http_date(day):
    """RFC 9110 IMF-fixdate of midnight UTC of ``day``."""
    return datetime.combine(day, time(), tzinfo=timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


@series.sql_constraints
class IntegrationLegacyClient(models.Model):
    """One legacy API client and call shape: who still calls ``/xmlrpc``, ``/xmlrpc/2`` or ``/jsonrpc``.

    A row is a user, how they authenticate, from where, with which User-Agent, over which door,
    calling which service, model and method with which arguments (number of positional ones and
    names of keyword ones). Counts are aggregated in memory by each process and added here in
    batches (``controllers/traffic.py``); the latest call's arguments are kept to show its JSON/2
    equivalent.
    """

    _name = "integration.legacy.client"
    _description = "Legacy API client"
    _order = "last_seen desc, id desc"

    client_key = fields.Char(required=True, readonly=True, index="btree", copy=False)
    user_id = fields.Many2one("res.users", readonly=True, ondelete="cascade", index=True)
    auth_kind = fields.Selection(
        [("password", "Password"), ("apikey", "API key")], string="Authentication", readonly=True,
        help="Password: JSON/2 accepts only API keys, this client must get one before it migrates.")
    api_key_id = fields.Many2one("res.users.apikeys", string="API Key", readonly=True, ondelete="set null")
    remote_addr = fields.Char(string="Source Address", readonly=True)
    user_agent = fields.Char(string="User-Agent", readonly=True)
    door = fields.Selection(DOORS, string="Endpoint", readonly=True)
    service = fields.Char(readonly=True, help="common, object or db")
    rpc_method = fields.Char(string="RPC Method", readonly=True, help="execute_kw, execute, login, ...")
    model_name = fields.Char(string="Model", readonly=True)
    method = fields.Char(readonly=True)
    positional = fields.Integer(string="Positional Arguments", readonly=True, aggregator=None)
    keywords = fields.Char(string="Keyword Arguments", readonly=True)
    first_seen = fields.Datetime(readonly=True, aggregator="min")
    last_seen = fields.Datetime(readonly=True, aggregator="max")
    call_count = fields.Integer(string="Calls", readonly=True)
    error_count = fields.Integer(string="Errors", readonly=True)
    refused_count = fields.Integer(string="Refused", readonly=True,
                                   help="Calls refused because the user's legacy API access is retired.")
    sample_args = fields.Text(string="Latest Arguments", readonly=True,
                              help="The latest call's arguments (JSON), empty when longer than 16 KB.")
    password_auth = fields.Boolean(compute="_compute_password_auth", search="_search_password_auth",
                                   string="Password Authenticated")
    refused_from = fields.Date(
        compute="_compute_refused_from",
        help="From this day this client's legacy calls are refused (its user or its API key is retired); "
             "JSON/2 keeps working.")
    json2_path = fields.Char(string="JSON/2 Endpoint", compute="_compute_json2")
    json2_body = fields.Text(string="JSON/2 Body", compute="_compute_json2")
    json2_curl = fields.Text(string="curl", compute="_compute_json2")
    json2_python = fields.Text(string="Python (requests)", compute="_compute_json2")
    json2_note = fields.Text(string="Migration Notes", compute="_compute_json2")

    _sql_constraints = [("client_key_unique", "UNIQUE(client_key)", "A client and call shape is recorded once.")]

    @api.depends("auth_kind")
    def _compute_password_auth(self):
        for client in self:
            client.password_auth = client.auth_kind == "password"

    def _search_password_auth(self, operator, value):
        if operator not in ("=", "!="):
            return NotImplemented
        return [("auth_kind", "=" if (operator == "=") == bool(value) else "!=", "password")]

    def _compute_refused_from(self):
        refusals = self.env["integration.legacy.retirement"]._refusals()
        for client in self:
            client.refused_from = refused_from(refusals, client.user_id.id, client.api_key_id.id) or False

    @api.depends("model_name", "method", "user_id")
    def _compute_display_name(self):
        for client in self:
            call = ".".join(filter(None, [client.model_name, client.method])) or client.rpc_method or ""
            client.display_name = f"{client.user_id.login or '?'} · {client.service or ''} {call}".strip()

    # ------------------------------------------------------------------
    # The JSON/2 equivalent of the observed call
    # ------------------------------------------------------------------
    def _json2_call(self):
        """``(path, body, notes)``: the observed ``execute_kw`` as a JSON/2 call, or ``(False, None, notes)``.

        Positional arguments take the names of the method's parameters in signature order, the
        mapping ``/doc-bearer`` publishes (``dispatch.method_description``); for a method that is
        not ``@api.model`` the first one is the record ids. ``context`` stays the call's context
        (both doors replace the user's context with it).
        """
        self.ensure_one()
        notes = []
        if self.service != "object" or self.rpc_method not in ("execute", "execute_kw"):
            notes.append(_("%(service)s.%(method)s has no JSON/2 equivalent: JSON/2 authenticates every call with an "
                           "API key (check it with POST /json/2/res.users/context_get).",
                           service=self.service, method=self.rpc_method))
            return False, None, notes
        if self.model_name not in self.env:
            return False, None, [_("The model %s does not exist (any more).", self.model_name)]
        model = self.env[self.model_name]
        try:
            description = dispatch.method_description(model, self.method)
        except (AccessError, NotFound) as exc:
            return False, None, [str(exc)]
        if self.sample_args:
            sample = json.loads(self.sample_args)
            args, kwargs = list(sample.get("args") or []), dict(sample.get("kwargs") or {})
        else:
            notes.append(_("The latest arguments were too large to keep: fill in the values."))
            args = [PLACEHOLDER] * self.positional
            kwargs = dict.fromkeys(filter(None, (self.keywords or "").split(",")), PLACEHOLDER)
        body = {}
        if "model" not in description["api"]:
            body["ids"] = args.pop(0) if args else []
        names = list(description["parameters"])
        if len(args) > len(names):
            notes.append(_("The call passes %(given)s positional arguments but %(model)s.%(method)s names only "
                           "%(named)s: the extra ones are left out.", given=len(args), model=self.model_name,
                           method=self.method, named=len(names)))
        body.update(zip(names, args, strict=False))  # extra positional ones are reported above
        if self.method == "create" and isinstance(body.get("vals_list"), dict):
            body["vals_list"] = [body["vals_list"]]
            notes.append(_("create answers a list of ids over JSON/2 (one id over XML-RPC / JSON-RPC)."))
        context = kwargs.pop("context", None)
        body.update(kwargs)
        if context:
            body["context"] = context
        else:
            notes.append(_("No context was sent: JSON/2 runs with an empty context too (no lang, tz or company); "
                           "add \"context\": {\"lang\": ...} where the answer depends on it."))
        if self.auth_kind == "password":
            notes.append(_("This client authenticates with a password: JSON/2 accepts only API keys. Create a key "
                           "for %s (Preferences › Account Security › New API Key).", self.user_id.login))
        return f"/json/2/{self.model_name}/{self.method}", body, notes

    @api.depends("service", "rpc_method", "model_name", "method", "sample_args", "auth_kind")
    def _compute_json2(self):
        base_url = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "http://localhost:8069")
        for client in self:
            path, body, notes = client._json2_call()
            client.json2_note = "\n".join(notes) or False
            if not path:
                client.json2_path = client.json2_body = client.json2_curl = client.json2_python = False
                continue
            client.json2_path = path
            client.json2_body = json.dumps(body, indent=2, ensure_ascii=False)
            client.json2_curl = client._curl_snippet(base_url + path, body)
            client.json2_python = client._python_snippet(base_url + path, body)

    def _key_hint(self):
        login = self.user_id.login or "the integration user"
        return f"an API key of {login} (Preferences > Account Security > New API Key)"

    def _curl_snippet(self, url, body):
        return "\n".join([
            f"# ODOO_API_KEY: {self._key_hint()}",
            " \\\n  ".join([
                f"curl -sS -X POST {shlex.quote(url)}",
                '-H "Authorization: bearer $ODOO_API_KEY"',
                "-H 'Content-Type: application/json'",
                f"-H {shlex.quote('X-Odoo-Database: ' + self.env.cr.dbname)}",
                f"--data-binary {shlex.quote(json.dumps(body, ensure_ascii=False))}",
            ]),
        ])

    def _python_snippet(self, url, body):
        literal = pprint.pformat(body, indent=1, width=96, sort_dicts=False).replace("\n", "\n    ")
        return "\n".join([
            "import os",
            "",
            "import requests",
            "",
            f"# ODOO_API_KEY: {self._key_hint()}",
            "response = requests.post(",
            f"    {url!r},",
            "    headers={",
            '        "Authorization": f"bearer {os.environ[\'ODOO_API_KEY\']}",',
            f'        "X-Odoo-Database": {self.env.cr.dbname!r},',
            "    },",
            f"    json={literal},",
            "    timeout=60,",
            ")",
            "response.raise_for_status()  # errors answer 4xx/5xx with {name, message, arguments, context, debug}",
            "result = response.json()",
        ])

    # ------------------------------------------------------------------
    # What every legacy call reads (cached per process until a parameter or a user changes)
    # ------------------------------------------------------------------
    @api.model
    @tools.ormcache()
    def _legacy_settings(self):
        """``(deprecation day or None, response headers, migration url, {uid: {key id or None: from}})``."""
        params = self.env["ir.config_parameter"].sudo()
        url = params.get_param(MIGRATION_URL_PARAM) or DEFAULT_MIGRATION_URL
        headers = [("Link", f'<{url}>; rel="deprecation"; type="text/html"')]
        sunset = _parse_date(params.get_param(SUNSET_PARAM))
        if sunset:
            headers.append(("Sunset", _http_date(sunset)))
        deprecation = _parse_date(params.get_param(DEPRECATION_DATE_PARAM))
        return deprecation, tuple(headers), url, self.env["integration.legacy.retirement"]._refusals()

    @api.model
    def _legacy_headers(self):
        """RFC 9745 ``Deprecation``, RFC 8594 ``Sunset`` (when configured) and the migration ``Link``."""
        deprecation, headers, _url, _refused = self._legacy_settings()
        day = deprecation or datetime.now(timezone.utc).date()
        epoch = int(datetime.combine(day, time(), tzinfo=timezone.utc).timestamp())
        return [("Deprecation", f"@{epoch}"), *headers]

    # ------------------------------------------------------------------
    # Authentication kind of a credential
    # ------------------------------------------------------------------
    @api.model
    def _auth_kind(self, uid, secret, remember=True):
        """``(kind, key id)`` of a credential that passed ``res.users.check``: found once per process.

        ``res.users.check`` caches a verified (uid, secret) pair without saying how it was verified;
        an API key of the user is the only other thing it accepts than the password. Without
        ``remember`` (a credential not checked yet), nothing is kept.
        """
        digest = credential_digest(self.env.cr.dbname, uid, secret)
        known = auth_kinds.get(digest)
        if known is None:
            keys = self.env["res.users.apikeys"]
            is_key = keys._check_credentials_cached(scope="rpc", key=secret) == uid
            known = ("apikey", keys._verified_key_id(uid, "rpc", secret)) if is_key else ("password", None)
            if remember:
                auth_kinds.remember(digest, *known)
        return known

    # ------------------------------------------------------------------
    # Batches from the per-process aggregation
    # ------------------------------------------------------------------
    @api.model
    def _client_key(self, fields_):
        return hashlib.sha256(repr(fields_).encode()).hexdigest()

    @api.model
    def _write_batch(self, clients):
        """Add ``{client fields: [first, last, calls, errors, refused, sample JSON]}`` in one statement."""
        if not clients:
            return
        uids = {key[0] for key in clients if key[0]}
        key_ids = {key[2] for key in clients if key[2]}
        self.env.cr.execute("SELECT id FROM res_users WHERE id IN %s", [tuple(uids) or (0,)])
        uids = {row[0] for row in self.env.cr.fetchall()}
        self.env.cr.execute("SELECT id FROM res_users_apikeys WHERE id IN %s", [tuple(key_ids) or (0,)])
        key_ids = {row[0] for row in self.env.cr.fetchall()}
        rows = []
        for key, (first, last, calls, errors, refused, sample) in clients.items():
            uid, kind, key_id, addr, agent, door, service, rpc_method, model_name, method, positional, keywords = key
            if uid not in uids:
                continue  # the user was deleted meanwhile
            rows.append((self._client_key(key), uid, kind, key_id if key_id in key_ids else None, addr, agent,
                         door, service, rpc_method, model_name, method, positional, keywords, first, last, calls,
                         errors, refused, sample))
        if not rows:
            return
        rows.sort()  # every process locks rows in the same order
        values = SQL(", ").join(
            SQL("(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::timestamp, %s::timestamp, %s, %s, %s, %s,"
                " %s, now() at time zone 'UTC', %s, now() at time zone 'UTC')", *row, self.env.uid, self.env.uid)
            for row in rows)
        self.env.cr.execute(SQL("""
            INSERT INTO integration_legacy_client AS c
                   (client_key, user_id, auth_kind, api_key_id, remote_addr, user_agent, door, service, rpc_method,
                    model_name, method, positional, keywords, first_seen, last_seen, call_count, error_count,
                    refused_count, sample_args, create_uid, create_date, write_uid, write_date)
            VALUES %s
            ON CONFLICT (client_key) DO UPDATE SET
                first_seen = LEAST(c.first_seen, EXCLUDED.first_seen),
                last_seen = GREATEST(c.last_seen, EXCLUDED.last_seen),
                call_count = c.call_count + EXCLUDED.call_count,
                error_count = c.error_count + EXCLUDED.error_count,
                refused_count = c.refused_count + EXCLUDED.refused_count,
                sample_args = CASE WHEN EXCLUDED.last_seen >= c.last_seen THEN EXCLUDED.sample_args
                                   ELSE c.sample_args END,
                write_date = EXCLUDED.write_date""", values))
        self.invalidate_model()

    @api.model
    def _write_traffic(self, usage, clients):
        """Write one batch of the per-process aggregation (daily usage and legacy clients)."""
        self.env["integration.api.usage"]._write_batch(usage)
        self._write_batch(clients)

    @api.model
    def _flush_traffic(self):
        """Write this database's pending counts now, in the current transaction (tests, shell)."""
        usage, clients = traffic.take(self.env.cr.dbname)
        try:
            self._write_traffic(usage, clients)
        except Exception:
            traffic.put_back(self.env.cr.dbname, usage, clients)
            raise
        return True

    def action_retire_user(self):
        """Refuse the legacy API to these clients' users (password and every key) from today on."""
        return self.env["integration.legacy.retirement"]._retire({(client.user_id, None) for client in self})

    def action_retire_key(self):
        """Refuse the legacy API to these clients' API keys from today on (their users' other credentials keep it)."""
        return self.env["integration.legacy.retirement"]._retire(
            {(client.user_id, client.api_key_id) for client in self if client.api_key_id})


def refused_from(refusals, uid, key_id=None):
    """The day from which ``uid`` (with the API key ``key_id``, if any) is refused the legacy API."""
    per_user = refusals.get(uid)
    if not per_user:
        return None
    days = [day for key, day in per_user.items() if key is None or key == key_id]
    return min(days) if days else None


def refusal_error(env, model_name, method, url):
    """The error a retired user's legacy call gets: an AccessDenied naming the JSON/2 endpoint."""
    path = f"/json/2/{model_name}/{method}" if model_name and method else "/json/2/<model>/<method>"
    base_url = env["ir.config_parameter"].sudo().get_param("web.base.url", "")
    return AccessDenied(env._(
        "The legacy XML-RPC / JSON-RPC API is retired for this user: call POST %(url)s with an API key "
        "(Authorization: bearer <key>) and named arguments instead. Migration guide: %(guide)s",
        url=base_url + path, guide=url))
