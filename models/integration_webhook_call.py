import json
import logging
import time
import traceback
from contextlib import closing
from datetime import timedelta

import psycopg2.errors

from odoo import _, api, fields, models
from odoo.exceptions import UserError

from ..tools import trace_context
from .base_automation import TRANSIENT_ERRORS
from .integration_worker import WorkerPump

_logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# calls a worker runs per step (each in its own transaction) before it looks at the other sources
CALLS_PER_STEP = 10
# a step that found fewer queued calls than that looks again only after this many seconds
CLAIM_POLL = 1.0
RETENTION_PARAM = "integration_suite.webhook_call_retention_days"
DEFAULT_RETENTION_DAYS = 30



def _indented(text):
    """JSON text indented for reading; anything else (a truncated payload, a form body) as it is."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False) if text else text
    except ValueError:
        return text

class _CallPump(WorkerPump):
    """Asynchronous calls' share of a worker run: a few calls per step, one transaction each."""

    def __init__(self, calls):
        super().__init__(calls)
        self.claim_after = 0.0

    def step(self, claim=True):
        if not claim or time.monotonic() < self.claim_after:
            return False
        processed = self.model._worker_process_batch(CALLS_PER_STEP)
        self.backlog = processed == CALLS_PER_STEP
        if not self.backlog:
            self.claim_after = time.monotonic() + CLAIM_POLL
        return processed > 0

    def next_due(self):
        return self.model._worker_next_due()


class IntegrationWebhookCall(models.Model):
    """One call received on an incoming-webhook rule (also the queue of asynchronous calls).

    Written in the request's transaction but outside the actions' savepoint,
    so a call whose actions roll back is still on record. Secrets never reach
    it: credential headers are redacted before the row is written.
    """

    _name = "integration.webhook.call"
    _description = "Incoming webhook call"
    _order = "id desc"
    _rec_name = "request_id"

    rule_id = fields.Many2one("base.automation", required=True, ondelete="cascade", index=True,
                              help="The incoming webhook automation rule whose URL was called.")
    request_id = fields.Char(string="Request ID", readonly=True, index=True,
                             help="Sent back to the caller in the X-Request-Id header.")
    remote_addr = fields.Char(string="Source IP", readonly=True,
                              help="As seen by Odoo: behind a proxy, start Odoo with --proxy-mode.")
    method = fields.Char(readonly=True, help="HTTP method, or REPLAY for a run started with Replay.")
    state = fields.Selection(
        [
            ("queued", "Queued"),
            ("done", "Done"),
            ("duplicate", "Duplicate"),
            ("rejected", "Rejected"),
            ("failed", "Failed"),
        ],
        required=True, default="done", readonly=True, index=True,
        help="Queued: stored, waiting for the worker (asynchronous rule). Done: the actions ran. "
             "Duplicate: the dedupe key was seen before, nothing ran. Rejected: refused before any action "
             "(authentication, schema, size, rate limit). Failed: the actions raised and were rolled back.")
    http_status = fields.Integer(string="HTTP Status", readonly=True, help="What the caller was answered.")
    duration_ms = fields.Float(string="Duration (ms)", digits=(16, 1), readonly=True,
                               help="Time from reading the request to writing this log row.")
    headers = fields.Text(readonly=True, help="Credential headers are redacted.")
    payload = fields.Text(readonly=True, help="The parsed payload the actions received.")
    payload_truncated = fields.Boolean(
        readonly=True, help="Longer than the rule's logged payload cap: Replay and Dry Run are not possible.")
    dedupe_key = fields.Char(readonly=True, help="The value the rule deduplicates on, if any.")
    duplicate = fields.Boolean(
        compute="_compute_duplicate", store=True, help="A repeat of an earlier key: answered 200, nothing ran.")
    error = fields.Text(readonly=True, help="Why the call was rejected, or the traceback of the failed actions.")
    user_id = fields.Many2one("res.users", string="Run As", readonly=True,
                              help="The API key's user; empty when the actions run as 18.0 does.")
    attempts = fields.Integer(readonly=True, help="Worker runs of an asynchronous call.")
    next_attempt_at = fields.Datetime(readonly=True, help="When the worker retries after a transient error.")
    replay_of_id = fields.Many2one("integration.webhook.call", readonly=True, ondelete="set null",
                                   help="The call whose payload this Replay ran again.")
    dry_run_report = fields.Text(readonly=True, help="What the last Dry Run would have written (rolled back).")
    trace_id = fields.Char(string="Trace ID", readonly=True, index=True, copy=False,
                           help="The W3C trace of the call: from the sender's traceparent header, or started here. "
                                "The deliveries its actions queued send it on.")
    delivery_ids = fields.One2many("integration.webhook.delivery", compute="_compute_delivery_ids",
                                   string="Deliveries", help="The outgoing deliveries this call's actions queued.")
    delivery_count = fields.Integer(compute="_compute_delivery_ids", string="Deliveries Queued")
    payload_pretty = fields.Text(string="Payload (formatted)", compute="_compute_pretty")
    headers_pretty = fields.Text(string="Headers (formatted)", compute="_compute_pretty")

    @api.depends("payload", "headers")
    def _compute_pretty(self):
        for call in self:
            call.payload_pretty = _indented(call.payload)
            call.headers_pretty = _indented(call.headers)

    def init(self):
        # the rate limit counts a rule's recent calls
        self.env.cr.execute(
            """CREATE INDEX IF NOT EXISTS integration_webhook_call_rule_date_idx
                   ON integration_webhook_call (rule_id, create_date)""")

    # ------------------------------------------------------------------
    # Running a stored payload (worker, Replay, Dry run)
    # ------------------------------------------------------------------
    def _stored_payload(self):
        self.ensure_one()
        if self.payload_truncated:
            raise UserError(_("The logged payload was truncated: it cannot be run again."))
        return json.loads(self.payload) if self.payload else {}

    def _execute_stored(self, payload):
        """Run the rule's actions as the original call did: the API key's user, else 18.0's public sudo."""
        if self.user_id:
            return self.rule_id._webhook_execute(payload, self.user_id)
        return self.rule_id.with_user(self.env.ref("base.public_user"))._webhook_execute(payload)

    @api.depends("state")
    def _compute_duplicate(self):
        for call in self:
            call.duplicate = call.state == "duplicate"

    def _run_stored(self):
        """Run this call's payload in a savepoint; re-raise on failure."""
        payload = self._stored_payload()
        with self.env.cr.savepoint():
            self._execute_stored(payload)

    def action_replay(self):
        """Run the logged payload again for real; the outcome is a new call row (same payload)."""
        self.check_access("read")
        self.browse().check_access("create")
        for call in self:
            values = {"state": "done", "http_status": 200}
            try:
                call._run_stored()
            except TRANSIENT_ERRORS:
                raise
            except Exception as exc:  # noqa: BLE001 - the replay's failure is recorded, not raised
                values = {"state": "failed", "http_status": 500,
                          "error": "".join(traceback.format_exception(exc))}
            call.copy({
                "replay_of_id": call.id, "request_id": f"replay-{call.request_id}",
                "method": "REPLAY",
                "dry_run_report": False, "attempts": 0, **values,
            })
        return self._reopen()

    def action_dry_run(self):
        """Run the logged payload in a savepoint that is always rolled back; report the writes."""
        self.check_access("write")
        self.ensure_one()
        payload = self._stored_payload()
        error = None
        before = self._table_write_counts()
        with closing(self.env.cr.savepoint()):
            try:
                self._execute_stored(payload)
                self.env.flush_all()
            except Exception as exc:  # noqa: BLE001 - shown to the operator
                error = f"{type(exc).__name__}: {exc}"
        after = self._table_write_counts()
        self.dry_run_report = self._format_write_report(before, after, error)
        return self._reopen()

    def _table_write_counts(self):
        """Rows inserted/updated/deleted so far by this transaction, per table (rolled-back ones included)."""
        self.env.cr.execute(
            """SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_xact_user_tables
                WHERE n_tup_ins + n_tup_upd + n_tup_del > 0""")
        return {row[0]: row[1:] for row in self.env.cr.fetchall()}

    def _format_write_report(self, before, after, error):
        models_by_table = {model._table: name for name, model in self.env.registry.items() if model._auto}
        lines = []
        for table in sorted(after):
            delta = [now - then for now, then in zip(after[table], before.get(table, (0, 0, 0)), strict=True)]
            if any(delta) and not table.startswith("integration_webhook_"):
                lines.append(_("%(model)s: %(created)s created, %(updated)s updated, %(deleted)s deleted",
                               model=models_by_table.get(table, table), created=delta[0],
                               updated=delta[1], deleted=delta[2]))
        summary = _("Dry run at %s (rolled back).", fields.Datetime.now())
        if error:
            summary += "\n" + _("The actions failed: %s", error)
        return "\n".join([summary, *(lines or [_("Nothing would be written.")])])

    def _reopen(self):
        if len(self) != 1:
            return True
        return {"type": "ir.actions.act_window", "res_model": self._name, "res_id": self.id,
                "view_mode": "form", "target": "current"}

    # ------------------------------------------------------------------
    # Worker source: asynchronous calls
    # ------------------------------------------------------------------
    _CLAIM_QUERY = """
        SELECT id FROM integration_webhook_call
         WHERE state = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= %s)
         ORDER BY id
         LIMIT 1
           FOR UPDATE SKIP LOCKED
    """

    @api.model
    def _worker_pump(self):
        return _CallPump(self)

    @api.model
    def _worker_process_batch(self, limit):
        """Run up to ``limit`` queued calls, one transaction each; return how many were handled."""
        processed = 0
        for _attempt in range(limit):
            self.flush_model()
            try:
                # an expected outcome when workers race (repeatable read): not an error to log
                self.env.cr.execute(self._CLAIM_QUERY, [fields.Datetime.now()], log_exceptions=False)
            except psycopg2.errors.SerializationFailure:
                WorkerPump.rollback(self.env)  # another worker finished this row after our snapshot
                continue
            row = self.env.cr.fetchone()
            if not row:
                break
            self.browse(row[0])._run_queued()
            WorkerPump.commit(self.env)
            processed += 1
        return processed

    @api.model
    def _worker_next_due(self):
        """Seconds until a queued call's retry comes due (calls due now are another worker's)."""
        self.env.cr.execute("""
            SELECT EXTRACT(EPOCH FROM min(next_attempt_at) - (clock_timestamp() AT TIME ZONE 'UTC'))
              FROM integration_webhook_call
             WHERE state = 'queued' AND next_attempt_at > clock_timestamp() AT TIME ZONE 'UTC'
        """)
        due = self.env.cr.fetchone()[0]
        return None if due is None else float(due)

    @api.model
    def _worker_backlog(self):
        """``(count, oldest due time, its age in seconds)`` of the queued calls due now."""
        self.flush_model()
        self.env.cr.execute("""
            SELECT count(*), min(due), EXTRACT(EPOCH FROM (clock_timestamp() AT TIME ZONE 'UTC') - min(due))
              FROM (SELECT COALESCE(next_attempt_at, create_date) AS due
                      FROM integration_webhook_call WHERE state = 'queued') AS queued
             WHERE due <= clock_timestamp() AT TIME ZONE 'UTC'
        """)
        count, oldest, age = self.env.cr.fetchone()
        return count, oldest, None if age is None else float(age)

    def _compute_delivery_ids(self):
        Delivery = self.env["integration.webhook.delivery"]  # noqa: N806 - a model
        refs = [call.request_id for call in self if call.request_id]
        deliveries = Delivery.search([("cause", "=", "incoming"), ("cause_ref", "in", refs)]) if refs else Delivery
        for call in self:
            call.delivery_ids = deliveries.filtered(lambda delivery, call=call: delivery.cause_ref == call.request_id)
            call.delivery_count = len(call.delivery_ids)

    def action_view_deliveries(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("integration_suite.action_integration_webhook_delivery")
        action["domain"] = [("id", "in", self.delivery_ids.ids)]
        action["context"] = {}
        return action

    def _run_queued(self):
        """One attempt; transient database errors are retried later with an exponential backoff.

        The actions run in the call's trace: the deliveries they queue link back to it.
        """
        self.ensure_one()
        self.attempts += 1
        try:
            self.with_context(integration_trace=(self.trace_id or trace_context.new_trace_id(), "01", "incoming",
                                                 self.request_id))._run_stored()
        except TRANSIENT_ERRORS as exc:
            if self.attempts < MAX_ATTEMPTS:
                self.next_attempt_at = fields.Datetime.now() + timedelta(seconds=2 ** self.attempts)
                _logger.info("Webhook call %s: transient error, retry %s: %s", self.request_id, self.attempts, exc)
                return
            self.write({"state": "failed", "http_status": 500, "error": str(exc)})
            self.env["integration.webhook.key"]._release(self.rule_id, self.dedupe_key)
        except Exception as exc:  # noqa: BLE001 - recorded on the call, like a synchronous failure
            self.write({"state": "failed", "http_status": 500, "error": "".join(traceback.format_exception(exc))})
            self.env["integration.webhook.key"]._release(self.rule_id, self.dedupe_key)
            _logger.warning("Webhook call %s failed in the worker: %s: %s", self.request_id, type(exc).__name__, exc)
        else:
            self.write({"state": "done", "http_status": 200, "next_attempt_at": False})

    @api.autovacuum
    def _gc_old_calls(self):
        days = int(self.env["ir.config_parameter"].sudo().get_param(RETENTION_PARAM, DEFAULT_RETENTION_DAYS))
        self.search([
            ("create_date", "<", fields.Datetime.now() - timedelta(days=days)),
            ("state", "!=", "queued"),
        ]).unlink()


class IntegrationWorker(models.AbstractModel):
    _inherit = "integration.worker"

    @api.model
    def _job_sources(self):
        return [*super()._job_sources(), "integration.webhook.call"]
