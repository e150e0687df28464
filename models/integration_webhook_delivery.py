import json
import logging
import time
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from datetime import datetime, timedelta, timezone

from odoo import _, api, fields, http, models
from odoo.exceptions import UserError
from odoo.tools import SQL, str2bool

from .. import series
from ..dispatch import dumps
from ..tools import trace_context
from ..tools import webhook_delivery as wd
from .integration_worker import WorkerPump

_logger = logging.getLogger(__name__)

ALLOW_PRIVATE_PARAM = "integration_suite.webhook_allow_private"
RETENTION_PARAM = "integration_suite.webhook_retention_days"
# attempts one worker keeps in flight (all endpoints together); each endpoint also has its own cap
CONCURRENCY_PARAM = "integration_suite.worker_concurrency"
DEFAULT_CONCURRENCY = 32
MAX_CONCURRENCY = 256
# a worker claims again once this share of its concurrency is free: fewer, larger claims
CLAIM_SHARE = 4
# a claim that found fewer due deliveries than asked is repeated only after this many seconds,
# unless an attempt finished meanwhile (which may let a later delivery of its record go)
CLAIM_POLL = 1.0
# finished attempts are stored together: after the first one, the worker waits this long for more
RECORD_WINDOW = 0.02
# a claim is a lease: an attempt may start until ``timeout + LEASE_SLACK`` seconds after the claim
# and always ends within ``timeout`` (its deadline), so the lease is ``2 * timeout + LEASE_SLACK * 2``
# and no other worker can pick the row up while it is being sent
LEASE_SLACK = 10
# One pooled keep-alive session per process and policy; the strict one refuses non-public peers
# at connect time too (DNS rebinding), the other serves databases that allow private receivers.
_SESSIONS = {allow: wd.build_session(public_only=not allow, pool_size=MAX_CONCURRENCY) for allow in (False, True)}


def _post(request):
    """One HTTP attempt, no ORM (runs in a sending thread); not started once its lease is too short."""
    if time.monotonic() > request["start_by"]:
        return {"skipped": True}
    started_at = datetime.now(timezone.utc).replace(tzinfo=None)
    outcome = wd.post(_SESSIONS[request["allow_private"]], request["url"], request["body"], request["headers"],
                      request["timeout"], allow_private=request["allow_private"])
    outcome["started_at"] = started_at
    outcome["request_headers"] = wd.masked_headers(request["headers"])
    return outcome


class _DeliveryPump(WorkerPump):
    """The outbox's share of a worker run: a stream of attempts, ``capacity`` of them running at once.

    It keeps up to one and a half times ``capacity`` claimed (the rest wait their turn in its
    sending threads' queue, so the threads never wait for the database) and claims more whenever
    a quarter of ``capacity`` is missing — leased, at most each endpoint's ``max_in_flight``
    across all workers; finished attempts are stored and committed together as they come back.
    No attempt waits for another: an endpoint that times out holds only its capped share of the
    threads while the other endpoints' deliveries keep flowing.
    """

    def __init__(self, deliveries):
        super().__init__(deliveries)
        concurrency = deliveries.env["ir.config_parameter"].sudo().get_param(CONCURRENCY_PARAM, DEFAULT_CONCURRENCY)
        try:
            self.capacity = min(max(int(concurrency), 1), MAX_CONCURRENCY)
        except ValueError:
            self.capacity = DEFAULT_CONCURRENCY
        self.target = self.capacity + self.capacity // 2
        self.executor = None
        self.futures = {}  # future -> delivery id
        self.claim_after = 0.0
        self.claimed = self.processed = 0

    @property
    def in_flight(self):
        return len(self.futures)

    def step(self, claim=True):
        worked = self._store_finished()
        if claim and time.monotonic() >= self.claim_after and self._room():
            worked = self._claim_and_send(self.target - len(self.futures)) > 0 or worked
        return worked

    def drain(self, limit):
        """Claim and send until nothing more is due now or ``limit`` were claimed; all outcomes stored."""
        claim = True
        while True:
            if claim and self.claimed < limit and self._room():
                claim = self._claim_and_send(min(self.target - len(self.futures), limit - self.claimed)) > 0
                if claim:
                    continue
            if not self.futures:
                return self.processed
            self.wait(None)
            claim = self._store_finished() or claim

    def _room(self):
        """Claim only when a quarter of the capacity is missing (or nothing is in flight)."""
        return not self.futures or self.target - len(self.futures) >= max(self.capacity // CLAIM_SHARE, 1)

    def wait(self, timeout):
        done, pending = wait_futures(list(self.futures), timeout, FIRST_COMPLETED)
        if done and pending:
            wait_futures(pending, RECORD_WINDOW, ALL_COMPLETED)

    def next_due(self):
        return self.model._worker_next_due()

    def close(self):
        while self.futures:
            self.wait(1.0)
            self._store_finished()
        if self.executor:
            self.executor.shutdown()

    def abandon(self):
        if self.executor:
            self.executor.shutdown(wait=False, cancel_futures=True)
        self.futures = {}

    def _claim_and_send(self, count):
        claimed = self.model._claim(count)
        self.backlog = len(claimed) == count
        if len(claimed) < count:
            self.claim_after = time.monotonic() + CLAIM_POLL
        if not claimed:
            return 0
        if self.executor is None:
            self.executor = ThreadPoolExecutor(self.capacity, thread_name_prefix="webhook-send")
        for delivery_id, request in zip(claimed.ids, claimed._prepare_requests(), strict=True):
            self.futures[self.executor.submit(_post, request)] = delivery_id
        self.claimed += len(claimed)
        return len(claimed)

    def _store_finished(self):
        finished = [future for future in self.futures if future.done()]
        if not finished:
            return False
        deliveries = self.model.browse([self.futures.pop(future) for future in finished])
        self.read_committed(self.model.env)  # an operator may have cancelled one meanwhile: it stays so
        deliveries._record_outcomes([future.result() for future in finished])
        self.commit(self.model.env)
        self.processed += len(finished)
        self.claim_after = 0.0  # a finished delivery may let a later one of its record go
        return True


@series.sql_constraints
class IntegrationWebhookDelivery(models.Model):
    """The outbox: one row per event and endpoint, written in the transaction that caused it.

    The worker sends it after commit, retries it on its endpoint's schedule and keeps what the
    receiver answered. The ``webhook_id`` never changes, so receivers can deduplicate.
    """

    _name = "integration.webhook.delivery"
    _description = "Outgoing webhook delivery"
    _order = "id desc"
    _rec_name = "webhook_id"

    endpoint_id = fields.Many2one(
        "integration.webhook.endpoint", required=True, ondelete="cascade", index=True, readonly=True)
    action_id = fields.Many2one("ir.actions.server", ondelete="set null", readonly=True)
    model = fields.Char(string="Model Name", readonly=True)
    res_id = fields.Many2oneReference(model_field="model", readonly=True)
    event_type = fields.Char(readonly=True)
    webhook_id = fields.Char(
        string="Webhook ID", required=True, readonly=True, index=True, copy=False,
        default=lambda self: wd.new_message_id())
    payload = fields.Text(readonly=True, help="The exact body sent, rendered when the event happened.")
    state = fields.Selection(
        [("pending", "Pending"), ("failed", "Failed (retrying)"), ("delivered", "Delivered"),
         ("dead", "Dead"), ("cancelled", "Cancelled")],
        default="pending", required=True, readonly=True, index=True)
    attempt_count = fields.Integer(string="Attempts", readonly=True)
    next_attempt_at = fields.Datetime(default=fields.Datetime.now, readonly=True, index=True)
    last_attempt_at = fields.Datetime(readonly=True)
    delivered_at = fields.Datetime(readonly=True)
    last_status = fields.Integer(string="Last HTTP status", readonly=True)
    response_excerpt = fields.Text(readonly=True, help="First 4 KB of the last answer.")
    duration_ms = fields.Float(string="Duration (ms)", readonly=True)
    error = fields.Text(readonly=True)
    claimed_until = fields.Datetime(
        readonly=True, copy=False,
        help="A worker is sending this delivery; nobody else takes it before then (after a crash, "
             "the delivery is sent again once this has passed).")
    attempt_ids = fields.One2many("integration.webhook.attempt", "delivery_id", string="Attempts", readonly=True)
    model_description = fields.Char(string="Model", compute="_compute_model_description",
                                    help="The model of the record the event is about.")
    event_type_name = fields.Char(string="Event", compute="_compute_event_type_name",
                                  help="The event type as the catalogue names it (Outgoing Webhooks › Event Types).")
    payload_pretty = fields.Text(string="Payload (formatted)", compute="_compute_payload_pretty",
                                 help="The body sent, indented for reading; receivers got it as one line.")
    neutralization_blocked = fields.Boolean(
        compute="_compute_neutralization_blocked",
        help="This database is a neutralized copy and the endpoint is not enabled on it: nothing is sent.")

    # W3C Trace Context: what caused this delivery (tools/trace_context.py)
    trace_id = fields.Char(string="Trace ID", readonly=True, index=True, copy=False,
                           help="The W3C trace this delivery belongs to: received on the JSON/2 call or incoming "
                                "webhook that caused it (traceparent header), or started there.")
    traceparent = fields.Char(readonly=True, copy=False, help="The traceparent header sent to the receiver.")
    cause = fields.Selection(trace_context.CAUSES, readonly=True, copy=False,
                             help="What queued this delivery; the user is its creator.")
    cause_ref = fields.Char(string="Cause Request", readonly=True, index=True, copy=False,
                            help="The request that queued it: the incoming call's request id, or the JSON/2 or "
                                 "web client request.")
    cause_call_id = fields.Many2one("integration.webhook.call", string="Incoming Call",
                                    compute="_compute_cause_call_id",
                                    help="The incoming webhook call whose actions queued this delivery.")

    _sql_constraints = [
        ("attempt_count_positive", "CHECK(attempt_count >= 0)", "Attempts cannot be negative."),
    ]

    def init(self):
        # the worker's queries: due rows per endpoint, the per-record ordering lookup (which must not
        # use the former: a probe walking an endpoint's whole queue per candidate, hence its
        # next_attempt_at predicate), and the leases in flight that count against an endpoint's cap.
        # The due rows of all endpoints in one index (18.0.1.0.0) let a stale plan walk every other
        # endpoint's backlog for each claim: gone.
        self.env.cr.execute("""
            DROP INDEX IF EXISTS integration_webhook_delivery_due_idx;
            CREATE INDEX IF NOT EXISTS integration_webhook_delivery_endpoint_due_idx
                ON integration_webhook_delivery (endpoint_id, next_attempt_at, id)
                WHERE state IN ('pending', 'failed') AND next_attempt_at IS NOT NULL;
            CREATE INDEX IF NOT EXISTS integration_webhook_delivery_record_idx
                ON integration_webhook_delivery (endpoint_id, model, res_id, id)
                WHERE state IN ('pending', 'failed');
            CREATE INDEX IF NOT EXISTS integration_webhook_delivery_leased_idx
                ON integration_webhook_delivery (endpoint_id, claimed_until)
                WHERE state IN ('pending', 'failed') AND claimed_until IS NOT NULL;
        """)

    @api.depends("model")
    def _compute_model_description(self):
        names = {}
        for delivery in self:
            if delivery.model and delivery.model not in names:
                names[delivery.model] = self.env["ir.model"]._get(delivery.model).name or delivery.model
            delivery.model_description = names.get(delivery.model, False)

    @api.depends("event_type")
    def _compute_event_type_name(self):
        codes = {code for code in self.mapped("event_type") if code}
        names = {event_type.code: event_type.name for event_type in self.env["integration.webhook.event.type"]
                 .with_context(active_test=False).search([("code", "in", list(codes))])} if codes else {}
        for delivery in self:
            delivery.event_type_name = names.get(delivery.event_type, delivery.event_type)

    @api.depends("payload")
    def _compute_payload_pretty(self):
        for delivery in self:
            try:
                delivery.payload_pretty = json.dumps(json.loads(delivery.payload), indent=2, ensure_ascii=False)
            except (TypeError, ValueError):
                delivery.payload_pretty = delivery.payload

    @api.depends("endpoint_id.send_on_neutralized")
    def _compute_neutralization_blocked(self):
        neutralized = self.env["integration.worker"]._database_neutralized()
        for delivery in self:
            delivery.neutralization_blocked = neutralized and not delivery.endpoint_id.send_on_neutralized

    # ------------------------------------------------------------------ enqueue

    @api.model
    def _render(self, endpoint, data, event_type):
        """The body to send, fixed now: the native object or the Standard Webhooks envelope."""
        if endpoint.payload_format == "standard":
            return dumps({
                "type": event_type,
                "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
                "data": data,
            }, sort_keys=True)
        return dumps(data, sort_keys=True)

    @api.model
    def _enqueue(self, endpoint, data, model, res_id, event_type, action=None):
        """Write the delivery in the current transaction; the worker wakes only if it commits.

        A plain INSERT: this runs inside the user's transaction for every event, and the ORM's
        create (defaults, cache, recomputations) would cost more than everything else it does.
        The delivery joins the trace of the request (or queued call) that causes it.
        """
        trace_id, flags, cause, cause_ref = trace_context.current(self.env.context, http.request)
        self.env.cr.execute(SQL(
            """INSERT INTO integration_webhook_delivery
                   (endpoint_id, action_id, model, res_id, event_type, webhook_id, payload, state,
                    attempt_count, next_attempt_at, create_uid, create_date, write_uid, write_date,
                    trace_id, traceparent, cause, cause_ref)
               VALUES (%s, %s, %s, %s, %s, %s, %s, 'pending', 0,
                       now() at time zone 'UTC', %s, now() at time zone 'UTC', %s, now() at time zone 'UTC',
                       %s, %s, %s, %s)
               RETURNING id""",
            endpoint.id, action.id if action else None, model, res_id, event_type, wd.new_message_id(),
            self._render(endpoint, data, event_type), self.env.uid, self.env.uid,
            trace_id, trace_context.traceparent(trace_id, trace_context.new_span_id(), flags), cause, cause_ref,
        ))
        delivery = self.browse(self.env.cr.fetchone()[0])
        if "integration_webhook_wake" not in self.env.cr.precommit.data:
            # one cron trigger per transaction, however many deliveries it queues
            self.env.cr.precommit.data["integration_webhook_wake"] = True
            self.env.cr.precommit.add(self.env["integration.worker"]._trigger)
        return delivery

    def _compute_cause_call_id(self):
        refs = {delivery.cause_ref for delivery in self if delivery.cause == "incoming" and delivery.cause_ref}
        calls = {call.request_id: call for call in self.env["integration.webhook.call"].search(
            [("request_id", "in", list(refs))])} if refs else {}
        for delivery in self:
            delivery.cause_call_id = calls.get(delivery.cause_ref) if delivery.cause == "incoming" else False

    def action_view_trace(self):
        """Every delivery of this delivery's trace (what the same JSON/2 call or incoming webhook queued)."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("integration_suite.action_integration_webhook_delivery")
        action["domain"] = [("trace_id", "=", self.trace_id)]
        action["context"] = {}
        return action

    # ------------------------------------------------------------------ worker

    # Due rows of active endpoints whose earlier deliveries for the same record are finished
    # (events without a record are not ordered), at most ``max_in_flight`` leased per endpoint
    # (counted over every worker's leases), oldest first. Plain equalities keep the ordering
    # lookup on record_idx, and OFFSET 0 keeps it a per-row index probe: flattened into an
    # anti-join, a burst of fresh rows (statistics not analysed yet) gets planned as a full scan
    # of the index for every candidate. SKIP LOCKED: a row another worker is claiming is not
    # waited for and never sent twice. On a neutralized database only the endpoints enabled on
    # that copy are served. The ids are gathered first (ARRAY): joined instead, a stale plan may
    # walk the whole table for the update.
    _CLAIM_QUERY = """
        UPDATE integration_webhook_delivery AS leased
           SET claimed_until = clock_timestamp() at time zone 'UTC'
                               + make_interval(secs => 2 * lease_endpoint.timeout + 2 * %(slack)s)
          FROM integration_webhook_endpoint lease_endpoint
         WHERE lease_endpoint.id = leased.endpoint_id AND leased.id = ANY(ARRAY(
            SELECT d.id
              FROM integration_webhook_endpoint e
             CROSS JOIN LATERAL (
                SELECT d.id, d.next_attempt_at
                  FROM integration_webhook_delivery d
                 WHERE d.endpoint_id = e.id
                   AND d.state IN ('pending', 'failed')
                   AND d.next_attempt_at IS NOT NULL  -- endpoint_due_idx (a volatile bound proves nothing)
                   AND d.next_attempt_at <= clock_timestamp() at time zone 'UTC'
                   AND (d.claimed_until IS NULL OR d.claimed_until < clock_timestamp() at time zone 'UTC')
                   AND NOT EXISTS (
                        SELECT 1 FROM integration_webhook_delivery earlier
                         WHERE earlier.endpoint_id = d.endpoint_id
                           AND earlier.model = d.model
                           AND earlier.res_id = d.res_id
                           AND earlier.id < d.id
                           AND earlier.state IN ('pending', 'failed')
                        OFFSET 0)
                 ORDER BY d.next_attempt_at, d.id
                 LIMIT LEAST(%(limit)s, GREATEST(e.max_in_flight - (
                        SELECT count(*) FROM integration_webhook_delivery inflight
                         WHERE inflight.endpoint_id = e.id
                           AND inflight.state IN ('pending', 'failed')
                           AND inflight.claimed_until >= clock_timestamp() at time zone 'UTC'), 0))
                   FOR UPDATE OF d SKIP LOCKED) AS d
             WHERE e.active AND (NOT %(neutralized)s OR e.send_on_neutralized)
             ORDER BY d.next_attempt_at, d.id
             LIMIT %(limit)s))
        RETURNING leased.id
    """

    @api.model
    def _worker_pump(self):
        return _DeliveryPump(self)

    @api.model
    def _claim(self, limit=1):
        """Lease up to ``limit`` due deliveries to this worker, commit, and return them.

        The lease, not a lock held during the POSTs, keeps other workers away: no transaction
        stays open while receivers answer. The claim runs in a transaction of its own, in READ
        COMMITTED: rows leased by another worker after it started are skipped, not failed on.
        On a neutralized database, what is due for an endpoint not enabled on the copy is
        cancelled instead, with the reason.
        """
        WorkerPump.read_committed(self.env)  # leases taken by other workers meanwhile are skipped
        self.flush_model()
        self.env["integration.webhook.endpoint"].flush_model(["active", "timeout", "max_in_flight",
                                                              "send_on_neutralized"])
        neutralized = self.env["integration.worker"]._database_neutralized()
        if neutralized:
            self._cancel_neutralized()
        self.env.cr.execute(self._CLAIM_QUERY, {"limit": limit, "slack": LEASE_SLACK, "neutralized": neutralized})
        deliveries = self.browse(sorted(row[0] for row in self.env.cr.fetchall()))
        deliveries.invalidate_recordset(["claimed_until"])
        WorkerPump.commit(self.env)
        return deliveries

    @api.model
    def _cancel_neutralized(self):
        """On a neutralized copy: cancel, with the reason, what waits for an endpoint not enabled there."""
        self.env.cr.execute(SQL(
            """UPDATE integration_webhook_delivery d
                  SET state = 'cancelled', next_attempt_at = NULL, claimed_until = NULL, error = %s,
                      write_date = now() at time zone 'UTC'
                 FROM integration_webhook_endpoint e
                WHERE e.id = d.endpoint_id AND NOT e.send_on_neutralized AND d.state IN ('pending', 'failed')""",
            self._neutralized_error()))
        if self.env.cr.rowcount:
            self.invalidate_model()

    @api.model
    def _neutralized_error(self):
        return _("Not sent: this database is neutralized (a staging or test copy made with odoo neutralize). "
                 "Point the endpoint at a test receiver, press 'Enable on this copy' on it, then Retry.")

    @api.model
    def _worker_process_batch(self, limit):
        """Send up to ``limit`` due deliveries, store every outcome and return how many were attempted.

        What a cron run does continuously (``integration.worker._run``), until nothing more is
        due now; a crash re-sends what was in flight, with the same webhook-ids, once the leases
        have passed.
        """
        pump = self._worker_pump()
        try:
            return pump.drain(limit)
        finally:
            pump.close()

    @api.model
    def _worker_next_due(self):
        """Seconds until a delivery of an active endpoint next comes due (its retry, or its lease's end).

        Only future times count, and those of the last second: a row due now but not claimed waits
        for an earlier delivery of its record, for its endpoint's cap or for another worker, and
        becomes claimable only through one of these times or the end of an attempt in flight; but a
        row that came due between the run's claim and this read (a retry stored to the second) must
        not end the run, so it counts for one more second.
        """
        self.env.cr.execute(SQL("""
            SELECT EXTRACT(EPOCH FROM min(due) - (clock_timestamp() AT TIME ZONE 'UTC'))
              FROM (SELECT GREATEST(d.next_attempt_at, d.claimed_until) AS due
                      FROM integration_webhook_delivery d
                      JOIN integration_webhook_endpoint e ON e.id = d.endpoint_id AND e.active
                                                          AND (NOT %s OR e.send_on_neutralized)
                     WHERE d.state IN ('pending', 'failed')) AS rows
             WHERE due > clock_timestamp() AT TIME ZONE 'UTC' - INTERVAL '1 second'
        """, self.env["integration.worker"]._database_neutralized()))
        due = self.env.cr.fetchone()[0]
        return None if due is None else float(due)

    @api.model
    def _due_backlog(self, endpoint_ids=None):
        """``{endpoint_id: (count, oldest next_attempt_at, its age in seconds)}`` of the deliveries due now.

        Due means a worker may send it now: its time has come, its endpoint is served and no earlier
        delivery of its record is unfinished (a delivery held back by its record's order is not late).
        """
        self.flush_model()
        self.env.cr.execute(SQL("""
            SELECT d.endpoint_id, count(*), min(d.next_attempt_at),
                   EXTRACT(EPOCH FROM (clock_timestamp() AT TIME ZONE 'UTC') - min(d.next_attempt_at))
              FROM integration_webhook_delivery d
              JOIN integration_webhook_endpoint e ON e.id = d.endpoint_id AND e.active
                                                  AND (NOT %(neutralized)s OR e.send_on_neutralized)
             WHERE d.state IN ('pending', 'failed')
               AND d.next_attempt_at <= clock_timestamp() AT TIME ZONE 'UTC'
               AND (%(ids)s IS NULL OR d.endpoint_id = ANY(%(ids)s))
               AND NOT EXISTS (
                    SELECT 1 FROM integration_webhook_delivery earlier
                     WHERE earlier.endpoint_id = d.endpoint_id
                       AND earlier.model = d.model
                       AND earlier.res_id = d.res_id
                       AND earlier.id < d.id
                       AND earlier.state IN ('pending', 'failed')
                    OFFSET 0)
             GROUP BY d.endpoint_id
        """, neutralized=self.env["integration.worker"]._database_neutralized(),
            ids=list(endpoint_ids) if endpoint_ids is not None else None))
        return {row[0]: (row[1], row[2], float(row[3])) for row in self.env.cr.fetchall()}

    @api.model
    def _worker_backlog(self):
        """``(due count, oldest due time, its age in seconds)`` over every endpoint, for the worker's health."""
        backlog = self._due_backlog().values()
        if not backlog:
            return 0, None, None
        oldest = min(backlog, key=lambda row: row[1])
        return sum(row[0] for row in backlog), oldest[1], oldest[2]

    @api.model
    def _late_endpoint_ids(self, seconds):
        return [endpoint_id for endpoint_id, (_count, _oldest, age) in self._due_backlog().items() if age > seconds]

    def _prepare_requests(self):
        """Everything each attempt needs, read from the database before sending (no ORM in threads)."""
        allow_private = str2bool(
            self.env["ir.config_parameter"].sudo().get_param(ALLOW_PRIVATE_PARAM, "False"), False)
        timestamp, claimed_at = int(time.time()), time.monotonic()
        per_endpoint = {}
        requests_ = []
        for delivery in self:
            endpoint = delivery.endpoint_id.sudo()
            if endpoint.id not in per_endpoint:
                per_endpoint[endpoint.id] = (endpoint._custom_headers(), endpoint._signing_secrets())
            custom_headers, secrets = per_endpoint[endpoint.id]
            requests_.append({
                "url": endpoint.url,
                "body": delivery.payload.encode(),
                "timeout": endpoint.timeout,
                "start_by": claimed_at + endpoint.timeout + LEASE_SLACK,
                "allow_private": allow_private,
                "headers": {
                    "Content-Type": "application/json",
                    "User-Agent": wd.USER_AGENT,
                    **custom_headers,
                    "webhook-id": delivery.webhook_id,
                    "webhook-timestamp": str(timestamp),
                    "webhook-signature": wd.signature_header(secrets, delivery.webhook_id, timestamp,
                                                             delivery.payload),
                    **({"traceparent": delivery.traceparent} if delivery.traceparent else {}),
                },
            })
        return requests_

    def _record_outcomes(self, outcomes):
        """Store one attempt's outcome per delivery, in one statement for the whole group.

        The same statement adds each attempt to the history (an attempt whose delivery was
        cancelled meanwhile is kept as such) and moves the failure clock of the endpoints
        (``failing_since``): set by a failure, cleared by a success, written only when it
        changes so workers do not lock endpoint rows on every outcome.
        """
        now = fields.Datetime.now()
        skipped = self.browse(d.id for d, outcome in zip(self, outcomes, strict=True) if outcome.get("skipped"))
        rows = [delivery._outcome_row(now, **outcome)
                for delivery, outcome in zip(self, outcomes, strict=True) if not outcome.get("skipped")]
        self.flush_recordset()
        self.env["integration.webhook.endpoint"].flush_model(["failing_since"])
        if skipped:
            # started too late for its lease (a slow group ahead of it): release it for the next claim
            self.env.cr.execute(SQL("UPDATE integration_webhook_delivery SET claimed_until = NULL WHERE id IN %s",
                                    tuple(skipped.ids)))
        if not rows:
            self.invalidate_recordset()
            return
        values = SQL(", ").join(
            SQL("(%s, %s, %s, %s::timestamp, %s::timestamp, %s::timestamp, %s::int, %s, %s::float8, %s, %s, "
                "%s::int, %s, %s::timestamp, %s, %s)", *row)
            for row in rows)
        self.env.cr.execute(SQL("""
            WITH v AS MATERIALIZED (
                SELECT * FROM (VALUES %s) AS v(id, state, attempt_count, last_attempt_at, next_attempt_at,
                                               delivered_at, last_status, response_excerpt, duration_ms, error,
                                               write_uid, endpoint_id, outcome, started_at, request_headers,
                                               response_headers)
            ), updated AS (
                UPDATE integration_webhook_delivery AS d
                   SET state = v.state, attempt_count = v.attempt_count, last_attempt_at = v.last_attempt_at,
                       next_attempt_at = v.next_attempt_at, delivered_at = v.delivered_at,
                       last_status = v.last_status, response_excerpt = v.response_excerpt,
                       duration_ms = v.duration_ms, error = v.error, claimed_until = NULL,
                       write_uid = v.write_uid, write_date = v.last_attempt_at
                  FROM v
                 WHERE d.id = v.id AND d.state IN ('pending', 'failed')  -- cancelled meanwhile: stays cancelled
             RETURNING d.id
            ), history AS (
                INSERT INTO integration_webhook_attempt
                       (delivery_id, attempt, started_at, duration_ms, http_status, outcome, request_headers,
                        response_headers, response_excerpt, error)
                SELECT v.id, v.attempt_count, coalesce(v.started_at, v.last_attempt_at), round(v.duration_ms),
                       v.last_status, CASE WHEN updated.id IS NULL THEN 'cancelled' ELSE v.outcome END,
                       v.request_headers, v.response_headers, v.response_excerpt, v.error
                  FROM v LEFT JOIN updated ON updated.id = v.id
            ), failing AS (
                SELECT endpoint_id, bool_or(state = 'delivered') AS succeeded, min(last_attempt_at) AS since
                  FROM v GROUP BY endpoint_id
            ), changed AS (
                -- only the endpoints whose clock changes, locked in id order: two workers storing
                -- outcomes of the same endpoints at once wait for each other, never deadlock
                SELECT e.id, f.succeeded, f.since
                  FROM integration_webhook_endpoint e JOIN failing f ON f.endpoint_id = e.id
                 WHERE CASE WHEN f.succeeded THEN e.failing_since IS NOT NULL ELSE e.failing_since IS NULL END
                 ORDER BY e.id
                   FOR UPDATE OF e
            )
            UPDATE integration_webhook_endpoint e
               SET failing_since = CASE WHEN c.succeeded THEN NULL ELSE c.since END
              FROM changed c
             WHERE e.id = c.id
        """, values))
        self.invalidate_recordset()
        if self.env.cr.rowcount:
            self.env["integration.webhook.endpoint"].invalidate_model(["failing_since"])

    def _outcome_row(self, now, status, excerpt, error, retry_after, duration_ms, started_at=None,
                     request_headers=None, response_headers=None):
        """Delivered on 2xx; otherwise schedule the next attempt, or declare the delivery dead.

        Returns the row for ``_record_outcomes``; a 410 archives the endpoint and a dead delivery
        gets its responsible user an activity.
        """
        self.ensure_one()
        endpoint = self.endpoint_id.sudo()
        attempts = self.attempt_count + 1
        state, next_attempt_at, delivered_at, outcome = "failed", self.next_attempt_at, None, "retry"
        if status and 200 <= status < 300:
            state, delivered_at, error, outcome = "delivered", now, None, "delivered"
        else:
            if not error:
                error = _("HTTP %(status)s from the receiver", status=status)
                if status in (301, 302, 303, 307, 308):
                    error += _(" (redirects are not followed; point the endpoint at the final URL)")
            delay = wd.next_delay(wd.parse_schedule(endpoint.retry_schedule), attempts, retry_after)
            if status == 410:
                # the receiver is gone: stop the endpoint, keep its deliveries until it is reactivated
                outcome = "gone"
                endpoint.active = False
                endpoint._notify_responsible(
                    _("Webhook endpoint disabled (410 Gone)"),
                    _("%(url)s answered 410 Gone: the endpoint was archived. Pending deliveries wait "
                      "until it is reactivated.", url=endpoint.url))
            elif delay is None:
                state = outcome = "dead"
                _logger.warning("Webhook delivery %s to endpoint %s is dead after %s attempts",
                                self.webhook_id, endpoint.id, attempts)
                endpoint._notify_responsible(
                    _("Webhook delivery dead"),
                    _("Delivery %(id)s (%(model)s,%(res_id)s) failed %(count)s times; last error: %(error)s",
                      id=self.webhook_id, model=self.model, res_id=self.res_id, count=attempts, error=error))
            else:
                # from the precise clock, rounded up: ``now`` is truncated to the second, which
                # could make a short delay already due when this worker claims again
                due = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(seconds=delay)
                next_attempt_at = due.replace(microsecond=0) + timedelta(seconds=1 if due.microsecond else 0)
        return (self.id, state, attempts, now, next_attempt_at, delivered_at, status or None,
                excerpt or None, duration_ms, error or None, self.env.uid,
                endpoint.id, outcome, started_at, request_headers or None, response_headers or None)

    # ------------------------------------------------------------------ operators

    def action_retry(self):
        """Send failed or dead deliveries again now, with a fresh retry schedule (same webhook-id)."""
        self.check_access("write")
        if self.filtered(lambda d: d.state not in ("failed", "dead", "cancelled")):
            raise UserError(_("Only failed, dead or cancelled deliveries can be retried."))
        now = fields.Datetime.now()
        if self.filtered(lambda d: d.state == "failed" and d.claimed_until and d.claimed_until > now):
            # its outcome, about to be stored, would overwrite the fresh schedule
            raise UserError(_("A worker is sending this delivery right now: retry it once its attempt is over."))
        self.endpoint_id._check_sendable()
        self.write({"state": "pending", "attempt_count": 0, "next_attempt_at": now})
        self.env["integration.worker"]._trigger()

    def action_replay(self):
        """Queue the same event (same webhook-id and body) again, e.g. for a receiver that lost it."""
        self.check_access("read")
        self.browse().check_access("create")
        self.endpoint_id._check_sendable()
        replays = self.browse()
        for delivery in self:
            replays |= delivery.copy({
                "webhook_id": delivery.webhook_id,
                "state": "pending",
                "attempt_count": 0,
                "next_attempt_at": fields.Datetime.now(),
                "last_attempt_at": False,
                "delivered_at": False,
                "last_status": False,
                "response_excerpt": False,
                "duration_ms": 0,
                "error": False,
            })
        self.env["integration.worker"]._trigger()
        return replays

    def action_cancel(self):
        self.check_access("write")
        if self.filtered(lambda d: d.state not in ("pending", "failed")):
            raise UserError(_("Only pending or failed deliveries can be cancelled."))
        self.write({"state": "cancelled", "next_attempt_at": False})

    @api.model
    def _gc_delivered(self):
        """Retention: delete delivered rows older than the configured number of days (default 30)."""
        days = int(self.env["ir.config_parameter"].sudo().get_param(RETENTION_PARAM, 30))
        old = self.search([("state", "=", "delivered"),
                           ("delivered_at", "<", fields.Datetime.now() - timedelta(days=days))])
        old.unlink()
        return len(old)


class IntegrationWorker(models.AbstractModel):
    _inherit = "integration.worker"

    @api.model
    def _job_sources(self):
        return super()._job_sources() + ["integration.webhook.delivery"]
