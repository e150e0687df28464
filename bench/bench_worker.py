"""The integration worker: one worker's ceiling, a hanging receiver's share, scale-out over servers.

Prints in one run:
- ceiling: one worker's deliveries/s against a receiver answering in 100 ms, at several values of
  ``integration_suite.worker_concurrency`` (latency-bound: concurrency / 0.1 s, until the
  worker's process runs out of CPU);
- isolation: a healthy endpoint's deliveries/s (receiver answering in 100 ms) from a server's cron
  worker, alone and while 1,000 deliveries are queued (first) to an endpoint that never answers
  (10 s timeout), with each endpoint's cap (16) and with the cap of the hanging endpoint raised to
  the worker's concurrency (what happens without the cap); target >= 90 %;
- scale-out: deliveries/s drained by one server vs two servers sharing the database (one cron
  thread each), receiver answering in 100 ms, alternating in rounds, at worker concurrency 16 and
  32; duplicates counted at the receiver; target >= 1.7x.

The receiver runs in this process (asyncio); deliveries are queued with SQL, then a cron trigger
and its notification start the workers as a user's commit would.
"""
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg2
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import BenchServer, _bash  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
PHASES = os.environ.get("BENCH_PHASES", "ceiling,isolation,scale").split(",")
SCALE_DELIVERIES = int(os.environ.get("BENCH_SCALE_DELIVERIES", 3000))
HEALTHY_DELIVERIES = int(os.environ.get("BENCH_HEALTHY_DELIVERIES", 3000))
HANGING_DELIVERIES = int(os.environ.get("BENCH_HANGING_DELIVERIES", 1000))
CEILING_CONCURRENCY = [int(c) for c in os.environ.get("BENCH_CEILING_CONCURRENCY", "16,32,64,128").split(",")]
SCALE_CONCURRENCY = [int(c) for c in os.environ.get("BENCH_SCALE_CONCURRENCY", "16,32").split(",")]
LATENCY = 0.1
# the run without the hanging endpoint's cap starves the healthy one for minutes: measured this long
NO_CAP_SECONDS = 25.0


class Receiver(asyncio.Protocol):
    """HTTP/1.1 keep-alive receiver: ``/slow...`` answers in 100 ms, ``/never...`` never, the rest at once."""

    seen = {}  # path -> [(webhook-id, time.time())]

    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data):
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            request_line, *lines = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {name.strip().lower(): value.strip()
                       for name, _sep, value in (line.partition(":") for line in lines)}
            length = int(headers.get("content-length", 0))
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            path = request_line.split(" ")[1]
            if path.startswith("/never"):
                continue
            answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
            webhook_id = headers.get("webhook-id")
            if path.startswith("/slow"):
                asyncio.get_running_loop().call_later(LATENCY, self.answer, path, webhook_id, answer)
            else:
                self.answer(path, webhook_id, answer)

    def answer(self, path, webhook_id, answer):
        self.seen.setdefault(path, []).append((webhook_id, time.time()))
        if not self.transport.is_closing():
            self.transport.write(answer)


def start_receiver(port):
    loop = asyncio.new_event_loop()
    loop.run_until_complete(loop.create_server(Receiver, "127.0.0.1", port, backlog=1024))
    threading.Thread(target=loop.run_forever, daemon=True).start()


PORT = int(_bash("free_port"))
BASE = f"http://127.0.0.1:{PORT}"

# endpoints, one per measurement (its own path), and the worker slot the commits trigger
SETUP = r"""
import json
env["ir.config_parameter"].set_param("integration_suite.webhook_allow_private", "True")
Endpoint = env["integration.webhook.endpoint"]
ids = {}
for name, path, cap, timeout in %(endpoints)r:
    ids[name] = Endpoint.create({"name": name, "url": %(base)r + path, "max_in_flight": cap,
                                 "timeout": timeout, "retry_schedule": "0,5,300"}).id
ids["slot"] = env.ref("integration_suite.cron_integration_worker").id
env.cr.commit()
print("IDS=" + json.dumps(ids))
"""

# one worker (a pump in this process, no cron thread anywhere) at several concurrencies
CEILING = r"""
import time
ICP = env["ir.config_parameter"]
Delivery = env["integration.webhook.delivery"]
for concurrency, endpoint_id in %(runs)r:
    ICP.set_param("integration_suite.worker_concurrency", str(concurrency))
    count = concurrency * 30
    env.cr.execute(%(insert)r, {"endpoint": endpoint_id, "count": count, "age": 0})
    env.cr.commit()
    start = time.perf_counter()
    done = Delivery._worker_process_batch(10 ** 6)
    print(f"RESULT ceiling concurrency={concurrency} deliveries={done} rate={done / (time.perf_counter() - start):.1f}")
ICP.set_param("integration_suite.worker_concurrency", "32")
env.cr.commit()
"""

INSERT = """
INSERT INTO integration_webhook_delivery
       (endpoint_id, model, res_id, event_type, webhook_id, payload, state, attempt_count, next_attempt_at,
        create_uid, create_date, write_uid, write_date)
SELECT %(endpoint)s, 'bench.record', g, 'bench.event', 'msg_' || md5(random()::text || g::text),
       '{"n": ' || g || '}', 'pending', 0, (now() at time zone 'UTC') - make_interval(secs => %(age)s),
       1, now() at time zone 'UTC', 1, now() at time zone 'UTC'
  FROM generate_series(1, %(count)s) AS g
"""


class Bench:
    def __init__(self, srv):
        self.srv = srv
        self.servers = []
        options = dict(line.split(" = ", 1) for line in srv.conf.read_text().splitlines() if " = " in line)
        self.cnx = psycopg2.connect(dbname=srv.db, host="127.0.0.1", port=options["db_port"], user="odoo")
        self.cnx.autocommit = True
        self.notify = psycopg2.connect(dbname="postgres", host="127.0.0.1", port=options["db_port"], user="odoo")
        self.notify.autocommit = True

    def sql(self, query, params=None):
        with self.cnx.cursor() as cr:
            cr.execute(query, params)
            return cr.fetchall() if cr.description else None

    def start_server(self):
        """An Odoo server with one cron thread (a worker) on the benchmark's database."""
        port = int(_bash("free_port"))
        proc = subprocess.Popen(
            [self.srv.odoo, "-c", self.srv.conf, "-d", self.srv.db, "--workers=0", "--max-cron-threads=1",
             f"--http-port={port}", f"--db-filter=^{self.srv.db}$"],
            stdout=subprocess.DEVNULL, stderr=open(self.srv.tmp / f"cron-{port}.log", "w"))  # noqa: SIM115
        self.servers.append(proc)
        # ready once a page needing the database answers (its registry, which the cron thread
        # needs, is loaded); then the cron thread's start-up pass is over
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/web/login", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        time.sleep(2)
        return proc

    def stop_server(self, proc):
        proc.terminate()
        proc.wait(60)
        self.servers.remove(proc)

    def queue(self, endpoint_id, count, age=0):
        self.sql(INSERT, {"endpoint": endpoint_id, "count": count, "age": age})

    def wake(self, slot):
        """What the commit of a transaction that queued deliveries does."""
        self.sql("INSERT INTO ir_cron_trigger (cron_id, call_at) VALUES (%s, now() at time zone 'UTC')", [slot])
        with self.notify.cursor() as cr:
            cr.execute("SELECT pg_notify('cron_trigger', %s)", [self.srv.db])
        return time.time()

    def wait_received(self, path, count, timeout):
        """Until ``count`` distinct deliveries reached ``path``; the notification is repeated until the
        first one does (a cron thread still starting would miss it and sleep for a minute)."""
        deadline = time.time() + timeout
        next_wake = time.time() + 1
        while time.time() < deadline:
            if len({webhook_id for webhook_id, _when in Receiver.seen.get(path, [])}) >= count:
                break
            if not Receiver.seen.get(path) and time.time() > next_wake:
                with self.notify.cursor() as cr:
                    cr.execute("SELECT pg_notify('cron_trigger', %s)", [self.srv.db])
                next_wake = time.time() + 1
            time.sleep(0.05)
        received = Receiver.seen.get(path, [])
        return received, max((when for _id, when in received), default=time.time())

    def cancel_waiting(self):
        self.sql("UPDATE integration_webhook_delivery SET state = 'cancelled' WHERE state IN ('pending', 'failed')")


def main():
    start_receiver(PORT)
    endpoints = [(f"ceiling {c}", f"/slow/ceiling/{c}", 256, 10) for c in CEILING_CONCURRENCY]
    endpoints += [(f"healthy {label} {r}", f"/slow/isolation/{label}/{r}", 16, 10)
                  for r in range(ROUNDS) for label in ("alone", "capped")]
    endpoints += [(f"hanging capped {r}", f"/never/capped/{r}", 16, 10) for r in range(ROUNDS)]
    endpoints += [("healthy nocap 0", "/slow/isolation/nocap/0", 16, 10), ("hanging nocap 0", "/never/nocap", 32, 10)]
    endpoints += [(f"scale {c} {servers} {r}", f"/slow/scale/{c}/{servers}/{r}", 256, 10)
                  for c in SCALE_CONCURRENCY for r in range(ROUNDS) for servers in (1, 2)]
    with BenchServer(workers=0, extra_args=["--max-cron-threads=0"], api_key=False) as srv:
        out = srv.shell(SETUP % {"endpoints": endpoints, "base": BASE})
        ids = json.loads(out.split("IDS=", 1)[1].splitlines()[0])
        bench = Bench(srv)
        try:
            if "ceiling" in PHASES:
                out = srv.shell(CEILING % {"runs": [(c, ids[f"ceiling {c}"]) for c in CEILING_CONCURRENCY],
                                           "insert": INSERT})
                print(f"one worker's ceiling, receiver answering in {LATENCY * 1000:.0f} ms "
                      "(a pump in an odoo shell, nothing else running):")
                for line in out.splitlines():
                    if line.startswith("RESULT ceiling"):
                        values = dict(pair.split("=") for pair in line.split()[2:])
                        concurrency = int(values["concurrency"])
                        print(f"  concurrency {concurrency:4d}: {float(values['rate']):7.1f} deliveries/s   "
                              f"(latency bound {concurrency / LATENCY:6.0f}/s)   [{values['deliveries']} sent]")
            if "isolation" in PHASES:
                isolation(bench, ids)
            if "scale" in PHASES:
                scale(bench, ids)
        finally:
            for proc in list(bench.servers):
                bench.stop_server(proc)


def isolation(bench, ids):
    server = bench.start_server()
    totals = {label: [0, 0.0] for label in ("alone", "capped", "nocap")}
    rounds = {}
    runs = [(label, r) for r in range(ROUNDS) for label in ("alone", "capped")] + [("nocap", 0)]
    for label, r in runs:
        path = f"/slow/isolation/{label}/{r}"
        if label != "alone":
            bench.queue(ids[f"hanging {label} {r}"], HANGING_DELIVERIES, age=60)  # older: claimed first
        bench.queue(ids[f"healthy {label} {r}"], HEALTHY_DELIVERIES)
        started = bench.wake(ids["slot"])
        received, last = bench.wait_received(path, HEALTHY_DELIVERIES, NO_CAP_SECONDS if label == "nocap" else 300)
        distinct = len({webhook_id for webhook_id, _when in received})
        elapsed = (last if distinct >= HEALTHY_DELIVERIES else time.time()) - started
        totals[label][0] += distinct
        totals[label][1] += elapsed
        rounds.setdefault(label, []).append(f"{distinct / elapsed:.0f}")
        bench.cancel_waiting()
        if label != "alone":
            time.sleep(12)  # the hanging attempts in flight end (10 s timeout) before the next measurement
    bench.stop_server(server)
    alone, capped, nocap = (totals[label][0] / totals[label][1] for label in ("alone", "capped", "nocap"))
    print(f"isolation, healthy endpoint answering in {LATENCY * 1000:.0f} ms, {HANGING_DELIVERIES} deliveries queued "
          f"first to an endpoint that never answers (10 s timeout), one server, one worker (concurrency 32), "
          f"{ROUNDS} rounds:")
    print(f"  alone                             : {alone:7.1f} deliveries/s   (rounds: {', '.join(rounds['alone'])})")
    print(f"  beside it, each endpoint capped 16: {capped:7.1f} deliveries/s   "
          f"{capped / alone * 100:5.1f} % (target >= 90 %)   (rounds: {', '.join(rounds['capped'])})")
    print(f"  beside it, its cap raised to 32   : {nocap:7.1f} deliveries/s   {nocap / alone * 100:5.1f} % "
          f"[{totals['nocap'][0]} of {HEALTHY_DELIVERIES} in {totals['nocap'][1]:.0f} s: what the cap prevents]")


def scale(bench, ids):
    for concurrency in SCALE_CONCURRENCY:
        # read by the servers when they start
        bench.sql("""INSERT INTO ir_config_parameter (key, value) VALUES ('integration_suite.worker_concurrency', %s)
                     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value""", [str(concurrency)])
        first = bench.start_server()
        totals = {1: [0, 0.0], 2: [0, 0.0]}
        duplicates = 0
        for r in range(ROUNDS):
            for servers in (1, 2):
                second = bench.start_server() if servers == 2 else None
                path = f"/slow/scale/{concurrency}/{servers}/{r}"
                bench.queue(ids[f"scale {concurrency} {servers} {r}"], SCALE_DELIVERIES)
                started = bench.wake(ids["slot"])
                received, last = bench.wait_received(path, SCALE_DELIVERIES, 600)
                distinct = len({webhook_id for webhook_id, _when in received})
                duplicates += len(received) - distinct
                totals[servers][0] += distinct
                totals[servers][1] += last - started
                if second:
                    time.sleep(1)
                    bench.stop_server(second)
        bench.stop_server(first)
        states = bench.sql("""SELECT d.state, count(*), max(d.attempt_count) FROM integration_webhook_delivery d
                                JOIN integration_webhook_endpoint e ON e.id = d.endpoint_id
                               WHERE e.name LIKE %s GROUP BY d.state""", [f"scale {concurrency} %"])
        one, two = (totals[n][0] / totals[n][1] for n in (1, 2))
        print(f"scale-out, receiver answering in {LATENCY * 1000:.0f} ms, {SCALE_DELIVERIES} deliveries per round, "
              f"{ROUNDS} rounds, each server one cron thread, worker concurrency {concurrency} (endpoint cap 256):")
        print(f"  one server : {one:7.1f} deliveries/s")
        print(f"  two servers: {two:7.1f} deliveries/s   ratio {two / one:.2f}x (target >= 1.7x)   "
              f"duplicates received: {duplicates}   deliveries by state (max attempts): {states}")


if __name__ == "__main__":
    main()
