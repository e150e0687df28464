"""Safe incoming webhooks on the native "On webhook" automation rule.

18.0 trusts anyone who knows the URL, runs actions as sudo, ignores the
trigger, loses form bodies, re-runs duplicates and commits partial writes
when an action fails. Each rule can now authenticate its sender, validate
and deduplicate its payload, cap and rate-limit calls, run asynchronously,
and always runs its actions all-or-nothing inside a savepoint.
"""
import itertools
import json
import logging
import re
import time
import traceback
from dataclasses import dataclass, field

import jsonschema
import psycopg2.errors
from werkzeug.datastructures import Headers
from werkzeug.exceptions import BadRequest

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.http import request
from odoo.tools import SQL, safe_eval

from odoo.addons.base.models.res_users import check_identity

from .. import series
from ..dispatch import check_secret_access, dumps, error_status, restrictions
from ..patches.request_body import read_capped_body
from ..tools import trace_context, webhook_payload
from ..tools.webhook_delivery import new_secret
from ..tools.webhook_signatures import (
    HMAC_PRESETS,
    SignatureError,
    redact_headers,
    verify_hmac,
    verify_standard_webhooks,
    verify_stripe,
)
from .ir_http import BEARER

_logger = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 1024 * 1024
# what a call reads of its rule besides its own webhook_* columns (18.0's _execute_webhook, the
# metrics): kept per worker with them (_webhook_rules); any other field is read when first used
CALL_FIELDS = ("name", "active", "trigger", "model_id", "record_getter", "log_webhook_calls")
_LOG_COLUMNS = {}  # the column list of the call log's INSERT, per shape of row (see _webhook_log)
# 18.0 makes webhook uuids with uuid4(); a looser shape keeps hand-set ones working
WEBHOOK_UUID = re.compile(r"[0-9A-Za-z_-]{1,128}\Z")
FORM_MIMETYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# PostgreSQL errors a later attempt may not hit: the framework (sync) or the worker (async) retries
TRANSIENT_ERRORS = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.LockNotAvailable,
    psycopg2.errors.DeadlockDetected,
)


class WebhookRejected(Exception):
    """The call is refused before any action runs; becomes ``status`` + ``{"status": "error", ...}``."""

    def __init__(self, status, reason, headers=(), **extra):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = list(headers)
        self.extra = extra


@dataclass
class WebhookCall:
    """What the controller read from the HTTP request, so the rule logic needs no ``request``."""

    request_id: str
    method: str = "POST"
    headers: Headers = field(default_factory=Headers)  # case-insensitive, as HTTP headers are
    body: bytes = b""
    mimetype: str = ""
    args: dict = field(default_factory=dict)
    form: dict = field(default_factory=dict)
    remote_addr: str = ""
    too_large: bool = False
    started: float = field(default_factory=time.monotonic)
    rate_headers: list = field(default_factory=list)  # a rate-limited API key's RateLimit headers


@series.sql_constraints
class BaseAutomation(models.Model):
    _name = "base.automation"
    # the chatter records who added or revealed a signing secret (19.0's rules have one already)
    _inherit = ["base.automation"] if series.V19 else ["base.automation", "mail.thread"]

    # every /web/hook call looks its rule up by this
    webhook_uuid = fields.Char(index=True)

    webhook_auth_mode = fields.Selection(
        [
            ("url", "Secret URL only"),
            ("standard_webhooks", "Standard Webhooks signature"),
            ("hmac", "HMAC signature of the body"),
            ("api_key", "API key (bearer)"),
        ],
        string="Sender Authentication", default="url", required=True,
        help="Secret URL only: anyone who knows the URL may call (18.0 behaviour).\n"
             "Standard Webhooks: webhook-id/-timestamp/-signature headers, whsec_ secret, ±5 min.\n"
             "HMAC: a header holding the HMAC-SHA of the raw body (GitHub, Shopify, Stripe, custom).\n"
             "API key: 'Authorization: bearer <key>'; the actions run as the key's user with its rights.")
    webhook_secret = fields.Char(
        string="Signing Secret", groups="base.group_system", copy=False,
        help="One secret per line; every line is accepted, so a new secret can be added before the "
             "sender switches to it. Standard Webhooks secrets look like whsec_<base64>.")
    webhook_hmac_preset = fields.Selection(
        [("github", "GitHub"), ("shopify", "Shopify"), ("stripe", "Stripe"), ("custom", "Custom")],
        string="HMAC Preset", default="github")
    webhook_hmac_header = fields.Char(
        string="Signature Header", default="X-Signature", help="The request header that carries the signature.")
    webhook_hmac_encoding = fields.Selection(
        [("hex", "Hexadecimal"), ("base64", "Base64")], string="Signature Encoding", default="hex",
        help="How the sender writes the HMAC digest in the header.")
    webhook_hmac_prefix = fields.Char(string="Signature Prefix", help="E.g. 'sha256=' (GitHub).")
    webhook_hmac_algorithm = fields.Selection(
        [("sha256", "SHA-256"), ("sha512", "SHA-512"), ("sha1", "SHA-1")],
        string="HMAC Algorithm", default="sha256", help="Hash function of the HMAC.")
    webhook_payload_schema = fields.Text(
        string="Payload JSON Schema",
        help="JSON Schema (draft 2020-12). A payload that does not match answers 422 and runs nothing.")
    webhook_dedupe_source = fields.Selection(
        [
            ("none", "No deduplication"),
            ("webhook_id", "webhook-id header"),
            ("idempotency_key", "Idempotency-Key header"),
            ("json_pointer", "JSON pointer into the payload"),
        ],
        string="Deduplicate On", default="none", required=True,
        help="A repeat of the same key within the retention answers 200 with \"duplicate\": true "
             "and runs nothing.")
    webhook_dedupe_pointer = fields.Char(string="Dedupe JSON Pointer", help="E.g. /event/id")
    webhook_dedupe_retention_days = fields.Integer(
        string="Dedupe Retention (days)", default=7, help="How long a key is remembered.")
    webhook_max_body_size = fields.Integer(
        string="Max Body Size (bytes)", default=DEFAULT_MAX_BODY, help="Larger bodies answer 413.")
    webhook_log_payload_size = fields.Integer(
        string="Logged Payload Cap (bytes)", default=64 * 1024,
        help="The call log keeps at most this much of each payload.")
    webhook_rate_limit = fields.Integer(
        string="Rate Limit (calls)", default=0, help="0 = unlimited. Beyond it the answer is 429.")
    webhook_rate_limit_period = fields.Integer(
        string="Rate Limit Period (seconds)", default=60, help="Sliding window the rate limit counts calls in.")
    webhook_async = fields.Boolean(
        string="Run Asynchronously",
        help="Answer 202 once the payload is stored; the integration worker runs the actions.")
    webhook_call_count = fields.Integer(compute="_compute_webhook_call_count", string="Calls")
    webhook_sample_payload = fields.Text(
        string="Sample Payload", compute="_compute_webhook_examples",
        help="Built from the payload schema when there is one, else for 18.0's default target record "
             "getter (_model and _id of an existing record).")
    webhook_curl_example = fields.Text(
        string="Signed curl Example", compute="_compute_webhook_examples",
        help="A shell command that calls this rule the way its authentication mode expects. "
             "Secrets are placeholders: paste yours in place of the '...' values.")

    _sql_constraints = [
        ("webhook_max_body_size_positive", "CHECK(webhook_max_body_size > 0)",
         "The maximum body size must be positive."),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        rules = super().create(vals_list)
        if "on_webhook" in rules.mapped("trigger"):
            self._webhook_rules_changed()
        return rules

    def write(self, vals):
        was_webhook = "on_webhook" in self.mapped("trigger")
        res = super().write(vals)
        if was_webhook or "on_webhook" in self.mapped("trigger"):
            self._webhook_rules_changed()
        return res

    def unlink(self):
        if "on_webhook" in self.mapped("trigger"):
            self._webhook_rules_changed()
        return super().unlink()

    def _webhook_rules_changed(self):
        """Drop every worker's copy of the incoming rules (``_webhook_rules``): the next call sees
        the change, even in this transaction, where the ``write_date`` calls check it against
        does not move."""
        self.env.registry.clear_cache()

    @api.depends(*(["model_id"] if series.V19 else ["trigger_field_ids"]))  # core's own dependency
    def _compute_trigger(self):
        """18.0 clears the trigger whenever the trigger fields come out empty, as they always do
        for "On webhook" (it watches no field), and 19.0 whenever the model changes: picking the
        model of a new incoming rule wiped the trigger its menu had set."""
        webhook = self.filtered(lambda rule: rule.trigger == "on_webhook")
        for rule in webhook:
            rule.trigger = "on_webhook"
        return super(BaseAutomation, self - webhook)._compute_trigger()

    def _compute_webhook_call_count(self):
        counts = dict(self.env["integration.webhook.call"]._read_group(
            [("rule_id", "in", self.ids)], ["rule_id"], ["__count"]))
        for rule in self:
            rule.webhook_call_count = counts.get(rule, 0)

    @api.depends("trigger", "url", "model_id", "webhook_auth_mode", "webhook_hmac_preset", "webhook_hmac_header",
                 "webhook_hmac_encoding", "webhook_hmac_prefix", "webhook_hmac_algorithm",
                 "webhook_payload_schema", "webhook_dedupe_source", "webhook_dedupe_pointer")
    def _compute_webhook_examples(self):
        for rule in self:
            if rule.trigger != "on_webhook":
                rule.webhook_sample_payload = rule.webhook_curl_example = False
                continue
            payload = rule._webhook_sample_payload()
            rule.webhook_sample_payload = json.dumps(payload, indent=2)
            rule.webhook_curl_example = rule._webhook_curl_example(json.dumps(payload))

    def _webhook_sample_payload(self):
        try:
            schema = json.loads(self.webhook_payload_schema or "null")
        except ValueError:
            schema = None  # the constraint reports it on save
        if schema:
            return webhook_payload.schema_example(schema)
        record = self.env[self.model_name].search([], limit=1) if self.model_name in self.env else None
        return {"_model": self.model_name or "res.partner", "_id": record.id if record else 1}

    def _webhook_curl_example(self, body):
        """Shell lines that sign ``body`` as this rule checks it; secrets stay placeholders."""
        mode = self.webhook_auth_mode
        if mode == "hmac" and self.webhook_hmac_preset == "stripe":
            mode = "stripe"
        return webhook_payload.curl_example(
            self.url or "", body, mode, self._webhook_hmac_settings() if mode == "hmac" else None,
            self.webhook_dedupe_source)

    def action_new_webhook_secret(self):
        """Add a fresh whsec_ secret on the first line and show it once; older lines keep working."""
        check_secret_access(self)
        self.ensure_one()
        secret = new_secret()
        rule = self.sudo()
        rule.webhook_secret = "\n".join(filter(None, [secret, rule.webhook_secret]))
        self.message_post(body=_("New signing secret added by %s; the older ones keep working.", self.env.user.name))
        return self._secret_notification(_("New signing secret of %s", self.name), secret)

    def action_reveal_webhook_secret(self):
        """Show the rule's signing secrets to an administrator who confirms their password (Odoo's
        identity check); the rights are checked before the check is even offered."""
        check_secret_access(self)
        self.ensure_one()
        if not self.sudo().webhook_secret:
            raise UserError(_("This rule has no signing secret yet: press New secret, or paste the sender's."))
        return self._reveal_webhook_secret()

    @check_identity
    def _reveal_webhook_secret(self):
        check_secret_access(self)
        self.ensure_one()
        self.message_post(body=_("Signing secret revealed to %s after an identity check.", self.env.user.name))
        return self._secret_notification(_("Signing secrets of %s (one per line)", self.name),
                                         self.sudo().webhook_secret)

    def _secret_notification(self, title, secret):
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": title,
                "message": secret,
                "sticky": True,
                "type": "warning",
                # closing reloads the record (a soft reload restored the form as it was opened: blank
                # for a rule created there)
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    @api.constrains("webhook_payload_schema")
    def _check_webhook_payload_schema(self):
        for rule in self.filtered("webhook_payload_schema"):
            try:
                jsonschema.Draft202012Validator.check_schema(json.loads(rule.webhook_payload_schema))
            except (ValueError, jsonschema.SchemaError) as exc:
                raise ValidationError(_("The payload schema is not a valid JSON Schema: %s", exc)) from None

    @api.constrains("webhook_dedupe_source", "webhook_dedupe_pointer")
    def _check_webhook_dedupe_pointer(self):
        for rule in self:
            pointer = rule.webhook_dedupe_pointer or ""
            if rule.webhook_dedupe_source == "json_pointer" and not pointer.startswith("/"):
                raise ValidationError(_("The dedupe JSON pointer must start with '/', e.g. /event/id."))

    def action_view_webhook_calls(self):
        self.env["integration.webhook.call"].check_access("read")
        self.check_access("read")
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("integration_suite.action_integration_webhook_call")
        action["domain"] = [("rule_id", "=", self.id)]
        return action

    # ------------------------------------------------------------------
    # HTTP side: called by ir.http and the controller
    # ------------------------------------------------------------------
    @api.model
    def _webhook_buffer_body(self, rule_uuid):
        """Read the raw body before the form parser consumes it, never more than the rule allows.

        18.0's HTTP dispatcher parses form bodies before the controller runs,
        which leaves nothing to sign-check or to turn into a payload. Keeping
        the bytes lets both the HMAC check and the form parser use them.
        """
        rule = self.browse()
        if WEBHOOK_UUID.match(rule_uuid):  # anything else (a NUL, a megabyte of path) finds no rule
            rule = self.sudo()._webhook_rule(rule_uuid)  # the caller may be the Public user
        request.integration_webhook_rule_id = rule.id  # the controller needs no second lookup
        try:
            data = read_capped_body(request.httprequest, rule.webhook_max_body_size or DEFAULT_MAX_BODY if rule else 0)
        except BadRequest as exc:  # broken framing: the controller answers 400
            request.integration_webhook_malformed = exc.description
            return
        request.integration_webhook_too_large = data is None

    @api.model
    def _webhook_rule(self, rule_uuid):
        """The active "On webhook" rule with this uuid (or none), what a call reads of it in cache.

        Each worker keeps its rules' settings (``_webhook_rules``) and checks its copy against the
        rule's ``write_date`` in one indexed query, where 18.0 reads the rule's row twice: a change
        is seen by the next call, even one that no cache signal announces (``odoo shell``).
        """
        self.flush_model(["webhook_uuid", "trigger", "active", "write_date"])
        self.env.cr.execute(SQL(
            """SELECT id, write_date FROM base_automation
                WHERE webhook_uuid = %s AND trigger = 'on_webhook' AND active ORDER BY id LIMIT 1""", rule_uuid))
        row = self.env.cr.fetchone()
        if not row:
            return self.browse()
        kept = self._webhook_rules().get(rule_uuid)
        if kept is None or kept[:2] != row:
            self.env.registry.clear_cache()  # every worker reloads its copy
            kept = self._webhook_rules().get(rule_uuid)
        rule = self.browse(row[0])
        if kept and kept[:2] == row:
            for field, value in zip(self._webhook_call_fields(), kept[2], strict=True):
                series.cache_insert_missing(rule, field, (value,))
        return rule

    @tools.ormcache("self.env.lang")
    def _webhook_rules(self):
        """``{uuid: (id, write_date, values of _webhook_call_fields)}`` of every active "On webhook"
        rule (names in the caller's language)."""
        fields = self._webhook_call_fields()
        rules = self.sudo().search_fetch([("trigger", "=", "on_webhook"), ("webhook_uuid", "!=", False)],
                                         [field.name for field in fields] + ["write_date"], order="id")
        kept = {}
        for rule in rules:  # a uuid set by hand on two rules finds the first, as the check does
            kept.setdefault(rule.webhook_uuid, (
                rule.id, rule.write_date, tuple(self.env.cache.get(rule, field) for field in fields)))
        return kept

    @tools.ormcache()
    def _webhook_call_fields(self):
        """The fields a call reads of its rule: every stored ``webhook_*`` field and CALL_FIELDS."""
        return tuple(field for name, field in self._fields.items()
                     if field.store and (name.startswith("webhook_") or name in CALL_FIELDS))

    def _webhook_receive(self, call):
        """Handle one HTTP call end to end; return ``(status, body, extra_headers)``.

        The call is logged in the request's transaction, after the actions: when they fail, they
        are rolled back first (``_webhook_run_once``), so the log survives them.
        """
        self.ensure_one()
        log = {"state": "done"}
        status, body, extra_headers = 200, {"status": "ok"}, []
        payload = dedupe_key = user = None
        try:
            if call.too_large:
                raise WebhookRejected(413, "payload too large")
            self._webhook_check_rate_limit()
            user = self._webhook_authenticate(call)
            extra_headers.extend(call.rate_headers)
            payload = self._webhook_parse_payload(call)
            self._webhook_validate_payload(payload)
            dedupe_key = self._webhook_dedupe_key(call, payload)
            if self.webhook_async:
                if not self.env["integration.webhook.key"]._claim(self, dedupe_key):
                    log.update(state="duplicate")
                    body = {"status": "ok", "duplicate": True}
                else:
                    queued = self._webhook_log(call, 202, payload, user, dedupe_key, {"state": "queued"}, full=True)
                    self.env["integration.worker"]._trigger()
                    return 202, {"status": "accepted", "id": queued.id}, extra_headers
            else:
                outcome = self._webhook_run_once(payload, user, dedupe_key)
                if outcome == "duplicate":
                    log.update(state="duplicate")
                    body = {"status": "ok", "duplicate": True}
        except WebhookRejected as rejected:
            status = rejected.status
            extra = dict(rejected.extra)
            if status == 429:
                extra_headers.append(("Retry-After", str(extra.pop("retry_after"))))
            extra_headers.extend(rejected.headers)
            body = {"status": "error", "error": rejected.reason, **extra}
            log.update(state="rejected", error=rejected.reason)
            if status == 401 and self.webhook_auth_mode == "api_key":
                extra_headers.append(("WWW-Authenticate", 'Bearer realm="webhook"'))
            _logger.info("Webhook call %s on rule #%s rejected (%s): %s", call.request_id, self.id, status,
                         rejected.reason)
        except TRANSIENT_ERRORS:
            raise  # the framework retries the whole request in a new transaction
        except Exception as exc:  # noqa: BLE001 - any action error is a failed call, never a crash
            status = 403 if error_status(exc) == 403 else 500
            body = {"status": "error"}
            log.update(state="failed", error="".join(traceback.format_exception(exc)))
            _logger.warning("Webhook call %s on rule #%s failed: %s: %s", call.request_id, self.id,
                            type(exc).__name__, exc)
        self._webhook_log(call, status, payload, user, dedupe_key, log)
        return status, body, extra_headers

    def _webhook_check_rate_limit(self):
        """At most ``webhook_rate_limit`` accepted calls per period, counted in the shared call log."""
        if self.webhook_rate_limit <= 0:
            return
        period = max(self.webhook_rate_limit_period, 1)
        self.env.cr.execute(
            """SELECT count(*), EXTRACT(EPOCH FROM min(create_date) - (now() AT TIME ZONE 'UTC'))
                 FROM integration_webhook_call
                WHERE rule_id = %s AND http_status <> 429
                  AND create_date > (now() AT TIME ZONE 'UTC') - make_interval(secs => %s)""",
            [self.id, period],
        )
        count, oldest_offset = self.env.cr.fetchone()
        if count >= self.webhook_rate_limit:
            retry_after = max(1, int(period + float(oldest_offset or 0)) + 1)
            raise WebhookRejected(429, "rate limit exceeded", retry_after=retry_after)

    def _webhook_restrict_key(self, policy, call):
        """A restricted key runs a rule only if it may write the rule's model (the actions change
        records), is not read-only, and calls from an allowed address within its rate."""
        door = "/web/hook"
        try:
            if policy.read_only:
                raise policy.refuse("the key is read-only and a webhook rule runs actions", door)
            if policy.model_restricted and "write" not in getattr(policy.models.get(self.model_name),
                                                                  "permissions", ()):
                raise policy.refuse(f"the key may not write {self.model_name} records", door)
            call.rate_headers = restrictions.admit(policy, self.env.cr.dbname, call.remote_addr, door)
        except restrictions.KeyRateLimited as exc:
            headers = [header for header in exc.headers if header[0] != "Retry-After"]
            raise WebhookRejected(429, "API key rate limit exceeded", headers=headers,
                                  retry_after=dict(exc.headers)["Retry-After"]) from None
        except AccessError as exc:
            raise WebhookRejected(403, str(exc)) from None

    def _webhook_hmac_settings(self):
        if self.webhook_hmac_preset in HMAC_PRESETS:
            header, encoding, prefix = HMAC_PRESETS[self.webhook_hmac_preset]
            return header, encoding, prefix, "sha256"
        return (self.webhook_hmac_header or "X-Signature", self.webhook_hmac_encoding or "hex",
                self.webhook_hmac_prefix or "", self.webhook_hmac_algorithm or "sha256")

    def _webhook_authenticate(self, call):
        """Check the sender; return the user the actions run as (API-key mode) or ``None``."""
        mode = self.webhook_auth_mode
        if mode == "url":
            return None
        if mode == "api_key":
            match = BEARER.match(call.headers.get("Authorization") or "")
            if not match:
                raise WebhookRejected(401, "missing API key")
            keys = self.env["res.users.apikeys"]
            found = keys._authenticate_key(scope="rpc", key=match.group(1).strip())
            if not found:
                raise WebhookRejected(401, "invalid API key")
            uid, key_id, revision = found
            if revision:
                self._webhook_restrict_key(keys._integration_policy(key_id, revision), call)
            return self.env["res.users"].browse(uid)
        secrets = self.sudo().webhook_secret
        try:
            if mode == "standard_webhooks":
                verify_standard_webhooks(call.body, call.headers, secrets)
            elif self.webhook_hmac_preset == "stripe":
                verify_stripe(call.body, call.headers.get("Stripe-Signature"), secrets)
            else:
                header, encoding, prefix, algorithm = self._webhook_hmac_settings()
                verify_hmac(call.body, call.headers.get(header), secrets, encoding, prefix, algorithm)
        except SignatureError as exc:
            raise WebhookRejected(401, str(exc)) from None
        return None

    def _webhook_parse_payload(self, call):
        """JSON as 18.0 does, plus form bodies (merged over the query); garbage is a 400."""
        if call.mimetype in FORM_MIMETYPES:
            return {**call.args, **call.form}
        if not call.body.strip():
            return dict(call.args)
        try:
            payload = json.loads(call.body.decode("utf-8"))
        except UnicodeDecodeError:
            raise WebhookRejected(400, "body is not UTF-8 JSON") from None
        except RecursionError:
            raise WebhookRejected(400, "payload is nested too deeply") from None
        except ValueError:
            raise WebhookRejected(400, "invalid JSON body") from None
        if webhook_payload.json_depth(payload) > webhook_payload.MAX_DEPTH:
            raise WebhookRejected(400, "payload is nested too deeply")
        try:
            # valid JSON may still escape a lone surrogate ("\ud800"): no database column can hold it
            dumps(payload).encode("utf-8")
        except UnicodeEncodeError:
            raise WebhookRejected(400, "payload holds text that is not valid Unicode (a lone surrogate)") from None
        return payload

    def _webhook_validate_payload(self, payload):
        schema = self.webhook_payload_schema
        if not schema:
            return
        validator = webhook_payload.schema_validator(schema)
        # at most MAX_SCHEMA_ERRORS are collected: a large bad payload must not cost one error per item
        errors = sorted(itertools.islice(validator.iter_errors(payload), webhook_payload.MAX_SCHEMA_ERRORS),
                        key=lambda error: list(error.absolute_path))
        if errors:
            raise WebhookRejected(422, "payload does not match the schema", errors=[
                {"path": error.json_path, "message": error.message} for error in errors
            ])

    def _webhook_dedupe_key(self, call, payload):
        source = self.webhook_dedupe_source
        if source == "none":
            return None
        if source == "json_pointer":
            value = webhook_payload.resolve_json_pointer(payload, self.webhook_dedupe_pointer)
            key = value if isinstance(value, str) else (None if value is None else dumps(value))
        else:
            key = call.headers.get("webhook-id" if source == "webhook_id" else "Idempotency-Key")
        if not key:
            raise WebhookRejected(400, "missing deduplication key")
        return key

    def _webhook_run_once(self, payload, user, dedupe_key):
        """Claim the dedupe key and run the actions all-or-nothing: a failure undoes both.

        The request's transaction has read but written nothing before this, so a failure rolls
        it back whole (the claim and whatever ran of the actions) and the call is logged in the
        fresh transaction that follows; a successful call pays no SAVEPOINT/RELEASE round trips.
        """
        if not self.env["integration.webhook.key"]._claim(self, dedupe_key):
            return "duplicate"
        try:
            self._webhook_execute(payload, user)
            self.env.flush_all()  # a write that fails fails here, not at commit after the answer
        except TRANSIENT_ERRORS:
            raise  # the framework retries the whole request
        except Exception:
            self.env.cr.rollback()
            raise
        return "done"

    def _webhook_execute(self, payload, user=None):
        """Run the actions for ``payload``: natively (sudo), or as ``user`` with that user's rights."""
        self.ensure_one()
        rule = self.with_context(integration_webhook_payload=payload)
        if not user:
            return rule.sudo()._execute_webhook(payload)
        return rule._webhook_execute_as(payload, user)

    def _check_trigger_fields(self, record):
        """Without old values every field counts as changed, as in 18.0: answer that before 18.0
        reads the watched fields (one query on every webhook call, creation and manual run)."""
        if self.env.context.get("old_values") is None:
            return True
        return super()._check_trigger_fields(record)

    def _webhook_execute_as(self, payload, user):
        """``_execute_webhook`` without sudo: native ``_process`` runs the actions as superuser.

        A copy of 18.0's ``_execute_webhook`` + ``_process`` for API-key calls; what ``_process``
        adds beside sudo is not repeated here: its ``__action_done`` recursion guard (a webhook
        trigger does not re-enter itself), the post-mortem on errors and the ``log_webhook_calls``
        rows (the addon's call log replaces them).
        """
        rule = self.sudo()
        env = rule.with_user(user).env
        model = env[rule.model_name]
        eval_context = {**rule._get_eval_context(payload=payload), "uid": user.id, "user": env.user, "model": model}
        records = safe_eval.safe_eval(rule.record_getter, eval_context) if rule.record_getter else model
        records = records.with_env(env).exists()
        if not records:
            raise ValidationError(_("No record to run the automation on was found."))
        if "date_automation_last" in records._fields:  # each series' _process: 19.0 stamps the transaction's time
            records.date_automation_last = env.cr.now() if series.V19 else fields.Datetime.now()
        for action in rule.action_server_ids.with_env(env):
            for record in records:
                action.with_context(
                    active_model=record._name, active_ids=record.ids, active_id=record.id, domain_post=None,
                ).run()

    def _webhook_log(self, call, status, payload, user, dedupe_key, values, full=False):
        """Write the call log row (``full`` keeps the whole payload: the worker needs it).

        A plain INSERT, as for the outbox: it runs on every call, and create()'s defaults and
        bookkeeping cost more than the rest of a simple rule's call. ``duplicate`` (stored,
        computed from ``state``) is written with it.
        """
        header, *_ignored = self._webhook_hmac_settings()
        text, truncated = "", False
        if payload is not None:
            text = dumps(payload)
        elif call.body:
            text = call.body.decode("utf-8", "replace").replace("\x00", "\ufffd")  # PostgreSQL text has no NUL
        encoded = text.encode()
        cap = max(self.webhook_log_payload_size, 0)
        if not full and len(encoded) > cap:
            text, truncated = encoded[:cap].decode("utf-8", "ignore"), True
        row = {
            "rule_id": self.id,
            "request_id": call.request_id,
            "remote_addr": call.remote_addr,
            "method": call.method,
            "http_status": status,
            "duration_ms": (time.monotonic() - call.started) * 1000,
            "headers": json.dumps(redact_headers(call.headers, extra=[header]), indent=1),
            "payload": text,
            "payload_truncated": truncated,
            "dedupe_key": dedupe_key,
            "user_id": user.id if user else None,
            "trace_id": trace_context.current(self.env.context, request)[0],
            "state": "done",
            **values,
        }
        row["duplicate"] = row["state"] == "duplicate"
        columns = _LOG_COLUMNS.get(tuple(row))
        if columns is None:  # a few shapes of row, all named in this method
            columns = _LOG_COLUMNS[tuple(row)] = SQL(", ").join(SQL.identifier(name) for name in row)
        self.env.cr.execute(SQL(
            """INSERT INTO integration_webhook_call (%s, create_uid, create_date, write_uid, write_date)
               VALUES (%s, %s, now() AT TIME ZONE 'UTC', %s, now() AT TIME ZONE 'UTC') RETURNING id""",
            columns, SQL(", ".join(["%s"] * len(row)), *row.values()), self.env.uid, self.env.uid,
        ))
        return self.env["integration.webhook.call"].sudo().browse(self.env.cr.fetchone()[0])
