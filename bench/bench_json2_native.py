"""19.0's own JSON-2 with the addon vs without it, on the same Odoo 19.0 (issue 22's key cache).

19.0 checks the API key of every JSON-2 call with pbkdf2 (600,000 rounds of SHA-512 here); the
addon pays it once per key and process, then confirms the key, its user and its expiry with one
primary-key query per call (``res.users.apikeys._authenticate_key``). Two Odoo servers (2 workers
each, no cron thread, the same configuration: the addon loaded server-wide as the README sets a
server up) on one PostgreSQL cluster serve a database with integration_suite and one with only
its dependencies (stock 19.0: the addon's code is not routed there). Rounds alternate the two
with the same ``POST /json/2/res.partner/search_read`` and an API key of each database's admin.
Printed: throughput and CPU time per call of each (see side_server.py), and their ratio (target
>= 1.5). On 18.0 there is no native JSON-2 to compare with: the script says so and stops.
"""
import os
import sys
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_legacy import STOCK_DB, stock_database  # noqa: E402
from server import BenchServer, _bash  # noqa: E402
from side_server import SideServer, compare  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", 8))
SECONDS = float(os.environ.get("BENCH_SECONDS", 4))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", 4))
BODY = {"domain": [["is_company", "=", True]], "fields": ["name", "email", "country_id"], "limit": 20,
        "context": {"lang": "en_US"}}


def json2_call(session, target):
    res = session.post(f"{target.url}/json/2/res.partner/search_read", json=BODY, timeout=30,
                       headers={"Authorization": f"bearer {target.key}"})
    assert res.status_code == 200, res.text[:500]
    return res


def main():
    if _bash("echo $series") == "18.0":
        print("19.0's native JSON-2 only: run with ODOO_SERIES=19.0 (on 18.0, /json/2 is the addon's: bench_json2.py)")
        return
    with BenchServer(workers=2) as srv:
        stock_key = stock_database(srv)
        with SideServer(srv, srv.db) as addon, SideServer(srv, STOCK_DB, key=stock_key) as stock:
            with requests.Session() as session:
                for target in (addon, stock):  # the same answer's shape: records with the fields asked
                    records = json2_call(session, target).json()
                    assert records and sorted(records[0]) == ["country_id", "email", "id", "name"], records
            results = compare([("addon", addon), ("stock", stock)], json2_call, ROUNDS, CLIENTS, SECONDS)
        (rate, cpu), (base_rate, base_cpu) = results["addon"], results["stock"]
        print(f"/json/2 res.partner search_read, stock 19.0    : {base_rate:8.1f} calls/s  {base_cpu:6.2f} ms CPU/call")
        print(f"/json/2 res.partner search_read, with the addon: {rate:8.1f} calls/s  {cpu:6.2f} ms CPU/call")
        print(f"ratio addon / stock: throughput {rate / base_rate:.2f}x (target >= 1.5), "
              f"CPU per call {cpu / base_cpu:.2f}x")
        print(f"({ROUNDS} alternating rounds of {SECONDS:.0f}s, {CLIENTS} keep-alive clients, 2 workers per server)")


if __name__ == "__main__":
    main()
