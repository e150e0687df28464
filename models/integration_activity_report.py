from odoo import fields, models, tools
from odoo.models import parse_read_group_spec
from odoo.tools import SQL

# states shared by outgoing deliveries and incoming calls ("failed" exists in both)
STATES = [
    ("pending", "Pending"),
    ("queued", "Queued"),
    ("delivered", "Delivered"),
    ("done", "Done"),
    ("duplicate", "Duplicate"),
    ("failed", "Failed"),
    ("rejected", "Rejected"),
    ("dead", "Dead"),
    ("cancelled", "Cancelled"),
]
# the dashboard's graph colours each outcome by its key (static/src/worker_status_reports)
OUTCOMES = [("done", "Succeeded"), ("error", "Failed"), ("pending", "In progress"), ("skipped", "Cancelled")]


class IntegrationActivityReport(models.Model):
    """Outgoing deliveries and incoming calls in one read-only view, for the Integrations dashboard.

    One row per delivery or call. ``failure_rate`` is 100 for a failure, 0 for a success and
    empty otherwise (in progress, cancelled), so its average is the failure rate of finished traffic.
    ``latency_p95`` aggregates with a real 95th percentile (``p95``), not an average of averages.
    """

    _name = "integration.activity.report"
    _description = "Integration activity"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "name"

    date = fields.Datetime(readonly=True)
    kind = fields.Selection([("outgoing", "Outgoing"), ("incoming", "Incoming")], readonly=True)
    name = fields.Char(string="Endpoint / Rule", translate=True, readonly=True)
    endpoint_id = fields.Many2one("integration.webhook.endpoint", readonly=True)
    rule_id = fields.Many2one("base.automation", readonly=True)
    state = fields.Selection(STATES, readonly=True)
    http_status = fields.Integer(string="HTTP Status", aggregator=None, readonly=True)
    outcome = fields.Selection(
        OUTCOMES, readonly=True,
        help="Succeeded: delivered, or a call answered 2xx (duplicates included). Failed: a delivery failed "
             "(retrying) or dead, a call rejected or failed. In progress: pending or queued.")
    nbr = fields.Integer(string="# Events", aggregator="sum", readonly=True)
    failure_rate = fields.Float(
        string="Failure Rate (%)", aggregator="avg", readonly=True,
        help="Share of finished deliveries and calls that failed; pending and queued ones are left out.")
    duration_ms = fields.Float(string="Avg Duration (ms)", aggregator="avg", readonly=True)
    latency_p95 = fields.Float(
        string="p95 Latency (ms)", aggregator="p95", readonly=True,
        help="95th percentile of the durations in the group (last attempt of a delivery, handling of a call).")

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL("""
            CREATE VIEW %s AS (
                SELECT d.id * 2 AS id,
                       d.create_date AS date,
                       'outgoing' AS kind,
                       jsonb_build_object('en_US', e.name) AS name,
                       d.endpoint_id,
                       NULL::integer AS rule_id,
                       d.state,
                       d.last_status AS http_status,
                       CASE WHEN d.state = 'delivered' THEN 'done'
                            WHEN d.state IN ('failed', 'dead') THEN 'error'
                            WHEN d.state = 'pending' THEN 'pending'
                            ELSE 'skipped' END AS outcome,
                       CASE WHEN d.state IN ('failed', 'dead') THEN 100.0
                            WHEN d.state = 'delivered' THEN 0.0 END AS failure_rate,
                       1 AS nbr,
                       d.duration_ms,
                       d.duration_ms AS latency_p95
                  FROM integration_webhook_delivery d
                  JOIN integration_webhook_endpoint e ON e.id = d.endpoint_id
                UNION ALL
                SELECT c.id * 2 + 1,
                       c.create_date,
                       'incoming',
                       r.name,
                       NULL::integer,
                       c.rule_id,
                       c.state,
                       c.http_status,
                       CASE WHEN c.state IN ('done', 'duplicate') THEN 'done'
                            WHEN c.state IN ('failed', 'rejected') THEN 'error'
                            ELSE 'pending' END,
                       CASE WHEN c.state IN ('failed', 'rejected') THEN 100.0
                            WHEN c.state IN ('done', 'duplicate') THEN 0.0 END,
                       1,
                       c.duration_ms,
                       c.duration_ms
                  FROM integration_webhook_call c
                  JOIN base_automation r ON r.id = c.rule_id
            )""", SQL.identifier(self._table)))

    def _read_group_select(self, aggregate_spec, query):
        """Adds the ``p95`` aggregate (PostgreSQL ``percentile_cont``) used by ``latency_p95``."""
        if aggregate_spec != "__count":
            fname, __, func = parse_read_group_spec(aggregate_spec)
            if func == "p95" and fname in self._fields and self._fields[fname].type == "float":
                return SQL("percentile_cont(0.95) WITHIN GROUP (ORDER BY %s)",
                           self._field_to_sql(self._table, fname, query))
        return super()._read_group_select(aggregate_spec, query)
