"""Cost of the per-call metrics on JSON/2: the same database served with and without them, side by side.

Two Odoo servers (2 workers each, no cron thread) serve the same database: one as configured by
default (every JSON/2 call timed into the Prometheus histogram, in prometheus_client's
multiprocess mode as a prefork server runs it), the other with the server option
``integration_suite_metrics = False``. Rounds alternate the two with the same
``POST /json/2/res.partner/search_read``; each round runs CLIENTS keep-alive threads for
SECONDS. Printed: throughput and CPU time per call of each (see side_server.py) and the JSON/2
calls a scrape of ``/metrics`` counted.
"""
import os
import sys
import tempfile
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import BenchServer  # noqa: E402
from side_server import SideServer, compare  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", 8))
SECONDS = float(os.environ.get("BENCH_SECONDS", 4))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", 2))
BODY = {"domain": [["is_company", "=", True]], "fields": ["name", "email", "country_id"], "limit": 20,
        "context": {"lang": "en_US"}}


def json2_call(session, target):
    res = session.post(f"{target.url}/json/2/res.partner/search_read", json=BODY, timeout=30,
                       headers={"Authorization": f"bearer {target.key}"})
    assert res.status_code == 200, res.text
    return res


def main():
    # as a prefork server runs it: the workers share their values, so one scrape sees every call
    with tempfile.TemporaryDirectory(prefix="is-bench-metrics-") as shared, BenchServer(workers=2) as srv:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = shared
        scraper_key = srv.shell(
            'from odoo.addons.integration_suite.series import GROUPS_FIELD; '
            'user = env["res.users"].create({"name": "Prometheus", "login": "prometheus", GROUPS_FIELD: '
            '[(6, 0, [env.ref("base.group_portal").id, env.ref("integration_suite.group_metrics").id])]}); '
            'print("KEY=" + env["res.users.apikeys"].with_user(user).sudo()._generate("rpc", "scrape", None)); '
            'env.cr.commit()').split("KEY=")[1].split()[0]
        with SideServer(srv, srv.db) as on, SideServer(srv, srv.db, "integration_suite_metrics = False") as off:
            results = compare([("on", on), ("off", off)], json2_call, ROUNDS, CLIENTS, SECONDS)
            scrape = requests.get(on.url + "/metrics", headers={"Authorization": f"bearer {scraper_key}"}, timeout=30)
        counted = sum(float(line.rsplit(" ", 1)[1]) for line in scrape.text.splitlines()
                      if line.startswith("integration_api_call_duration_seconds_count{") and 'door="json2"' in line)
        (rate, cpu), (base_rate, base_cpu) = results["on"], results["off"]
        print(f"JSON/2 search_read, metrics off (integration_suite_metrics = False) : {base_rate:8.1f} calls/s  "
              f"{base_cpu:6.2f} ms CPU/call")
        print(f"JSON/2 search_read, metrics on (default)                            : {rate:8.1f} calls/s  "
              f"{cpu:6.2f} ms CPU/call")
        print(f"cost of the metrics on JSON/2: throughput {100 * (1 - rate / base_rate):+.1f} %, "
              f"CPU per call {100 * (cpu / base_cpu - 1):+.1f} %  (target <= 3 %)")
        print(f"JSON/2 calls in one scrape of the server with metrics (both workers): {counted:.0f}")
        print(f"({ROUNDS} alternating rounds of {SECONDS:.0f}s, {CLIENTS} keep-alive clients, 2 workers per server)")


if __name__ == "__main__":
    main()
