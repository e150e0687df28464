"""Where a JSON/2 call's time goes, phase by phase, beside the floor route ``GET /web/version``.

Odoo's WSGI application runs in this process (no HTTP server, one client), on the throwaway
database of ``BenchServer``; each phase of Odoo's request handling is wrapped with a timer:

- routing: the registry check and ``ir.http._match`` on their read-only cursor;
- authentication: ``ir.http._authenticate`` (the bearer key check for JSON/2);
- pre-dispatch: ``ir.http._pre_dispatch``;
- body: reading and parsing the JSON body (the JSON/2 dispatcher, less what follows);
- method: ``dispatch.call`` (model and method resolution, binding, the ORM call);
- serialisation: ``dispatch.json_response``;
- commit/release: the transaction around the handler, less the handler;
- rest: everything else between the WSGI call and its return (session, database choice,
  response headers).

Calls alternate between the routes so that drift hits them alike; times are medians per call.
"""
import collections
import functools
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import BenchServer  # noqa: E402

CALLS = int(os.environ.get("BENCH_CALLS", 400))
PHASES = ("routing", "authentication", "pre-dispatch", "body", "method", "serialisation", "commit/release", "rest")


class Clock:
    def __init__(self):
        self.spent = collections.defaultdict(float)

    def wrap(self, owner, name, phase, classmethod_=False):
        original = getattr(owner, name)
        function = original.__func__ if classmethod_ else original

        @functools.wraps(function)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.spent[phase] += time.perf_counter() - started

        setattr(owner, name, classmethod(timed) if classmethod_ else timed)


def instrument(clock, registry):
    import odoo.http

    from odoo.addons.integration_suite import dispatch
    from odoo.addons.integration_suite.controllers import json2

    clock.wrap(odoo.http.Request, "_open_registry", "routing")
    IrHttp = registry["ir.http"]  # noqa: N806 - the registry's model class
    clock.wrap(IrHttp, "_match", "routing", classmethod_=True)
    clock.wrap(IrHttp, "_authenticate", "authentication", classmethod_=True)
    clock.wrap(IrHttp, "_pre_dispatch", "pre-dispatch", classmethod_=True)
    clock.wrap(odoo.http.Request, "_transactioning", "transaction")
    clock.wrap(odoo.http.Request, "_serve_ir_http", "handler")
    clock.wrap(json2.Json2Dispatcher, "dispatch", "dispatcher")
    clock.wrap(dispatch, "call", "method")
    clock.wrap(json2.dispatch, "json_response", "serialisation")


def phases(clock, total):
    """Per-phase seconds of one call, from the raw timers (nested timers subtracted)."""
    spent = clock.spent
    out = {name: spent.get(name, 0.0)
           for name in ("routing", "authentication", "pre-dispatch", "method", "serialisation")}
    dispatcher = spent.get("dispatcher", 0.0)  # the JSON/2 dispatcher only: the floor has no body
    out["body"] = max(dispatcher - out["method"] - out["serialisation"], 0.0) if dispatcher else 0.0
    out["commit/release"] = max(spent.get("transaction", 0.0) - spent.get("handler", 0.0), 0.0)
    out["rest"] = max(total - sum(out.values()), 0.0)
    return out


def main():
    with BenchServer(workers=0) as srv:
        srv.proc.terminate()  # only the database is used: Odoo runs in this process
        srv.proc.wait(30)
        srv.proc = None
        from werkzeug.test import Client

        import odoo

        odoo.tools.config.parse_config(["-c", str(srv.conf), "--db-filter", f"^{srv.db}$"])
        odoo.service.server.load_server_wide_modules()
        client = Client(odoo.http.root)
        auth = {"Authorization": f"bearer {srv.key}", "Content-Type": "application/json"}
        routes = {
            "floor GET /web/version": lambda: client.get("/web/version", headers={"X-Odoo-Database": srv.db}),
            "JSON/2 search_count, header": lambda: client.post(
                "/json/2/res.partner/search_count", data=json.dumps({"domain": []}),
                headers={**auth, "X-Odoo-Database": srv.db}),
            "JSON/2 search_count, no header": lambda: client.post(
                "/json/2/res.partner/search_count", data=json.dumps({"domain": []}), headers=auth),
        }
        for call in routes.values():
            assert call().status_code == 200
        clock = Clock()
        instrument(clock, odoo.modules.registry.Registry(srv.db))
        samples = {name: collections.defaultdict(list) for name in routes}
        for index in range(CALLS * len(routes)):
            name = list(routes)[index % len(routes)]
            clock.spent.clear()
            started = time.perf_counter()
            response = routes[name]()
            total = time.perf_counter() - started
            assert response.status_code == 200, response.get_data()[:300]
            for phase, seconds in phases(clock, total).items():
                samples[name][phase].append(seconds)
            samples[name]["total"].append(total)
        # this process's API counts are written now, while the database still runs (not at exit)
        from odoo.addons.integration_suite.controllers import traffic
        traffic.flush()
    width = max(map(len, routes))
    print(f"{'median ms per call':{width}}  " + "  ".join(f"{p:>14}" for p in (*PHASES, "total")))
    for name in routes:
        row = [statistics.median(samples[name][p]) * 1000 for p in (*PHASES, "total")]
        print(f"{name:{width}}  " + "  ".join(f"{v:14.3f}" for v in row))
    floor = statistics.median(samples["floor GET /web/version"]["total"])
    for name in list(routes)[1:]:
        print(f"{name}: {statistics.median(samples[name]['total']) / floor:.2f}x the floor's cost")
    # the addon's own share of a call: what its door adds to the floor's request handling, the ORM's
    # method and the transaction's commit left out (issue 20: at most 1.0 ms)
    own = ("routing", "authentication", "pre-dispatch", "body", "serialisation")
    for name in list(routes)[1:]:
        share = sum(statistics.median(samples[name][p]) - statistics.median(samples["floor GET /web/version"][p])
                    for p in own) * 1000
        print(f"{name}: the addon's own share (routing + authentication + pre-dispatch + body + serialisation, "
              f"less the floor's) {share:.3f} ms")
    print(f"({CALLS} calls per route, alternating, Odoo in-process without an HTTP server)")


if __name__ == "__main__":
    main()
