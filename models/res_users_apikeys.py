import hashlib
import re

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError
from odoo.tools import SQL

from odoo.addons.base.models.res_users import INDEX_SIZE, KEY_CRYPT_CONTEXT

from .. import series
from ..dispatch.restrictions import build_policy
from .integration_api_usage import DOORS

# what a bearer token can look like: visible ASCII, bounded (18.0 keys are 40 hex digits)
KEY_SHAPE = re.compile(r"[\x21-\x7e]{1,512}\Z")
UNUSED_DAYS_PARAM = "integration_suite.apikey_unused_days"
DEFAULT_UNUSED_DAYS = 90
USAGE_DAYS = 30


class ResUsersApikeys(models.Model):
    _inherit = "res.users.apikeys"

    # copied from the key's integration.apikey.policy on every change of it: the key-validity query
    # of each call reads them in the row it reads anyway (no join: a key without restrictions costs
    # nothing more), and a read-only key's transaction turns read-only in that same query
    integration_revision = fields.Integer(readonly=True, string="Restrictions Revision")
    integration_read_only = fields.Boolean(readonly=True, string="Read-only Key")
    integration_policy_id = fields.Many2one("integration.apikey.policy", string="Restrictions Record",
                                            compute="_compute_integration_policy")
    integration_restrictions = fields.Char(string="Restrictions", compute="_compute_integration_policy",
                                           help="Empty: the key may do whatever its user may do.")
    integration_last_used = fields.Datetime(string="Last Used", compute="_compute_integration_usage",
                                            search="_search_integration_last_used")
    integration_last_address = fields.Char(string="Last Used From", compute="_compute_integration_usage")
    integration_usage = fields.Char(string=f"Calls ({USAGE_DAYS} days)", compute="_compute_integration_usage",
                                    help=f"Calls of the last {USAGE_DAYS} days per door (written in batches: a "
                                         "call shows within a minute).")
    integration_unused = fields.Boolean(string="Unused", compute="_compute_integration_usage",
                                        search="_search_integration_unused")

    def init(self):
        # 18.0 creates the table itself (_auto = False): the ORM adds no column to it. Models built on
        # this one (auth_totp's trusted devices) inherit the fields: their table gets the columns too.
        result = super().init()
        self.env.cr.execute(SQL("ALTER TABLE %s ADD COLUMN IF NOT EXISTS integration_revision integer, "
                                "ADD COLUMN IF NOT EXISTS integration_read_only boolean",
                                SQL.identifier(self._table)))
        return result

    def _integration_is_key(self):
        """Whether these are API keys, not records of a model built on them (auth_totp's devices)."""
        return self._name == "res.users.apikeys"

    # ------------------------------------------------------------------
    # Authentication (every door)
    # ------------------------------------------------------------------
    @tools.ormcache()
    def _verified_key_cache(self):
        """Per-process ``{digest: (uid, key id)}`` of keys whose pbkdf2 hash was verified.

        It only saves the pbkdf2 cost: whether the key is still valid is asked of the
        database on every call (see ``_authenticate_key``).
        """
        return {}

    def _check_credentials_cached(self, *, scope, key):
        """``_check_credentials`` that pays pbkdf2 once per key and process: the key's user id."""
        found = self._authenticate_key(scope=scope, key=key)
        return found and found[0]

    def _authenticate_key(self, *, scope, key, read_only_here=False):
        """``(uid, key id, restriction revision or 0)`` of a valid key, else ``None``.

        The cache is keyed by a SHA-256 digest of scope and key, never the key itself. On a hit,
        one primary-key query confirms the key's row, its user's ``active`` flag and its expiry,
        and reads the revision of its restrictions: a key removed, a user archived or a
        restriction changed (by any server) is seen at once by every worker. A malformed token
        is refused without a query. ``read_only_here``: a read-only key turns the current
        transaction read-only (in the same query).
        """
        if not isinstance(key, str) or not KEY_SHAPE.match(key):
            return None
        digest = hashlib.sha256(f"{scope}\x00{key}".encode()).digest()
        cache = self._verified_key_cache()
        hit = cache.get(digest)
        if hit:
            revision = self._key_revision(hit[1], scope, read_only_here)
            if revision is not None:
                return (*hit, revision)
            cache.pop(digest, None)
            return None
        uid = self._check_credentials(scope=scope, key=key)
        key_id = uid and self._verified_key_id(uid, scope, key)
        if not key_id:
            return None
        cache[digest] = (uid, key_id)
        return uid, key_id, self._key_revision(key_id, scope, read_only_here) or 0

    def _key_revision(self, key_id, scope, read_only_here=False):
        """``None`` when the key is no longer valid, else its restriction revision (0: unrestricted).

        With ``read_only_here``, a read-only key's query also makes the transaction read-only
        (``set_config``: allowed after reads, and undone by a rollback to a savepoint).
        """
        cr = self.env.cr
        cr.execute(
            f"""SELECT COALESCE(k.integration_revision, 0),
                       CASE WHEN %s AND k.integration_read_only
                            THEN set_config('transaction_read_only', 'on', true) END
                  FROM {self._table} k JOIN res_users u ON u.id = k.user_id
                 WHERE k.id = %s AND u.active AND (k.scope IS NULL OR k.scope = %s)
                   AND (k.expiration_date IS NULL OR k.expiration_date >= now() AT TIME ZONE 'utc')""",
            [read_only_here, key_id, scope],
        )
        row = cr.fetchone()
        if row is None:
            return None
        if row[1] is not None and series.is_test_cursor(cr):
            cr.readonly = True  # its savepoint is rolled back, not released, as 18.0's read-only test cursors
        return row[0]

    @api.model
    @tools.ormcache("key_id")
    def _legacy_key_revision(self, key_id):
        """The restriction revision of a key for the legacy doors, whose credentials 18.0 itself
        caches per process: cleared with Odoo's caches on every change of the restrictions."""
        self.env.cr.execute("SELECT COALESCE(integration_revision, 0) FROM res_users_apikeys WHERE id = %s", [key_id])
        row = self.env.cr.fetchone()
        return row[0] if row else 0

    def _verified_key_id(self, uid, scope, key):
        """The id of the row ``key`` matched (pbkdf2 again only when two keys share an index)."""
        self.env.cr.execute(
            f"SELECT id, key FROM {self._table} WHERE index = %s AND user_id = %s AND (scope IS NULL OR scope = %s)",
            [key[:INDEX_SIZE], uid, scope],
        )
        rows = self.env.cr.fetchall()
        if len(rows) == 1:
            return rows[0][0]
        return next((key_id for key_id, hashed in rows if KEY_CRYPT_CONTEXT.verify(key, hashed)), None)

    @api.model
    @tools.ormcache("key_id", "revision")
    def _integration_policy(self, key_id, revision):
        """The ``KeyPolicy`` of a key at ``revision`` (0: ``None``, unrestricted); never stale: the
        revision comes from the key-validity query of the call."""
        if not revision:
            return None
        cr = self.env.cr
        cr.execute("""SELECT p.id, k.name, p.read_only, p.allowed_addresses, p.rate_limit
                        FROM integration_apikey_policy p JOIN res_users_apikeys k ON k.id = p.key_id
                       WHERE p.key_id = %s""", [key_id])
        row = cr.fetchone()
        if not row:
            return None
        policy_id, name, read_only, addresses, rate_limit = row
        cr.execute("""SELECT model_name, perm_read, perm_write, perm_create, perm_unlink, extra_methods
                        FROM integration_apikey_policy_model WHERE policy_id = %s""", [policy_id])
        names = ("read", "write", "create", "unlink")
        lines = [(model_name, {p for p, on in zip(names, perms, strict=True) if on}, methods)
                 for model_name, *perms, methods in cr.fetchall()]
        return build_policy(key_id, name, read_only, addresses, rate_limit, lines)

    # ------------------------------------------------------------------
    # What the key lists show
    # ------------------------------------------------------------------
    def _compute_integration_policy(self):
        if not self._integration_is_key():
            self.integration_policy_id = self.integration_restrictions = False
            return
        policies = self.env["integration.apikey.policy"].sudo().search([("key_id", "in", self.ids)])
        by_key = {policy.key_id.id: policy for policy in policies}
        for key in self:
            policy = by_key.get(key.id)
            key.integration_policy_id = policy
            key.integration_restrictions = policy.summary if policy and policy.restricted else False

    def _compute_integration_usage(self):
        if not self._integration_is_key():
            self.update({"integration_last_used": False, "integration_last_address": False,
                         "integration_usage": False, "integration_unused": False})
            return
        usage = self.env["integration.api.usage"].sudo()
        since = fields.Date.subtract(fields.Date.context_today(self), days=USAGE_DAYS - 1)
        labels = dict(DOORS)
        per_key = {}
        for key_id, door, calls in usage._read_group(
                [("api_key_id", "in", self.ids), ("day", ">=", since)], ["api_key_id", "door"], ["call_count:sum"]):
            per_key.setdefault(key_id, []).append(f"{labels[door]} {calls}")
        last = usage._key_last_use(self.ids)
        unused_before = self._unused_before()
        for key in self:
            key.integration_usage = " · ".join(sorted(per_key.get(key.id, []))) or False
            key.integration_last_used, key.integration_last_address = last.get(key.id, (False, False))
            key.integration_unused = (key.integration_last_used or key.create_date or unused_before) < unused_before

    def _unused_before(self):
        days = self.env["ir.config_parameter"].sudo().get_param(UNUSED_DAYS_PARAM, DEFAULT_UNUSED_DAYS)
        try:
            days = max(int(days), 1)
        except ValueError:
            days = DEFAULT_UNUSED_DAYS
        return fields.Datetime.subtract(fields.Datetime.now(), days=days)

    def _keys_used_since(self, moment):
        self.env.cr.execute("SELECT DISTINCT api_key_id FROM integration_api_usage "
                            "WHERE api_key_id IS NOT NULL AND last_call_at >= %s", [moment])
        return [row[0] for row in self.env.cr.fetchall()]

    def _search_integration_unused(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise NotImplementedError(_("Search “Unused” with = or != and a boolean."))
        moment = self._unused_before()
        unused = ["&", ("id", "not in", self._keys_used_since(moment)), ("create_date", "<", moment)]
        return unused if (operator == "=") == value else ["!", *unused]

    def _search_integration_last_used(self, operator, value):
        if operator not in (">=", ">") or not value:
            raise NotImplementedError(_("Search “Last Used” with >= or > and a date."))
        return [("id", "in", self._keys_used_since(fields.Datetime.to_datetime(value)))]

    def action_integration_restrictions(self):
        """Open the key's restrictions (administrators edit them; the owner reads them)."""
        if not self._integration_is_key():
            raise AccessError(_("Only API keys have restrictions."))
        self.ensure_one()
        self.check_access("read")
        policy = self.integration_policy_id
        if not policy:
            if not self.env.is_system():
                raise AccessError(_("This API key has no restrictions: only administrators can add some."))
            policy = self.env["integration.apikey.policy"].create({"key_id": self.id})
        return {
            "type": "ir.actions.act_window",
            "name": _("Restrictions of the API key “%s”", self.name),
            "res_model": "integration.apikey.policy",
            "res_id": policy.id,
            "views": [(False, "form")],
            "target": "new" if self.env.context.get("integration_dialog") else "current",
        }
