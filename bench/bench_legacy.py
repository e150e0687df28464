"""Cost of the legacy-door inventory on /jsonrpc: the addon's server vs stock 18.0, side by side.

Two Odoo servers (2 workers each, no cron thread) on the same PostgreSQL cluster: one serves a
database with integration_suite (every /jsonrpc call counted per client, deprecation headers,
retirement check), the other a database with only the addon's dependencies (web,
base_automation), i.e. stock 18.0. Rounds alternate the two with the same execute_kw search_read
and an API key of each database's admin; each round runs CLIENTS keep-alive threads for SECONDS.
Printed: throughput and CPU time per call of each server (see side_server.py), the cost of the
addon on both, and the calls the inventory counted (written by each worker every FLUSH_SECONDS).
"""
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import ROOT, BenchServer, _bash  # noqa: E402
from side_server import SideServer, compare  # noqa: E402

sys.path.insert(0, str(ROOT / "tools"))
from api_traffic import FLUSH_SECONDS  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", 8))
SECONDS = float(os.environ.get("BENCH_SECONDS", 4))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", 2))
STOCK_DB = "integration_bench_stock"
DOMAIN = [["is_company", "=", True]]
FIELDS = ["name", "email", "country_id"]


def stock_database(srv):
    """A database with the addon's dependencies only, and an API key of its admin."""
    subprocess.run([srv.odoo, "-c", srv.conf, "-d", STOCK_DB, "-i", "base_automation", *_bash("no_demo_args").split(),
                    "--stop-after-init"], check=True, capture_output=True)
    done = subprocess.run(
        [srv.odoo, "shell", "-c", srv.conf, "-d", STOCK_DB, "--no-http"], check=True, capture_output=True, text=True,
        input='print("KEY=" + env["res.users.apikeys"].with_user(env.ref("base.user_admin"))'
              '.sudo()._generate("rpc", "bench", None)); env.cr.commit()')
    return done.stdout.split("KEY=")[1].split()[0]


def jsonrpc_call(session, target):
    res = session.post(f"{target.url}/jsonrpc", timeout=30, json={
        "jsonrpc": "2.0", "method": "call", "id": 1, "params": {
            "service": "object", "method": "execute_kw",
            "args": [target.db, 2, target.key, "res.partner", "search_read", [DOMAIN],
                     {"fields": FIELDS, "limit": 20, "context": {"lang": "en_US"}}]}})
    body = res.json()
    assert "result" in body, body
    return res


def main():
    with BenchServer(workers=2) as srv:
        stock_key = stock_database(srv)
        with SideServer(srv, srv.db) as addon, SideServer(srv, STOCK_DB, key=stock_key) as stock:
            with requests.Session() as session:
                assert "Deprecation" in jsonrpc_call(session, addon).headers
                assert "Deprecation" not in jsonrpc_call(session, stock).headers
            results = compare([("addon", addon), ("stock", stock)], jsonrpc_call, ROUNDS, CLIENTS, SECONDS)
            time.sleep(FLUSH_SECONDS + 2)  # each worker writes its counts every FLUSH_SECONDS
            counted = srv.shell('print("COUNT=%s" % sum(env["integration.legacy.client"].search([])'
                                '.mapped("call_count")))').split("COUNT=")[1].split()[0]
        (rate, cpu), (base_rate, base_cpu) = results["addon"], results["stock"]
        print(f"/jsonrpc execute_kw search_read, stock 18.0         : {base_rate:8.1f} calls/s  "
              f"{base_cpu:6.2f} ms CPU/call")
        print(f"/jsonrpc execute_kw search_read, with the inventory : {rate:8.1f} calls/s  {cpu:6.2f} ms CPU/call")
        print(f"cost of the addon on /jsonrpc: throughput {100 * (1 - rate / base_rate):+.1f} %, "
              f"CPU per call {100 * (cpu / base_cpu - 1):+.1f} %  (target <= 3 %)")
        print(f"calls counted in the inventory: {counted} (every call of the addon's server, warm-up included)")
        print(f"({ROUNDS} alternating rounds of {SECONDS:.0f}s, {CLIENTS} keep-alive clients, 2 workers per server)")


if __name__ == "__main__":
    main()
