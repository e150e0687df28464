import logging
import time

from odoo import api, models

_logger = logging.getLogger(__name__)


class IntegrationWorker(models.AbstractModel):
    """The one background worker of the suite.

    It sends outgoing webhook deliveries and runs asynchronous incoming
    calls. Each kind of job is a *source*: a model that adds its name in
    ``_job_sources`` and implements ``_worker_process_batch(limit)``, which
    claims due rows with ``FOR UPDATE SKIP LOCKED``, processes them, commits
    and returns how many it processed. Several cron workers and servers can
    therefore run it at once without doing a job twice.
    """

    _name = "integration.worker"
    _description = "Integration worker"

    @api.model
    def _job_sources(self):
        return []

    @api.model
    def _run(self, time_budget=50.0, batch_size=50):
        """Cron entry point: drain every source until nothing is due or the budget is spent."""
        deadline = time.monotonic() + time_budget
        while time.monotonic() < deadline:
            processed = 0
            for source in self._job_sources():
                processed += self.env[source]._worker_process_batch(batch_size)
            if not processed:
                break

    @api.model
    def _trigger(self, at=None):
        """Wake the worker after the current transaction commits (or at ``at``)."""
        self.env.ref("integration_suite.cron_integration_worker").sudo()._trigger(at)
