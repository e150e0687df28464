"""The one place API and incoming webhook calls are observed, per process.

Two things happen per call. (1) It is counted for the migration figure and the legacy inventory:
a dictionary update (``tools/api_traffic.py``); a daemon thread of each process writes the batch
every ``FLUSH_SECONDS`` on its own cursor, and the process writes what is left when it exits. A
database in test mode is written only by the test itself (``integration.legacy.client.
_flush_traffic``), never in the background. (2) Its latency goes to the Prometheus histograms
(``tools/api_metrics.py``), unless the server option ``integration_suite_metrics = False``.
"""
import atexit
import logging
import os
import threading
import time

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.service import common
from odoo.service import db as db_service

from .. import series
from ..tools import api_metrics
from ..tools.api_traffic import traffic

_logger = logging.getLogger(__name__)

_flusher = None


def _forget_flusher_after_fork():
    global _flusher  # noqa: PLW0603 - one flusher thread per process
    _flusher = None


os.register_at_fork(after_in_child=_forget_flusher_after_fork)


def _registry(db):
    """The loaded registry of ``db`` if this process may write its counts in the background."""
    try:
        registry = Registry.registries[db]
    except KeyError:
        return None  # not loaded in this process (any more): kept for when it is
    if series.in_test_mode(registry) or "integration.legacy.client" not in registry:
        return None
    return registry


def flush():
    """Write every database's pending counts; a batch that fails stays pending for the next flush."""
    for db in traffic.databases():
        registry = _registry(db)
        if registry is None:
            continue
        usage, clients = traffic.take(db)
        try:
            with registry.cursor() as cr:
                api.Environment(cr, SUPERUSER_ID, {})["integration.legacy.client"]._write_traffic(usage, clients)
        except Exception:  # noqa: BLE001 - counting must never break the server; retried next time
            _logger.warning("Could not write the API traffic counts of %s; retrying later", db, exc_info=True)
            traffic.put_back(db, usage, clients)
    traffic.flushed()


def _flush_loop():
    while True:
        time.sleep(1.0)
        if traffic.due():
            flush()


def _ensure_flusher():
    global _flusher  # noqa: PLW0603 - one flusher thread per process
    if _flusher is None:
        _flusher = threading.Thread(target=_flush_loop, name="integration-api-traffic", daemon=True)
        _flusher.start()


atexit.register(flush)


def count_call(db, door, uid, key_id=None, address=None):
    """Count one authenticated call for the daily usage (the migration figure, each key's last use)."""
    traffic.count(db, door, uid, key_id, address)
    _ensure_flusher()


def client_call(db, client_key, outcome, sample):
    """Count one legacy call of a client and call shape for the inventory."""
    traffic.client_call(db, client_key, outcome, sample)
    _ensure_flusher()


def metrics_enabled():
    return series.config_flag("integration_suite_metrics")


def _labels(registry, model, method):
    """``(model, method)`` labels: only names that exist, so a caller cannot invent label values."""
    if isinstance(model, str) and model in registry:
        return model, method if isinstance(method, str) and callable(getattr(registry[model], method, None)) \
            else "_other"
    return "_other", "_other"


def json2_call(request, status):
    """One JSON/2 call answered with ``status``: counted when its caller was authenticated, timed."""
    uid = request.env.uid if getattr(request, "env", None) is not None else None
    if uid and status != 401:
        count_call(request.db, "json2", uid, getattr(request, "integration_key_id", None),
                   request.httprequest.remote_addr)
    started = getattr(request.dispatcher, "started", None) or getattr(request, "integration_started", None)
    if started is not None and request.db and metrics_enabled():
        _json, _two, model, method = (request.httprequest.path.split("/", 4)[1:] + ["", "", "", ""])[:4]
        api_metrics.observe_api(request.db, "json2", *_labels(request.registry, model, method), status,
                                time.perf_counter() - started)


def legacy_call(call, outcome, seconds):
    """One legacy call (``controllers/legacy_rpc.LegacyCall``) that ended with ``outcome``, timed."""
    if not metrics_enabled():
        return
    if call.service == "object":
        model, method = _labels(Registry(call.db), call.model_name, call.method)
    else:
        service = {"common": common, "db": db_service}.get(call.service)
        known = service and isinstance(call.rpc_method, str) and hasattr(service, f"exp_{call.rpc_method}")
        model, method = "", f"{call.service}.{call.rpc_method}" if known else "_other"
    api_metrics.observe_api(call.db, call.door.strip("/").split("/")[0], model, method, outcome, seconds)


def incoming_call(request, rule, status, started):
    """One ``/web/hook`` call of ``rule`` answered with ``status``; ``started`` is its ``time.monotonic()``."""
    if metrics_enabled():
        api_metrics.observe_incoming(request.db, rule.name or str(rule.id), status, time.monotonic() - started)
