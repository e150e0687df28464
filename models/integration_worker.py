import logging
import os
import threading
import time

import psycopg2

from odoo import api, models
from odoo.sql_db import connection_info_for
from odoo.tools import SQL

from odoo.addons.base.models.ir_cron import ODOO_NOTIFY_FUNCTION

_logger = logging.getLogger(__name__)

# One connection per process to the ``postgres`` database, where cron threads LISTEN. Core's
# ir.cron._notifydb opens (and closes) a new one for every trigger: ~3 ms that every user
# transaction queuing a webhook would otherwise pay after its commit.
_notify_lock = threading.Lock()
_notify_connection = None
# a connection opened before a fork (prefork server) belongs to the parent: a child must neither use
# nor close it (closing would end the parent's session), so it is only kept referenced
_inherited_connections = []


def _forget_connection_after_fork():
    global _notify_connection  # noqa: PLW0603 - the per-process connection
    if _notify_connection is not None:
        _inherited_connections.append(_notify_connection)
        _notify_connection = None


os.register_at_fork(after_in_child=_forget_connection_after_fork)


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


class IntegrationWorker(models.AbstractModel):
    """The one background worker of the suite.

    It sends outgoing webhook deliveries and runs asynchronous incoming
    calls. Each kind of job is a *source*: a model that adds its name in
    ``_job_sources`` and implements ``_worker_process_batch(limit)``, which
    claims due rows with ``FOR UPDATE SKIP LOCKED``, processes them, commits
    and returns how many it processed, and ``_worker_next_due()``, the seconds
    until its next row comes due (``None`` for none). Several cron workers and
    servers can therefore run it at once without doing a job twice.
    """

    # a retry due within this many seconds is waited for by the running job; later ones are picked
    # up by the cron's next run (cron threads poll at most a minute apart)
    SHORT_WAIT = 10.0

    _name = "integration.worker"
    _description = "Integration worker"

    @api.model
    def _job_sources(self):
        return []

    @api.model
    def _run(self, time_budget=50.0, batch_size=100):
        """Cron entry point: drain every source until nothing is due or the budget is spent."""
        deadline = time.monotonic() + time_budget
        while time.monotonic() < deadline:
            processed = 0
            for source in self._job_sources():
                processed += self.env[source]._worker_process_batch(batch_size)
            if processed:
                continue
            waits = [due for source in self._job_sources()
                     if (due := self.env[source]._worker_next_due()) is not None]
            wait = max(min(waits, default=self.SHORT_WAIT + 1), 0.0)
            if wait > self.SHORT_WAIT or time.monotonic() + wait >= deadline:
                break
            time.sleep(wait + 0.05)

    @api.model
    def _trigger(self, at=None):
        """Run the worker's cron after the current transaction commits (or at ``at``).

        A plain ``ir.cron`` trigger, written with one statement (this runs in every user
        transaction that queues a webhook) and skipped while the cron is archived, as core does;
        the wake-up notification goes over the kept connection. An immediate trigger is stamped
        with the clock at this point (just before commit), not the start of the transaction: a
        cron run that started meanwhile deletes only triggers older than its own start, so this
        one survives and the worker runs again.
        """
        cron_id = self.env["ir.model.data"]._xmlid_to_res_id("integration_suite.cron_integration_worker")
        self.env.cr.execute(SQL(
            """INSERT INTO ir_cron_trigger (cron_id, call_at, create_uid, create_date, write_uid, write_date)
               SELECT id, COALESCE(%s, clock_timestamp() at time zone 'UTC'), %s, now() at time zone 'UTC',
                      %s, now() at time zone 'UTC'
                 FROM ir_cron WHERE id = %s AND active""",
            at, self.env.uid, self.env.uid, cron_id,
        ))
        if at is None and self.env.cr.rowcount:
            dbname = self.env.cr.dbname
            self.env.cr.postcommit.add(lambda: _notify_cron_workers(dbname))
