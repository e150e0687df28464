"""``GET /metrics``: the addon's traffic in Prometheus' text format, for a user of the Metrics group.

Two kinds of figures (each family's help says which):

* per-process histograms (``tools/api_metrics.py``): JSON/2 and legacy calls, incoming webhook
  calls. A scrape sees the process that answers it, or every process of the server when they
  share ``PROMETHEUS_MULTIPROC_DIR``; sum them over the servers (``sum by (...)`` in PromQL);
* gauges read from the database at scrape time: outgoing deliveries by endpoint and state, their
  attempts and latency, the queue and the age of its oldest due delivery, queued incoming calls,
  the JSON/2 share. Every process and server answers the same values: do not sum them over
  servers (``max by (...)``).
"""
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from odoo import http
from odoo.exceptions import AccessError
from odoo.http import request

from ..tools import api_metrics

# attempts this recent make the latency quantiles
LATENCY_WINDOW_MINUTES = 15


class _DatabaseFigures:
    """The gauges read from ``env``'s database when scraped."""

    def __init__(self, env):
        self.env = env

    def _rows(self, query, params=()):
        self.env.cr.execute(query, params)
        return self.env.cr.fetchall()

    def collect(self):
        db = self.env.cr.dbname
        gauge = GaugeMetricFamily
        deliveries = gauge("integration_webhook_deliveries",
                           "Outgoing deliveries kept in the database by endpoint and state (database gauge).",
                           labels=["db", "endpoint", "state"])
        attempts = gauge("integration_webhook_delivery_attempts",
                         "Attempts made by the deliveries kept in the database, by endpoint (database gauge).",
                         labels=["db", "endpoint"])
        tries = {}
        for endpoint, state, count, attempt_count in self._rows("""
                SELECT e.name, d.state, count(*), sum(d.attempt_count)
                  FROM integration_webhook_delivery d JOIN integration_webhook_endpoint e ON e.id = d.endpoint_id
                 GROUP BY e.name, d.state"""):
            deliveries.add_metric([db, endpoint, state], count)
            tries[endpoint] = tries.get(endpoint, 0) + (attempt_count or 0)
        for endpoint, count in tries.items():
            attempts.add_metric([db, endpoint], count)
        yield deliveries
        yield attempts
        latency = gauge("integration_webhook_attempt_latency_seconds",
                        f"Median and 95th percentile of the last attempt's duration of the deliveries attempted in "
                        f"the last {LATENCY_WINDOW_MINUTES} minutes, by endpoint (database gauge).",
                        labels=["db", "endpoint", "quantile"])
        for endpoint, p50, p95 in self._rows("""
                SELECT e.name, percentile_cont(0.5) WITHIN GROUP (ORDER BY d.duration_ms),
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY d.duration_ms)
                  FROM integration_webhook_delivery d JOIN integration_webhook_endpoint e ON e.id = d.endpoint_id
                 WHERE d.last_attempt_at > (now() AT TIME ZONE 'UTC') - make_interval(mins => %s)
                   AND d.duration_ms IS NOT NULL
                 GROUP BY e.name""", [LATENCY_WINDOW_MINUTES]):
            latency.add_metric([db, endpoint, "0.5"], p50 / 1000)
            latency.add_metric([db, endpoint, "0.95"], p95 / 1000)
        yield latency
        queue = gauge("integration_webhook_queue_depth",
                      "Deliveries waiting for an attempt (pending or failed and retrying) of active endpoints, "
                      "by endpoint (database gauge).", labels=["db", "endpoint"])
        oldest = gauge("integration_webhook_oldest_due_age_seconds",
                       "Age of the oldest delivery due now (its attempt time has passed) of active endpoints, by "
                       "endpoint; 0 when none is late (database gauge).", labels=["db", "endpoint"])
        for endpoint, waiting, age in self._rows("""
                SELECT e.name, count(*),
                       COALESCE(EXTRACT(EPOCH FROM (now() AT TIME ZONE 'UTC') - min(d.next_attempt_at)
                                FILTER (WHERE d.next_attempt_at <= now() AT TIME ZONE 'UTC')), 0)
                  FROM integration_webhook_delivery d
                  JOIN integration_webhook_endpoint e ON e.id = d.endpoint_id AND e.active
                 WHERE d.state IN ('pending', 'failed')
                 GROUP BY e.name"""):
            queue.add_metric([db, endpoint], waiting)
            oldest.add_metric([db, endpoint], max(float(age), 0.0))
        yield queue
        yield oldest
        incoming = gauge("integration_webhook_incoming_calls",
                         "Incoming webhook calls kept in the call log by rule and state (database gauge).",
                         labels=["db", "rule", "state"])
        for rule, state, count in self._rows("""
                SELECT COALESCE(r.name->>'en_US', r.id::text), c.state, count(*)
                  FROM integration_webhook_call c JOIN base_automation r ON r.id = c.rule_id
                 GROUP BY 1, c.state"""):
            incoming.add_metric([db, rule, state], count)
        yield incoming
        share = self.env["integration.api.usage"]._json2_share()
        json2 = gauge("integration_api_json2_share_ratio",
                      "Share of the authenticated API calls of the last 7 days made over JSON/2 (database gauge).",
                      labels=["db"])
        if share is not None:
            json2.add_metric([db], share / 100)
        yield json2


class _ThisDatabase:
    """The per-process families, restricted to the scraped database's series."""

    def __init__(self, source, db):
        self.source, self.db = source, db

    def collect(self):
        for family in self.source.collect():
            family.samples = [sample for sample in family.samples if sample.labels.get("db", self.db) == self.db]
            yield family


class MetricsController(http.Controller):
    @http.route("/metrics", type="http", auth="bearer", methods=["GET"], readonly=True, save_session=False)
    def metrics(self):
        if not request.env.user.has_group("integration_suite.group_metrics"):
            raise AccessError(request.env._("Reading the metrics needs the Integration Metrics group."))
        process = REGISTRY
        if api_metrics.multiprocess():
            process = CollectorRegistry()
            MultiProcessCollector(process)
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_ThisDatabase(process, request.db))
        registry.register(_DatabaseFigures(request.env(su=True)))
        body = generate_latest(registry)
        return request.make_response(body, headers=[("Content-Type", CONTENT_TYPE_LATEST),
                                                    ("Cache-Control", "no-store")])
