import json
from datetime import timedelta
from urllib.parse import urlsplit

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.http import request

from odoo.addons.base.models.res_users import check_identity

from ..dispatch import check_secret_access
from ..tools import webhook_delivery as wd
from .integration_webhook_event_type import TEST_EVENT

SECRET_OVERLAP_PARAM = "integration_suite.webhook_secret_overlap_hours"
# an endpoint failing without a success for this many days is archived (0: never)
DISABLE_AFTER_PARAM = "integration_suite.webhook_disable_after_days"
DEFAULT_DISABLE_AFTER_DAYS = 5
VERIFY_SNIPPET = '''# pip install standardwebhooks
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

webhook = Webhook("whsec_...")  # this endpoint's signing secret ("Show secret (once)")


def handle(body: bytes, headers: dict) -> int:
    """Call from your web framework for each POST on {path}; answer the returned status."""
    try:
        event = webhook.verify(body, headers)  # signature and timestamp (5 min tolerance)
    except WebhookVerificationError:
        return 401  # not signed with this secret, or older than 5 minutes
    if already_processed(headers["webhook-id"]):  # retries re-send the same webhook-id
        return 200
    {access}
    process(record_model, record_id, event)  # your code; answer quickly, work asynchronously
    return 200  # any 2xx marks the delivery delivered; anything else is retried
'''


def _format_delay(seconds):
    """``0 s``, ``5 s``, ``5 min``, ``1 h 30 min``, ``2 h``, ``1 d``: a retry delay, exact."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            parts.append(f"{seconds // size} {unit}")
            seconds %= size
    if seconds or not parts:
        parts.append(f"{seconds} s")
    return " ".join(parts)


def _format_age(seconds):
    """``12 s``, ``4 min``, ``3 h 05 min``, ``2 d 4 h``: how long something has waited."""
    seconds = int(max(seconds, 0))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


class IntegrationWebhookEndpoint(models.Model):
    """A receiver of outgoing webhooks: where to send, how to sign and how hard to retry."""

    _name = "integration.webhook.endpoint"
    _description = "Outgoing webhook endpoint"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "name, id"

    name = fields.Char(required=True, tracking=True, help="How operators recognise this receiver.")
    url = fields.Char(
        string="URL", required=True, tracking=True,
        help="Where deliveries are POSTed (http or https). Private and loopback addresses are refused "
             "unless the system parameter integration_suite.webhook_allow_private is true.")
    active = fields.Boolean(
        default=True, tracking=True,
        help="Archived endpoints keep their deliveries waiting; a 410 Gone answer archives the endpoint.")
    user_id = fields.Many2one(
        "res.users", string="Responsible", default=lambda self: self.env.user,
        help="Gets an activity when a delivery is dead or the receiver asks to stop (410).")
    secret = fields.Char(
        groups="base.group_system", copy=False, default=lambda self: wd.new_secret(),
        help="Standard Webhooks signing secret (whsec_...). Receivers verify webhook-signature with it.")
    previous_secret = fields.Char(groups="base.group_system", copy=False)
    previous_secret_expiry = fields.Datetime(
        copy=False, help="Until then the previous secret signs as well, so receivers can switch over.")
    headers = fields.Text(
        string="Custom headers", groups="base.group_system",
        help='JSON object of extra request headers, e.g. {"Authorization": "Bearer ..."}.')
    timeout = fields.Float(
        string="Timeout (s)", default=10.0,
        help="Seconds one attempt may take in all (connect, send, answer); at most 120. A slower "
             "answer counts as a failed attempt and is retried.")
    max_in_flight = fields.Integer(
        string="Max Attempts in Flight", default=16,
        help="Attempts to this endpoint running at once, all workers and servers together (1-256). An endpoint "
             "that answers slowly or times out holds at most this many of the workers' sending threads, so "
             "the other endpoints keep their throughput; raise it for a fast receiver that must take more "
             "than this many deliveries per round trip.")
    send_on_neutralized = fields.Boolean(
        string="Enabled on this Copy", copy=False,
        help="This database is a neutralized copy (odoo neutralize, Odoo.sh staging): nothing is sent from it "
             "except to endpoints enabled here with 'Enable on this copy'. Neutralizing a database clears it.")
    database_neutralized = fields.Boolean(compute="_compute_database_neutralized")
    retry_schedule = fields.Char(
        default=wd.DEFAULT_RETRY_SCHEDULE, required=True,
        help="Seconds to wait before each attempt; the number of entries is the number of attempts.")
    retry_schedule_display = fields.Char(
        string="Retry Delays", compute="_compute_retry_schedule_display",
        help="The retry schedule read as delays: when each attempt is made after the previous one failed "
             "(the first entry is the wait before the first attempt; each delay varies by about 10 %).")
    event_subscription = fields.Selection(
        [("all", "All event types"), ("selected", "Selected event types")],
        string="Receives", default="all", required=True, tracking=True,
        help="All: every event of the actions pointing here. Selected: only the event types listed; the "
             "actions' other events are not queued for this endpoint. The test event is always accepted.")
    event_type_ids = fields.Many2many(
        "integration.webhook.event.type", "integration_webhook_endpoint_event_type_rel", "endpoint_id", "event_type_id",
        string="Event Types", context={"active_test": False},
        help="The event types this endpoint receives when it receives selected event types only.")
    payload_format = fields.Selection(
        [("native", "Native (_model, _id, _action + fields)"),
         ("standard", "Standard Webhooks envelope (type, timestamp, data)")],
        default="native", required=True,
        help="Native: the body 18.0 sends ({_model, _id, _action} + the action's fields). "
             "Standard Webhooks: the same object under 'data', with 'type' (model.action) and 'timestamp'.")
    delivery_ids = fields.One2many("integration.webhook.delivery", "endpoint_id")
    failing_since = fields.Datetime(
        readonly=True, copy=False,
        help="Every attempt since then failed (set by the first failure, cleared by a success). After "
             "integration_suite.webhook_disable_after_days days (default 5) the endpoint is archived.")
    action_ids = fields.One2many(
        "ir.actions.server", "webhook_endpoint_id", string="Actions",
        help="'Send Webhook Notification' server actions (and the automation rules running them) that "
             "deliver here.")
    last_error = fields.Text(compute="_compute_health", help="Error of the most recent failed attempt.")
    success_rate = fields.Float(compute="_compute_health", help="Delivered / finished attempts, last 7 days (%).")
    latency_p95 = fields.Float(
        string="p95 latency (ms)", compute="_compute_health",
        help="95th percentile of the last attempt's duration of deliveries queued in the last 7 days.")
    pending_count = fields.Integer(compute="_compute_health", help="Deliveries waiting for a (re)try.")
    dead_count = fields.Integer(
        compute="_compute_health", help="Deliveries of the last 7 days that failed their last attempt.")
    oldest_due_at = fields.Datetime(
        string="Oldest Due", compute="_compute_backlog",
        help="When the oldest delivery that may be sent now came due (held back only by the workers).")
    oldest_due_age = fields.Char(
        string="Due For", compute="_compute_backlog",
        help="How long the oldest due delivery has been waiting for a worker. Above the alarm threshold "
             "(integration_suite.worker_alarm_minutes) the responsible user gets an activity.")
    sample_payload = fields.Text(
        compute="_compute_sample_payload",
        help="The body this endpoint's first action would send now for an existing record "
             "(long values shortened); 'Send test' sends the test event shown when there is no action.")
    verification_snippet = fields.Text(
        string="Receiver Verification (Python)", compute="_compute_verification_snippet",
        help="How the receiver checks the signature with the standardwebhooks library; the secret is a "
             "placeholder.")

    @api.constrains("url")
    def _check_url(self):
        for endpoint in self:
            try:
                wd.check_url_syntax(endpoint.url)
            except ValueError as exc:
                raise ValidationError(str(exc)) from None

    @api.constrains("retry_schedule")
    def _check_retry_schedule(self):
        for endpoint in self:
            try:
                wd.parse_schedule(endpoint.retry_schedule)
            except ValueError as exc:
                raise ValidationError(str(exc)) from None

    @api.constrains("timeout")
    def _check_timeout(self):
        if any(not 0 < endpoint.timeout <= 120 for endpoint in self):
            raise ValidationError(_("The timeout must be between 0 and 120 seconds."))

    @api.constrains("max_in_flight")
    def _check_max_in_flight(self):
        if any(not 1 <= endpoint.max_in_flight <= 256 for endpoint in self):
            raise ValidationError(_("Max Attempts in Flight must be between 1 and 256."))

    @api.constrains("headers")
    def _check_headers(self):
        for endpoint in self.sudo():
            try:
                endpoint._custom_headers()
            except ValueError as exc:
                raise ValidationError(_("Custom headers must be a JSON object of strings: %s", exc)) from None

    def _custom_headers(self):
        value = json.loads(self.sudo().headers or "{}")
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ValueError("expected {\"Header-Name\": \"value\"}")
        return value

    def _signing_secrets(self):
        """The current secret, plus the previous one while the rotation overlap lasts."""
        endpoint = self.sudo()
        signing = [endpoint.secret]
        if endpoint.previous_secret and endpoint.previous_secret_expiry \
                and endpoint.previous_secret_expiry > fields.Datetime.now():
            signing.append(endpoint.previous_secret)
        return signing

    def _compute_health(self):
        stats, errors = {}, {}
        if self.ids:
            self.env["integration.webhook.delivery"].flush_model()
            self.env.cr.execute("""
                SELECT endpoint_id,
                       count(*) FILTER (WHERE state = 'delivered'),
                       count(*) FILTER (WHERE state IN ('delivered', 'dead') OR attempt_count > 0),
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms)
                           FILTER (WHERE duration_ms IS NOT NULL),
                       count(*) FILTER (WHERE state IN ('pending', 'failed')),
                       count(*) FILTER (WHERE state = 'dead')
                  FROM integration_webhook_delivery
                 WHERE endpoint_id IN %s AND create_date > now() at time zone 'utc' - interval '7 days'
                 GROUP BY endpoint_id
            """, [tuple(self.ids)])
            stats = {row[0]: row[1:] for row in self.env.cr.fetchall()}
            # derived from the deliveries so workers never write (and lock) the endpoint row
            self.env.cr.execute("""
                SELECT DISTINCT ON (endpoint_id) endpoint_id, last_attempt_at, error
                  FROM integration_webhook_delivery
                 WHERE endpoint_id IN %s AND error IS NOT NULL AND last_attempt_at IS NOT NULL
                 ORDER BY endpoint_id, last_attempt_at DESC, id DESC
            """, [tuple(self.ids)])
            errors = {row[0]: f"{row[1]}: {row[2]}" for row in self.env.cr.fetchall()}
        for endpoint in self:
            delivered, finished, p95, pending, dead = stats.get(endpoint.id, (0, 0, None, 0, 0))
            endpoint.success_rate = 100.0 * delivered / finished if finished else 0.0
            endpoint.latency_p95 = p95 or 0.0
            endpoint.pending_count = pending
            endpoint.dead_count = dead
            endpoint.last_error = errors.get(endpoint.id, False)

    def _compute_database_neutralized(self):
        self.database_neutralized = self.env["integration.worker"]._database_neutralized()

    def _compute_backlog(self):
        backlog = self.env["integration.webhook.delivery"]._due_backlog(self.ids) if self.ids else {}
        for endpoint in self:
            _count, oldest, age = backlog.get(endpoint.id, (0, False, None))
            endpoint.oldest_due_at = oldest
            endpoint.oldest_due_age = _format_age(age) if age is not None else False

    @api.depends("retry_schedule")
    def _compute_retry_schedule_display(self):
        for endpoint in self:
            try:
                delays = wd.parse_schedule(endpoint.retry_schedule)
            except ValueError:
                endpoint.retry_schedule_display = False
                continue
            endpoint.retry_schedule_display = ", ".join(_format_delay(delay) for delay in delays)

    def write(self, vals):
        result = super().write(vals)
        if {"event_subscription", "event_type_ids"}.intersection(vals):
            self.env.registry.clear_cache()  # _subscribed_codes
        return result

    def _is_subscribed(self, event_type):
        """Does this endpoint take events of ``event_type``? Read on every event: cached."""
        codes = self._subscribed_codes(self.id)
        return codes is None or event_type in codes or event_type == TEST_EVENT

    @api.model
    @tools.ormcache("endpoint_id")
    def _subscribed_codes(self, endpoint_id):
        """None when the endpoint receives every event type, else the codes it is subscribed to."""
        endpoint = self.browse(endpoint_id).sudo()
        if endpoint.event_subscription != "selected":
            return None
        return frozenset(endpoint.event_type_ids.mapped("code"))

    @api.depends("payload_format", "action_ids")
    def _compute_sample_payload(self):
        Delivery = self.env["integration.webhook.delivery"]
        for endpoint in self:
            data, event_type = endpoint._sample_event()
            body = json.loads(Delivery._render(endpoint, data, event_type))
            endpoint.sample_payload = json.dumps(body, indent=2, ensure_ascii=False)

    def _sample_event(self):
        """``(data, event_type)`` as the first action would queue it, else the 'Send test' event."""
        action = self.action_ids[:1]
        data = self.env["integration.webhook.event.type"]._sample_for(action, self)
        if not action:
            return data, TEST_EVENT
        return data, f"{action.model_id.model}.{action.name}"

    @api.depends("url", "payload_format")
    def _compute_verification_snippet(self):
        for endpoint in self:
            if endpoint.payload_format == "standard":
                access = ('record_model, record_id = event["data"]["_model"], event["data"]["_id"]'
                          '  # event["type"] names the event')
            else:
                access = 'record_model, record_id = event["_model"], event["_id"]'
            endpoint.verification_snippet = VERIFY_SNIPPET.format(
                path=urlsplit(endpoint.url or "").path or "/", access=access)

    @api.model
    def _find_or_create_for_url(self, url):
        """The endpoint a native ``webhook_url`` points at (archived ones included)."""
        endpoint = self.sudo().with_context(active_test=False).search([("url", "=", url)], limit=1)
        return endpoint or self.sudo().create({"name": url, "url": url})

    def action_rotate_secret(self):
        """New secret now; the old one keeps signing for the overlap period (default 24 h)."""
        check_secret_access(self)
        self.ensure_one()
        hours = float(self.env["ir.config_parameter"].sudo().get_param(SECRET_OVERLAP_PARAM, 24))
        self.sudo().write({
            "previous_secret": self.sudo().secret,
            "previous_secret_expiry": fields.Datetime.now() + timedelta(hours=hours),
            "secret": wd.new_secret(),
        })
        self.message_post(body=_("Signing secret rotated; the previous one signs for %s more hours.", hours))
        if not request:  # rotated by code (a script, a scheduled action): nobody to show it to
            return True
        return self._reveal_secret()

    def action_reveal_secret(self):
        """Show the signing secret to an administrator who confirms their password (Odoo's identity
        check, valid 10 minutes); the rights are checked before the check is even offered."""
        check_secret_access(self)
        self.ensure_one()
        return self._reveal_secret()

    @check_identity
    def _reveal_secret(self):
        check_secret_access(self)
        self.ensure_one()
        self.message_post(body=_("Signing secret revealed to %s after an identity check.", self.env.user.name))
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": _("Signing secret of %s", self.name),
                "message": self.sudo().secret,
                "sticky": True,
                "type": "warning",
                # closing reloads the record the button ran on (a soft reload restored the
                # form as it was opened: blank for an endpoint created there)
                "next": {"type": "ir.actions.act_window_close"},
            },
        }

    def action_send_test(self):
        """Queue a signed test event (``webhook.test``) to this endpoint and wake the worker."""
        return self._send_test_event(self.env.ref("integration_suite.event_type_webhook_test"))

    def action_open_send_test(self):
        """The 'Send test' dialog: pick one of the endpoint's event types, see its sample, send it."""
        self.check_access("write")
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Send a test event"),
            "res_model": "integration.webhook.send.test",
            "view_mode": "form",
            "target": "new",
            "context": {"default_endpoint_id": self.id},
        }

    def _send_test_event(self, event_type):
        """Queue ``event_type``'s sample as a real signed delivery; opens it."""
        self.check_access("write")
        self.env["integration.webhook.delivery"].check_access("create")
        self.ensure_one()
        self._check_sendable()
        if not self._is_subscribed(event_type.code):
            raise UserError(_("%(endpoint)s is not subscribed to %(type)s.", endpoint=self.name, type=event_type.name))
        data = event_type._sample_data(self)
        delivery = self.env["integration.webhook.delivery"]._enqueue(
            self, data, model=data["_model"], res_id=data["_id"], event_type=event_type.code)
        return {
            "type": "ir.actions.act_window",
            "res_model": delivery._name,
            "res_id": delivery.id,
            "view_mode": "form",
        }

    def _check_sendable(self):
        """Refuse to queue anything by hand for an endpoint that a neutralized copy does not serve."""
        if self.filtered(lambda endpoint: not endpoint.send_on_neutralized) \
                and self.env["integration.worker"]._database_neutralized():
            raise UserError(_(
                "This database is neutralized (a staging or test copy made with odoo neutralize): nothing is "
                "sent from it. Point the endpoint at a test receiver and press 'Enable on this copy' first."))

    def action_enable_on_neutralized(self):
        """On a neutralized copy, let this endpoint send again: the explicit step neutralization asks for."""
        if not self.env.is_system():
            raise AccessError(_("Only administrators can enable an endpoint on a neutralized database."))
        self.check_access("write")
        self.write({"send_on_neutralized": True, "active": True})
        for endpoint in self:
            endpoint.message_post(body=_(
                "Enabled on this neutralized copy: deliveries are sent to %s again.", endpoint.url))
        return True

    def action_view_deliveries(self):
        self.check_access("read")
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("integration_suite.action_integration_webhook_delivery")
        action["domain"] = [("endpoint_id", "=", self.id)]
        return action

    def _notify_responsible(self, summary, note):
        """An activity for the responsible user (or the administrator) about a delivery problem."""
        self.ensure_one()
        self.sudo().activity_schedule(
            "mail.mail_activity_data_todo",
            summary=summary,
            note=note,
            user_id=(self.user_id or self.env.ref("base.user_admin")).id,
        )

    @api.model
    def _disable_failing(self):
        """Scheduled: archive the active endpoints failing for the configured period, and say so once.

        Archiving clears the clock, so the endpoint is told about once; its deliveries stay queued
        or dead, and after it is restored "Recover failed since..." sends them again.
        """
        try:
            days = float(self.env["ir.config_parameter"].sudo().get_param(DISABLE_AFTER_PARAM,
                                                                           DEFAULT_DISABLE_AFTER_DAYS))
        except ValueError:
            days = DEFAULT_DISABLE_AFTER_DAYS
        if days <= 0:
            return self.browse()
        failing = self.sudo().search([("failing_since", "<=", fields.Datetime.now() - timedelta(days=days))])
        days = f"{days:g}"
        for endpoint in failing:
            since = endpoint.failing_since
            endpoint.write({"active": False, "failing_since": False})
            reason = _("Archived: every delivery attempt to %(url)s has failed since %(since)s (more than "
                       "%(days)s days). Its deliveries are kept; fix the receiver, restore the endpoint and use "
                       "'Recover failed since...' to send them again.", url=endpoint.url, since=since, days=days)
            endpoint.message_post(body=reason)
            endpoint._notify_responsible(_("Webhook endpoint disabled: failing for %s days", days), reason)
        return failing
