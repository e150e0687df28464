"""What a restricted API key costs a JSON/2 call, side by side with a key without restrictions.

One server (2 workers), one client sending calls one after the other, the keys in turn: each
round calls ``res.partner/search_count`` once with every key, so drift hits them alike. Keys (all
of the administrator):

* ``none`` and ``none, another key``: no restrictions (their difference is the noise);
* ``models + address``: res.partner with read rights, calls from 127.0.0.0/8 only;
* ``+ read-only``: the same, read-only (the key-validity query also turns the transaction
  read-only: no round trip more);
* ``+ rate limit``: the same with a rate limit of 60,000 calls a minute, which this client never
  reaches: a process claims a tenth of a second's worth (100 calls) per statement on the
  limiter's own connection.

A key limited to at most 600 calls a minute is counted call by call: one claim per call, whose
cost (one prepared statement) is timed in the database below; such a key makes at most 10 calls
a second.

The target (issue 21): at most 0.2 ms more than ``none`` with restrictions set. Without
restrictions the key-validity query each call already made reads two more columns of the key's
row: that query's cost, the previous release's and this one's, is timed in the database too.
"""
import os
import statistics
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import BenchServer  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_CALLS", 1500))

KEYS = """
admin = env.ref("base.user_admin")
partner = env.ref("base.model_res_partner").id
line = [(0, 0, {"model_id": partner, "perm_read": True})]
variants = {
    "none": None,
    "none, another key": None,
    "models + address": {"line_ids": line, "allowed_addresses": "127.0.0.0/8"},
    "+ read-only": {"line_ids": line, "allowed_addresses": "127.0.0.0/8", "read_only": True},
    "+ rate limit": {"line_ids": line, "allowed_addresses": "127.0.0.0/8", "read_only": True,
                     "rate_limit": 60000},
}
for name, values in variants.items():
    key = env["res.users.apikeys"].with_user(admin).sudo()._generate(None, name, None)
    if values:
        env.cr.execute("SELECT max(id) FROM res_users_apikeys")
        env["integration.apikey.policy"].create({"key_id": env.cr.fetchone()[0], **values})
    print(f"KEY {name}={key}")
env.cr.commit()
"""

# the key-validity query of every call: 18.0.1.4.0's, and this release's (the restriction revision joined)
QUERIES = """
import time, statistics
env.cr.execute("SELECT max(id) FROM res_users_apikeys")
key_id = env.cr.fetchone()[0]
old = '''SELECT 1 FROM res_users_apikeys k JOIN res_users u ON u.id = k.user_id
          WHERE k.id = %s AND u.active AND (k.scope IS NULL OR k.scope = %s)
            AND (k.expiration_date IS NULL OR k.expiration_date >= now() AT TIME ZONE 'utc')'''
keys = env["res.users.apikeys"]
times = {"old": [], "new": []}
for _ in range(5000):
    started = time.perf_counter()
    env.cr.execute(old, [key_id, "rpc"])
    env.cr.fetchone()
    times["old"].append(time.perf_counter() - started)
    started = time.perf_counter()
    keys._key_revision(key_id, "rpc", True)
    times["new"].append(time.perf_counter() - started)
from odoo.addons.integration_suite.dispatch import restrictions
claims = []
for _ in range(3000):
    started = time.perf_counter()
    restrictions.rate_limiter._claim(env.cr.dbname, key_id, 1e-6, 1)
    claims.append(time.perf_counter() - started)
times["claim"] = claims
for name, values in times.items():
    print(f"QUERY {name}={statistics.median(values) * 1e6:.1f}")
"""


def main():
    with BenchServer(workers=2, api_key=False) as srv:
        out = srv.shell(KEYS)
        keys = dict(line[4:].split("=", 1) for line in out.splitlines() if line.startswith("KEY "))
        queries = dict(line[6:].split("=", 1) for line in srv.shell(QUERIES).splitlines() if line.startswith("QUERY "))
        session = requests.Session()

        def call(key):
            started = time.perf_counter()
            res = session.post(f"{srv.url}/json/2/res.partner/search_count", json={"domain": []}, timeout=30,
                               headers={"Authorization": f"bearer {key}", "X-Odoo-Database": srv.db})
            elapsed = time.perf_counter() - started
            assert res.status_code == 200, res.text
            return elapsed

        for _ in range(30):  # warm every worker's registry and key cache
            for key in keys.values():
                call(key)
        times = {name: [] for name in keys}
        for _ in range(ROUNDS):
            for name, key in keys.items():
                times[name].append(call(key))
        base = statistics.median(times["none"]) * 1000
        print(f"JSON/2 res.partner/search_count, {ROUNDS} calls per key, one client, keys in turn (median ms):")
        for name, values in times.items():
            median = statistics.median(values) * 1000
            print(f"  {name:<20} {median:7.3f} ms   {median - base:+7.3f} ms vs none   (target <= +0.200)")
        print(f"key-validity query in the database (median of 5000): 18.0.1.4.0's {queries['old']} us, "
              f"this release's (two more columns of the same row) {queries['new']} us")
        print(f"one rate claim on the limiter's connection (median of 3000): {queries['claim']} us")


if __name__ == "__main__":
    main()
