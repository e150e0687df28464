import logging
import os
import threading
import time
import traceback
from datetime import timedelta

import psycopg2

from odoo import SUPERUSER_ID, _, api, fields, models
from odoo.exceptions import AccessError
from odoo.sql_db import connection_info_for
from odoo.tools import SQL, str2bool

from odoo.addons.base.models.ir_cron import ODOO_NOTIFY_FUNCTION

_logger = logging.getLogger(__name__)

# set by every module's data/neutralize.sql (`odoo neutralize`, Odoo.sh staging copies)
NEUTRALIZED_PARAM = "database.is_neutralized"
ALARM_PARAM = "integration_suite.worker_alarm_minutes"
DEFAULT_ALARM_MINUTES = 15
# the name of the worker's failures in Settings > Technical > Logging (ir.logging)
FAILURE_LOG_NAME = "integration_suite.worker"
# a worker is a scheduled action on this model whose code calls _run(): the shipped ones, and any
# copy an administrator makes to add workers
WORKER_CODE_PATTERN = "model._run(%"

# One connection per process to the ``postgres`` database, where cron threads LISTEN. Core's
# ir.cron._notifydb opens (and closes) a new one for every trigger: ~3 ms that every user
# transaction queuing a webhook would otherwise pay after its commit.
_notify_lock = threading.Lock()
_notify_connection = None
# a connection opened before a fork (prefork server) belongs to the parent: a child must neither use
# nor close it (closing would end the parent's session), so it is only kept referenced
_inherited_connections = []
# per database, the process's pending wake-up: (monotonic time it fires, timer)
_wakeup_lock = threading.Lock()
_wakeups = {}
# seconds after the due time at which a wake-up fires, so the database clock has passed it too
WAKE_MARGIN = 0.1
# a cron found inactive by a user transaction is reported at most this often per process
_inactive_checks = {}
INACTIVE_CHECK_INTERVAL = 60.0


def _forget_process_state_after_fork():
    global _notify_connection  # noqa: PLW0603 - the per-process connection
    if _notify_connection is not None:
        _inherited_connections.append(_notify_connection)
        _notify_connection = None
    _wakeups.clear()  # the parent's timer threads do not exist in the child


os.register_at_fork(after_in_child=_forget_process_state_after_fork)


def _notify_cron_workers(dbname):
    """Wake the cron threads of every server now; a failure only delays the run to the next poll."""
    global _notify_connection  # noqa: PLW0603 - the per-process connection
    query = SQL("SELECT %s('cron_trigger', %s)", SQL.identifier(ODOO_NOTIFY_FUNCTION), dbname)
    with _notify_lock:
        for _attempt in range(2):  # a kept connection may have been closed by the server: reconnect once
            try:
                if _notify_connection is None or _notify_connection.closed:
                    _notify_connection = psycopg2.connect(**connection_info_for("postgres")[1])
                    _notify_connection.autocommit = True
                with _notify_connection.cursor() as cr:
                    cr.execute(query.code, query.params)
                return
            except psycopg2.Error:
                _notify_connection = None
        _logger.warning("Could not notify the cron workers; the integration worker runs at its next poll")


def _wake_at(dbname, seconds):
    """Notify the cron threads in ``seconds``: cron threads only poll once a minute by themselves.

    One timer per process and database; an earlier pending one is kept (the run it starts
    schedules the next wake-up). If the process ends first, the cron trigger written with
    the due time still runs the worker at the next poll of any server.
    """
    fires_at = time.monotonic() + seconds + WAKE_MARGIN
    with _wakeup_lock:
        pending = _wakeups.get(dbname)
        if pending and pending[1].is_alive():
            if pending[0] <= fires_at:
                return
            pending[1].cancel()
        timer = threading.Timer(seconds + WAKE_MARGIN, _notify_cron_workers, [dbname])
        timer.daemon = True
        timer.name = f"integration-worker-wakeup-{dbname}"
        _wakeups[dbname] = (fires_at, timer)
        timer.start()


def _testing():
    return getattr(threading.current_thread(), "testing", False)


class WorkerPump:
    """One job source's share of a worker run.

    ``integration.worker._run`` steps every source's pump in turn: ``step`` claims due jobs
    (when ``claim``), starts or runs them and stores finished outcomes, committing as it goes,
    and returns whether it did anything. A pump with jobs ``in_flight`` is waited on through
    ``wait``; ``next_due`` gives the seconds until its next job comes due (``None``: none);
    ``backlog`` says the last claim found more due jobs than this worker takes at once.
    ``close`` finishes what is in flight; ``abandon`` drops it after a failure (the leases of
    what was in flight expire and another run takes those jobs again).
    """

    in_flight = 0
    backlog = False

    def __init__(self, model):
        self.model = model

    def step(self, claim=True):
        return False

    def wait(self, timeout):
        time.sleep(timeout)

    def next_due(self):
        return None

    def close(self):
        pass

    def abandon(self):
        pass

    @staticmethod
    def commit(env):
        """Make outcomes durable; tests run inside a transaction they roll back."""
        if not _testing():
            # the worker owns its transaction (a cron job), like queue_job's runner
            env.cr.commit()  # pylint: disable=invalid-commit

    @staticmethod
    def read_committed(env):
        """End the transaction; the next one runs in READ COMMITTED, the mode SKIP LOCKED is made for.

        A claim or an outcome then re-reads the rows another worker or an operator changed
        meanwhile (a lease, a cancellation) instead of failing on them as Odoo's repeatable read
        would. Not in tests, which never end their transaction.
        """
        if not _testing():
            env.cr.commit()  # pylint: disable=invalid-commit
            env.cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")

    @staticmethod
    def rollback(env):
        """Forget a failed step's writes (kept in tests, whose transaction is rolled back anyway)."""
        if not _testing():
            env.cr.rollback()


class IntegrationWorker(models.AbstractModel):
    """The background worker of the suite: outgoing deliveries and asynchronous incoming calls.

    Each kind of job is a *source*: a model that adds its name in ``_job_sources`` and returns a
    ``WorkerPump`` from ``_worker_pump()``. A worker is an ``ir.cron`` whose code is
    ``model._run()``; core locks a cron's row for its whole run, so the addon ships several of
    them (*worker slots*): a commit that queues work triggers the first active one, and a run
    that finds more due jobs than it takes at once triggers the others, which cron threads of
    this server and of every other server sharing the database then run in parallel. Leases and
    ``FOR UPDATE SKIP LOCKED`` keep two workers from taking the same job.

    A run ends when nothing is due; it then writes a cron trigger at the next due time (a retry,
    an expiring lease) and arms a timer that wakes the cron threads then, so retries leave on
    time instead of at the next once-a-minute poll.
    """

    _name = "integration.worker"
    _description = "Integration worker"

    # a job due within this many seconds is waited for by the running job instead of a new run
    SHORT_WAIT = 2.0
    # a run with jobs in flight and nothing else to do looks again after this many seconds
    POLL = 0.25

    @api.model
    def _job_sources(self):
        return []

    # ------------------------------------------------------------------ the run

    @api.model
    def _run(self, time_budget=50.0):
        """Cron entry point: run every source until nothing is due or the budget is spent.

        Each source runs isolated: an exception in one is logged with its traceback (server log
        and *Settings › Technical › Logging*) and ends that source's share of the run; the other
        sources go on, and the cron itself never fails (core would count the failures and
        eventually deactivate it, stopping both directions).
        """
        deadline = time.monotonic() + time_budget
        pumps = {}
        for source in self._job_sources():
            ok, pump = self._isolated(source, self.env[source]._worker_pump)
            if ok:
                pumps[source] = pump
        helped = False
        while pumps:
            claiming = time.monotonic() < deadline
            worked = False
            for source, pump in list(pumps.items()):
                ok, done = self._isolated(source, pump.step, claiming)
                if not ok:
                    pumps.pop(source).abandon()
                worked = worked or bool(done)
            if not helped and any(pump.backlog for pump in pumps.values()):
                helped = True
                self._call_helpers()
            if worked:
                continue
            busy = [pump for pump in pumps.values() if pump.in_flight]
            if busy:
                busy[0].wait(self.POLL)
                continue
            if not claiming:
                break
            wait = min(self._next_dues(pumps), default=self.SHORT_WAIT + 1)
            if wait > self.SHORT_WAIT or time.monotonic() + wait >= deadline:
                break
            time.sleep(max(wait, 0.0) + 0.05)
        for source, pump in pumps.items():
            self._isolated(source, pump.close)
        if time.monotonic() >= deadline and any(pump.backlog for pump in pumps.values()):
            self._trigger()  # the budget ran out, not the work: at once (after this run's commit)
        elif dues := self._next_dues(pumps):
            self._trigger(delay=max(min(dues), 0.0))

    @api.model
    def _next_dues(self, pumps):
        """The seconds until each source's next job comes due (sources with none left out)."""
        dues = []
        for source, pump in pumps.items():
            ok, due = self._isolated(source, pump.next_due)
            if ok and due is not None:
                dues.append(due)
        return dues

    @api.model
    def _isolated(self, source, function, *args):
        """``(True, function(*args))``, or ``(False, None)`` once the exception is logged with its traceback."""
        try:
            return True, function(*args)
        except Exception:  # noqa: BLE001 - one source's failure must not stop the others
            WorkerPump.rollback(self.env)
            _logger.exception("Integration worker: the job source %s failed; the other sources go on", source)
            self._log_failure(source, traceback.format_exc())
            return False, None

    @api.model
    def _log_failure(self, source, text):
        """Keep a source's failure in ir.logging, where the dashboard and administrators find it."""
        try:
            self.env["ir.logging"].sudo().create({
                "name": FAILURE_LOG_NAME, "type": "server", "dbname": self.env.cr.dbname, "level": "ERROR",
                "message": f"{source}: {text}", "path": source, "func": "_run", "line": "0",
            })
            WorkerPump.commit(self.env)
        except Exception:  # noqa: BLE001 - the traceback is in the server log already
            WorkerPump.rollback(self.env)
            _logger.warning("Integration worker: could not store the failure of %s in ir.logging", source)

    # ------------------------------------------------------------------ waking workers

    @api.model
    def _worker_crons(self):
        """The worker slots: every scheduled action on this model whose code runs ``_run``."""
        self.env["ir.cron"].flush_model(["active", "lastcall"])
        self.env.cr.execute(SQL(
            """SELECT c.id, c.active, c.lastcall FROM ir_cron c
                 JOIN ir_act_server a ON a.id = c.ir_actions_server_id
                 JOIN ir_model m ON m.id = a.model_id
                WHERE m.model = %s AND a.code LIKE %s ORDER BY c.id""",
            self._name, WORKER_CODE_PATTERN))
        return self.env.cr.fetchall()

    @api.model
    def _trigger(self, delay=None):
        """Run a worker after the current transaction commits, or ``delay`` seconds from now.

        A plain ``ir.cron`` trigger for the first active worker slot, written with one statement
        (this runs in every user transaction that queues a webhook) and skipped when no worker is
        active, as core does — which is then reported (``_check_health``) after the commit. The
        wake-up notification goes over the kept connection. An immediate trigger is stamped with
        the clock at this point (just before commit), not the start of the transaction: a cron
        run that started meanwhile deletes only triggers older than its own start, so this one
        survives and the worker runs again. A delayed one (on the database's clock) is not
        written twice and arms a timer that wakes the cron threads when it is due.
        """
        when = SQL("clock_timestamp() at time zone 'UTC' + make_interval(secs => %s)", delay or 0.0)
        self.env["ir.cron"].flush_model(["active"])
        self.env.cr.execute(SQL(
            """INSERT INTO ir_cron_trigger (cron_id, call_at, create_uid, create_date, write_uid, write_date)
               SELECT slot.id, %(when)s, %(uid)s, now() at time zone 'UTC', %(uid)s, now() at time zone 'UTC'
                 FROM (SELECT c.id FROM ir_cron c JOIN ir_act_server a ON a.id = c.ir_actions_server_id
                         JOIN ir_model m ON m.id = a.model_id
                        WHERE c.active AND m.model = %(model)s AND a.code LIKE %(code)s
                        ORDER BY c.id LIMIT 1) AS slot
                WHERE NOT %(delayed)s OR NOT EXISTS (
                       SELECT 1 FROM ir_cron_trigger t
                        WHERE t.cron_id = slot.id AND t.call_at > clock_timestamp() at time zone 'UTC'
                          AND t.call_at <= %(when)s)""",
            when=when, uid=self.env.uid, model=self._name, code=WORKER_CODE_PATTERN, delayed=delay is not None,
        ))
        dbname = self.env.cr.dbname
        if delay is not None:
            self.env.cr.postcommit.add(lambda: _wake_at(dbname, delay))
        elif self.env.cr.rowcount:
            self.env.cr.postcommit.add(lambda: _notify_cron_workers(dbname))
        else:
            self.env.cr.postcommit.add(lambda: self._report_inactive(dbname))

    @api.model
    def _call_helpers(self):
        """Trigger the other active worker slots now: this run alone cannot keep up with what is due."""
        self.env["ir.cron"].flush_model(["active"])
        self.env.cr.execute(SQL(
            """INSERT INTO ir_cron_trigger (cron_id, call_at, create_uid, create_date, write_uid, write_date)
               SELECT c.id, clock_timestamp() at time zone 'UTC', %(uid)s, now() at time zone 'UTC',
                      %(uid)s, now() at time zone 'UTC'
                 FROM ir_cron c JOIN ir_act_server a ON a.id = c.ir_actions_server_id
                 JOIN ir_model m ON m.id = a.model_id
                WHERE c.active AND m.model = %(model)s AND a.code LIKE %(code)s
                  AND c.id IS DISTINCT FROM %(own)s""",
            uid=self.env.uid, model=self._name, code=WORKER_CODE_PATTERN, own=self.env.context.get("cron_id"),
        ))
        if self.env.cr.rowcount:
            dbname = self.env.cr.dbname
            self.env.cr.postcommit.add(lambda: _notify_cron_workers(dbname))
            WorkerPump.commit(self.env)

    def _report_inactive(self, dbname):
        """After a commit that queued work while no worker is active: raise the alarm (throttled)."""
        now = time.monotonic()
        if now - _inactive_checks.get(dbname, -INACTIVE_CHECK_INTERVAL) < INACTIVE_CHECK_INTERVAL:
            return
        _inactive_checks[dbname] = now
        try:
            with self.env.registry.cursor() as cr:
                api.Environment(cr, SUPERUSER_ID, {})[self._name]._check_health()
        except Exception:  # noqa: BLE001 - the user's transaction is committed; never fail after it
            _logger.exception("Integration worker: could not check its health")

    # ------------------------------------------------------------------ health

    @api.model
    def _database_neutralized(self):
        return str2bool(self.env["ir.config_parameter"].sudo().get_param(NEUTRALIZED_PARAM) or "False", False)

    @api.model
    def _alarm_minutes(self):
        try:
            return float(self.env["ir.config_parameter"].sudo().get_param(ALARM_PARAM, DEFAULT_ALARM_MINUTES))
        except ValueError:
            return DEFAULT_ALARM_MINUTES

    @api.model
    def get_worker_status(self):
        """The worker's state as the dashboard and the endpoint list show it (administrators only)."""
        if not self.env.is_system():
            raise AccessError(_("Only administrators can see the state of the integration worker."))
        return self._worker_status()

    @api.model
    def _worker_status(self):
        """Workers (active or not, last run), each source's due backlog and its age, problems."""
        crons = self._worker_crons()
        alarm_minutes = self._alarm_minutes()
        queues = []
        for source in self._job_sources():
            count, oldest, age = self.env[source]._worker_backlog()
            queues.append({
                "source": source, "label": self.env[source]._description, "due": count,
                "oldest_due": fields.Datetime.to_string(oldest), "age": age,
                "late": age is not None and age > alarm_minutes * 60,
            })
        self.env.cr.execute(
            """SELECT create_date, message FROM ir_logging WHERE name = %s AND create_date > %s
               ORDER BY id DESC LIMIT 1""", [FAILURE_LOG_NAME, fields.Datetime.now() - timedelta(days=1)])
        failure = self.env.cr.fetchone()
        status = {
            "neutralized": self._database_neutralized(),
            "workers": len(crons),
            "active_workers": sum(1 for _id, active, _last in crons if active),
            "last_run": fields.Datetime.to_string(max((last for *_r, last in crons if last), default=None)),
            "alarm_minutes": alarm_minutes,
            "queues": queues,
            "last_failure": failure and {"date": fields.Datetime.to_string(failure[0]),
                                         "message": failure[1].strip().splitlines()[-1][:300]},
        }
        problems = []
        if not status["active_workers"]:
            problems.append(_("The integration worker's scheduled actions are all inactive: nothing is sent "
                              "or run until one is activated again (Settings › Technical › Scheduled Actions)."))
        for queue in queues:
            if queue["late"]:
                problems.append(_("%(label)s: %(count)s due, the oldest for %(minutes)s minutes (alarm after "
                                  "%(threshold)s).", label=queue["label"], count=queue["due"],
                                  minutes=int(queue["age"] // 60), threshold=alarm_minutes))
        status["problems"] = problems
        return status

    @api.model
    def _check_health(self):
        """Raise the alarm while the worker is inactive or late; clear it once healthy again.

        The responsible users get one activity each (the alarm type), on one of their endpoints,
        however long the problem lasts and however many deliveries wait. A neutralized copy
        sends nothing on purpose: no alarm there.
        """
        status = self._worker_status()
        if status["neutralized"]:
            return status
        Endpoint = self.env["integration.webhook.endpoint"].sudo()
        if not status["problems"]:
            self._alarm_activities().action_feedback(feedback=_("The integration worker is healthy again."))
            return status
        late = {queue["source"] for queue in status["queues"] if queue["late"]}
        if status["active_workers"] and late == {"integration.webhook.delivery"}:
            # only outgoing deliveries are late: tell the responsible users of the late endpoints
            endpoints = Endpoint.browse(self.env["integration.webhook.delivery"]._late_endpoint_ids(
                status["alarm_minutes"] * 60))
        else:
            endpoints = Endpoint.search([])
        if not endpoints:
            _logger.warning("Integration worker alarm (no endpoint to attach it to): %s", " ".join(status["problems"]))
            return status
        alerted = self._alarm_activities().user_id
        admin = self.env.ref("base.user_admin")
        recipients = {}
        for endpoint in endpoints:
            user = endpoint.user_id if endpoint.user_id.active else admin
            recipients.setdefault(user, endpoint)
        note = "<br/>".join(status["problems"])
        for user, endpoint in recipients.items():
            if user not in alerted:
                endpoint.activity_schedule(
                    "integration_suite.mail_activity_type_worker_alarm",
                    summary=_("Integration worker: deliveries are not going out"), note=note, user_id=user.id)
        return status

    @api.model
    def _alarm_activities(self):
        activity_type = self.env.ref("integration_suite.mail_activity_type_worker_alarm", raise_if_not_found=False)
        if not activity_type:
            return self.env["mail.activity"]
        return self.env["mail.activity"].sudo().search([("activity_type_id", "=", activity_type.id)])
