"""JSON/2 beside 18.0's /jsonrpc execute_kw and beside the floor of Odoo's request handling.

Same key, same query, same server (2 workers). The floor is ``GET /web/version`` with the
database header: it goes through Odoo's database-bound request handling and nothing else.
Rounds rotate the routes so that drift hits them alike; each round runs CLIENTS keep-alive
client threads for SECONDS and counts completed calls.
"""
import os
import sys
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import BenchServer, throughput  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", 6))
SECONDS = float(os.environ.get("BENCH_SECONDS", 4))
CLIENTS = int(os.environ.get("BENCH_CLIENTS", 2))
DOMAIN = [["is_company", "=", True]]
FIELDS = ["name", "email", "country_id"]


def json2_call(session, srv, database_header=True):
    """What JSON-2 clients send: odoo-client-lib always names the database."""
    headers = {"Authorization": f"bearer {srv.key}"}
    if database_header:
        headers["X-Odoo-Database"] = srv.db
    res = session.post(f"{srv.url}/json/2/res.partner/search_read", timeout=30, json={
        "domain": DOMAIN, "fields": FIELDS, "limit": 20, "context": {"lang": "en_US"}},
        headers=headers)
    assert res.status_code == 200, res.text
    return res.json()


def json2_call_no_header(session, srv):
    return json2_call(session, srv, database_header=False)


def floor_call(session, srv):
    res = session.get(f"{srv.url}/web/version", timeout=30, headers={"X-Odoo-Database": srv.db})
    assert res.status_code == 200, res.text


def search_count_call(session, srv, database_header=True):
    headers = {"Authorization": f"bearer {srv.key}"}
    if database_header:
        headers["X-Odoo-Database"] = srv.db
    res = session.post(f"{srv.url}/json/2/res.partner/search_count", timeout=30, json={"domain": []},
                       headers=headers)
    assert res.status_code == 200, res.text


def search_count_no_header(session, srv):
    search_count_call(session, srv, database_header=False)


def jsonrpc_count_call(session, srv):
    res = session.post(f"{srv.url}/jsonrpc", timeout=30, json={
        "jsonrpc": "2.0", "method": "call", "id": 1, "params": {
            "service": "object", "method": "execute_kw",
            "args": [srv.db, 2, srv.key, "res.partner", "search_count", [[]]]}})
    assert "result" in res.json(), res.text


def jsonrpc_call(session, srv):
    res = session.post(f"{srv.url}/jsonrpc", timeout=30, json={
        "jsonrpc": "2.0", "method": "call", "id": 1, "params": {
            "service": "object", "method": "execute_kw",
            "args": [srv.db, 2, srv.key, "res.partner", "search_read", [DOMAIN],
                     {"fields": FIELDS, "limit": 20, "context": {"lang": "en_US"}}]}})
    body = res.json()
    assert "result" in body, body
    return body["result"]


def main():
    with BenchServer(workers=2) as srv:
        with requests.Session() as s:  # warm both doors (key cache, registry, jsonrpc uid cache)
            assert json2_call(s, srv) == jsonrpc_call(s, srv), "both doors must answer the same rows"
            for _ in range(20):
                json2_call(s, srv), jsonrpc_call(s, srv)
        doors = [("json2", json2_call), ("jsonrpc", jsonrpc_call), ("json2_no_header", json2_call_no_header),
                 ("floor", floor_call), ("count", search_count_call), ("count_no_header", search_count_no_header),
                 ("jsonrpc_count", jsonrpc_count_call)]
        totals = {name: [] for name, _call in doors}
        for r in range(ROUNDS):
            for name, call in doors[r % len(doors):] + doors[:r % len(doors)]:
                totals[name].append(throughput(lambda session, call=call: call(session, srv), CLIENTS, SECONDS))
        rate = {name: sum(values) / ROUNDS for name, values in totals.items()}
        j2, rpc, bare = rate["json2"], rate["jsonrpc"], rate["json2_no_header"]
        print(f"JSON/2 search_read (X-Odoo-Database, as clients send) : {j2:8.1f} calls/s")
        print(f"JSON-RPC /jsonrpc execute_kw search_read             : {rpc:8.1f} calls/s")
        print(f"JSON/2 search_read without X-Odoo-Database           : {bare:8.1f} calls/s")
        print(f"ratio JSON/2 / JSON-RPC                              : {j2 / rpc:8.2f}x  (target >= 1.3x)")
        print(f"ratio JSON/2 without the header / with it            : {bare / j2:8.2f}   (target >= 0.9)")
        print(f"floor GET /web/version (X-Odoo-Database)             : {rate['floor']:8.1f} calls/s")
        print(f"JSON/2 search_count (X-Odoo-Database)                : {rate['count']:8.1f} calls/s")
        print(f"JSON/2 search_count without X-Odoo-Database          : {rate['count_no_header']:8.1f} calls/s")
        print(f"JSON-RPC /jsonrpc execute_kw search_count             : {rate['jsonrpc_count']:8.1f} calls/s")
        print(f"ratio JSON/2 search_count / floor                    : {rate['count'] / rate['floor']:8.2f}")
        print(f"ratio JSON-RPC search_count / floor (18.0's own door): {rate['jsonrpc_count'] / rate['floor']:8.2f}")
        print(f"ratio search_count without the header / with it      : "
              f"{rate['count_no_header'] / rate['count']:8.2f}   (target >= 0.9)")
        print(f"({ROUNDS} rotating rounds of {SECONDS:.0f}s, {CLIENTS} keep-alive clients, 2 Odoo workers)")


if __name__ == "__main__":
    main()
