"""Per-process Prometheus metrics of the addon's traffic (``prometheus_client``, no Odoo import).

Histograms live in the process that served the API call or received the webhook. With several
workers (``--workers``), set ``PROMETHEUS_MULTIPROC_DIR`` to an empty folder shared by the server's
processes before Odoo starts: each process then writes its values there and a scrape adds them up
(prometheus_client's multiprocess mode). Several servers are several scrape targets; Prometheus
sums them. Outgoing deliveries are read from the database at scrape time (``controllers/metrics.py``):
the same figures whichever process or server answers.
"""
import os

from prometheus_client import Histogram

# (seconds) from a cached read to a slow receiver
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

API_CALLS = Histogram(
    "integration_api_call_duration_seconds",
    "JSON/2 and legacy API calls by door, model, method and status (_count: calls) and their latency.",
    ["db", "door", "model", "method", "status"], buckets=BUCKETS)
INCOMING_CALLS = Histogram(
    "integration_webhook_incoming_duration_seconds",
    "Incoming webhook calls by rule and HTTP status (_count: calls) and their handling time.",
    ["db", "rule", "status"], buckets=BUCKETS)


def multiprocess():
    """Whether the processes of this server share their values (prometheus_client's multiprocess mode)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir"))


def observe_api(db, door, model, method, status, seconds):
    API_CALLS.labels(db, door, model, method, str(status)).observe(seconds)


def observe_incoming(db, rule, status, seconds):
    INCOMING_CALLS.labels(db, rule, str(status)).observe(seconds)
