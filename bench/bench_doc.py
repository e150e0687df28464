"""Cost of ``/doc-bearer/openapi.json`` for a plain internal user: cold, re-rendered and cached.

- *first call*: a fresh server process (nothing built yet);
- *re-rendered*: after Odoo's caches were cleared (what an access-right change does): the
  per-model operations are kept, the user's document is rendered again;
- *cached*: the rendered document served from the per-process cache.
Beside each, the latency of a trivial JSON/2 call made while four cold documents are built.
"""
import os
import statistics
import sys
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import BenchServer  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", 5))

MAKE_USER = """
from odoo.addons.integration_suite.series import GROUPS_FIELD
user = env["res.users"].create({"name": "doc reader", "login": "doc_reader",
                                GROUPS_FIELD: [(6, 0, [env.ref("base.group_user").id])]})
print("KEY=" + env["res.users.apikeys"].with_user(user).sudo()._generate("rpc", "bench", None))
env.cr.commit()
"""
CLEAR = "env.registry.clear_cache(); env.cr.commit()"


def timed_get(srv, key, path="/doc-bearer/openapi.json"):
    started = time.perf_counter()
    res = requests.get(srv.url + path, headers={"Authorization": f"bearer {key}"}, timeout=600)
    assert res.status_code == 200, res.text[:300]
    return time.perf_counter() - started, len(res.content)


def trivial_latency(srv, key, during):
    """Latency of a context_get while ``during`` cold documents are being built."""
    threads = [threading.Thread(target=timed_get, args=(srv, key)) for _ in range(during)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    started = time.perf_counter()
    requests.post(srv.url + "/json/2/res.users/context_get", json={}, timeout=600,
                  headers={"Authorization": f"bearer {key}"})
    latency = time.perf_counter() - started
    for thread in threads:
        thread.join()
    return latency


def main():
    with BenchServer(workers=1) as srv:
        key = srv.shell(MAKE_USER).split("KEY=")[1].split()[0]
        first, size = timed_get(srv, key)
        rendered, cached = [], []
        for _round in range(ROUNDS):
            srv.shell(CLEAR)
            rendered.append(timed_get(srv, key)[0])
            cached.extend(timed_get(srv, key)[0] for _ in range(5))
        srv.shell(CLEAR)
        busy = trivial_latency(srv, key, during=4)
    print(f"openapi.json for a plain user: {size / 1e6:.1f} MB")
    print(f"  first call of a fresh server process  : {first * 1000:8.0f} ms")
    print(f"  re-rendered after a cache clear       : {statistics.median(rendered) * 1000:8.0f} ms "
          f"(median of {ROUNDS})")
    print(f"  served from the cache                 : {statistics.median(cached) * 1000:8.0f} ms "
          f"(median of {len(cached)})")
    print(f"  a trivial JSON/2 call during 4 cold builds (1 worker): {busy * 1000:.0f} ms")


if __name__ == "__main__":
    main()
