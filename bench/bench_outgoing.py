"""Outgoing webhooks: 18.0's synchronous action vs the addon's outbox + worker.

Prints in one run:
- blocking: time added to the triggering transaction per record, receiver answering in 300 ms;
- throughput: deliveries per second from one worker (receiver answering at once) vs the native action;
- recovery: deliveries queued while the receiver is down, then drained: lost / duplicated / time.

The receiver runs in this process; Odoo runs the measured code in an ``odoo shell`` (no cron threads,
so the only worker is the one measured).
"""
import asyncio
import os
import ssl
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from server import ROOT, BenchServer, _bash  # noqa: E402

BLOCKING_RECORDS = int(os.environ.get("BENCH_BLOCKING_RECORDS", 20))
THROUGHPUT_RECORDS = int(os.environ.get("BENCH_THROUGHPUT_RECORDS", 500))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", 3))
PHASES = os.environ.get("BENCH_PHASES", "blocking,throughput,throughput_tls,recovery").split(",")
RECOVERY_RECORDS = int(os.environ.get("BENCH_RECOVERY_RECORDS", 1000))
DOWN_SECONDS = float(os.environ.get("BENCH_DOWN_SECONDS", 60))


class Receiver(asyncio.Protocol):
    """A minimal HTTP/1.1 keep-alive receiver on asyncio.

    The benchmark measures senders, so the receiver must not be the bottleneck: a
    ``ThreadingHTTPServer`` (email-parser headers, a thread per connection) caps both senders
    at its own rate. This one parses just the request line, Content-Length and webhook-id.
    """

    seen = {}  # path -> list of webhook-ids

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
            self.handle(request_line.split(" ")[1], headers.get("webhook-id"))

    def handle(self, path, webhook_id):
        if path == "/control/recovery":
            # the recovery receiver is down now and comes back after DOWN_SECONDS
            threading.Timer(DOWN_SECONDS, lambda: start(RECOVERY_PORT)).start()
        self.seen.setdefault(path, []).append(webhook_id)
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        if path.startswith("/slow"):
            asyncio.get_running_loop().call_later(0.3, self.transport.write, answer)
        else:
            self.transport.write(answer)


def start(port, tls=None):
    """Serve ``Receiver`` on ``port`` (over TLS with the ``tls`` server context) from its own thread."""
    loop = asyncio.new_event_loop()
    loop.run_until_complete(loop.create_server(Receiver, "127.0.0.1", port, ssl=tls))
    threading.Thread(target=loop.run_forever, daemon=True).start()


def self_signed_tls(folder):
    """A certificate for 127.0.0.1; Odoo's clients trust it through REQUESTS_CA_BUNDLE."""
    cert, key = Path(folder) / "cert.pem", Path(folder) / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return cert, context


MAIN_PORT, TLS_PORT, RECOVERY_PORT = (int(_bash("free_port")) for _i in range(3))

SHELL = r"""
import time
import requests
from odoo.addons.base.models.ir_actions import IrActionsServer as Native
R = "http://127.0.0.1:%(main)d"
TLS = "https://127.0.0.1:%(tls)d"
env["ir.config_parameter"].set_param("integration_suite.webhook_allow_private", "True")
name = env["ir.model.fields"]._get("res.partner", "name")
def action(url, schedule=None):
    act = env["ir.actions.server"].create({"name": "bench", "model_id": env.ref("base.model_res_partner").id,
        "state": "webhook", "webhook_url": url, "webhook_field_ids": [(6, 0, name.ids)]})
    if schedule:
        act.webhook_endpoint_id.retry_schedule = schedule
    return act
def partners(n):
    recs = env["res.partner"].create([{"name": f"bench {i}"} for i in range(n)])
    env.cr.commit()
    return recs
Model = type(env["ir.actions.server"])
assert "_run_action_webhook" not in Model.__dict__  # run_native shadows it there, then deletes it
def run_native(act, rec):
    # 18.0's own action through the same run() as the addon's: the addon's override is bypassed
    Model._run_action_webhook = Native._run_action_webhook
    try:
        act.with_context(active_model=rec._name, active_id=rec.id, active_ids=rec.ids).run()
    finally:
        del Model._run_action_webhook
def run_addon(act, rec):
    act.with_context(active_model=rec._name, active_id=rec.id, active_ids=rec.ids).run()
def timed(fn, act, recs):
    # time the user's transaction spends in the action and its commit (the write excluded)
    spent = 0.0
    for rec in recs:
        rec.write({"name": rec.name + "*"})   # the user's change
        start = time.perf_counter()
        fn(act, rec)
        env.cr.commit()                       # the user's transaction ends
        spent += time.perf_counter() - start
    return spent
def plain(act, rec):
    pass
Delivery = env["integration.webhook.delivery"]
def drain(deadline):
    while time.monotonic() < deadline:
        if not Delivery._worker_process_batch(10000):
            if not Delivery.search_count([("state", "in", ("pending", "failed"))]):
                return True
            time.sleep(0.2)
    return False
ROUNDS = %(rounds)d

# blocking: native and addon alternate, in rounds, on the same records
def blocking():
    recs = partners(%(blocking)d)
    native_act, addon_act = action(R + "/slow-native"), action(R + "/slow-addon")
    for warm in (plain, run_native, run_addon):
        timed(warm, addon_act if warm is run_addon else native_act, recs[:3])
    base = native = addon = 0.0
    for _round in range(ROUNDS):
        base += timed(plain, None, recs)
        native += timed(run_native, native_act, recs)
        addon += timed(run_addon, addon_act, recs)
    count = ROUNDS * len(recs)
    native, addon = (native - base) / count, (addon - base) / count
    drain(time.monotonic() + 120)
    print(f"RESULT blocking native_ms={native * 1000:.2f} addon_ms={addon * 1000:.3f}")

# throughput: alternating rounds; the addon is timed from committed outbox to all delivered
def throughput(base=R, label="throughput"):
    recs = partners(%(throughput)d)
    native_act, addon_act = action(f"{base}/{label}/native"), action(f"{base}/{label}/addon")
    for rec in recs[:20]:
        Native._run_action_webhook(native_act.with_context(active_model=rec._name, active_id=rec.id))
    native_time = addon_time = 0.0
    for _round in range(ROUNDS):
        start = time.perf_counter()
        for rec in recs:
            Native._run_action_webhook(native_act.with_context(active_model=rec._name, active_id=rec.id))
        native_time += time.perf_counter() - start
        env.cr.commit()
        for rec in recs:
            run_addon(addon_act, rec)
        env.cr.commit()
        start = time.perf_counter()
        drain(time.monotonic() + 300)
        addon_time += time.perf_counter() - start
    count = ROUNDS * len(recs)
    print(f"RESULT {label} native={count / native_time:.1f} addon={count / addon_time:.1f}")

# the same over https, as receivers are in production: 18.0 opens a connection (TCP + TLS) per call
def throughput_tls():
    throughput(TLS, "throughput_tls")

# recovery
def recovery():
    requests.post(R + "/control/recovery", data=b"{}", timeout=5)
    recs = partners(%(recovery)d)
    act = action("http://127.0.0.1:%(recovery_port)d/recovery", "0,5,10,15,20,30,60,120,300")
    start = time.perf_counter()
    for rec in recs:
        run_addon(act, rec)
    env.cr.commit()
    ok = drain(time.monotonic() + %(down)f + 600)
    elapsed = time.perf_counter() - start
    env.cr.execute("SELECT count(*), count(DISTINCT webhook_id), sum(attempt_count) FROM integration_webhook_delivery "
                   "WHERE endpoint_id = %%s AND state = 'delivered'", [act.webhook_endpoint_id.id])
    delivered, distinct, attempts = env.cr.fetchone()
    print(f"RESULT recovery drained={ok} delivered={delivered} distinct={distinct} attempts={attempts} "
          f"seconds={elapsed:.1f}")
    env.cr.commit()

for phase in %(phases)r:
    globals()[phase]()
"""


CEILING = r"""
import sys, time, requests
from concurrent.futures import ThreadPoolExecutor
sys.path.insert(0, %(root)r)
from tools import webhook_delivery as wd
url, count, session = "http://127.0.0.1:%(port)d/ceiling", 3000, wd.build_session(public_only=False)
def pooled(_):
    wd.post(session, url, b'{"_id": 1}', {"Content-Type": "application/json"}, 10, allow_private=True)
with ThreadPoolExecutor(16) as pool:
    list(pool.map(pooled, range(300)))
    start = time.perf_counter()
    list(pool.map(pooled, range(count)))
    pooled_rate = count / (time.perf_counter() - start)
start = time.perf_counter()
for _i in range(count // 3):
    requests.post(url, data=b'{"_id": 1}', headers={"Content-Type": "application/json"}, timeout=1)
print(f"{pooled_rate:.0f} {count // 3 / (time.perf_counter() - start):.0f}")
"""


def client_ceiling():
    """HTTP alone, no Odoo: the addon's pooled sender vs one ``requests.post`` per call (18.0's way)."""
    done = subprocess.run([sys.executable, "-c", CEILING % {"root": str(ROOT), "port": MAIN_PORT}],
                          capture_output=True, text=True, check=True)
    return [float(value) for value in done.stdout.split()]


def main():
    start(MAIN_PORT)
    with tempfile.TemporaryDirectory() as folder, BenchServer(workers=0, extra_args=["--max-cron-threads=0"]) as srv:
        cert, tls = self_signed_tls(folder)
        start(TLS_PORT, tls)
        os.environ["REQUESTS_CA_BUNDLE"] = str(cert)  # for the odoo shell: both senders verify the receiver
        out = srv.shell(SHELL % {"main": MAIN_PORT, "tls": TLS_PORT, "recovery_port": RECOVERY_PORT, "rounds": ROUNDS,
                                 "blocking": BLOCKING_RECORDS, "phases": PHASES,
                                 "throughput": THROUGHPUT_RECORDS, "recovery": RECOVERY_RECORDS,
                                 "down": DOWN_SECONDS})
    results = {}
    for line in out.splitlines():
        if line.startswith("RESULT "):
            kind, *pairs = line.split()[1:]
            results[kind] = dict(pair.split("=") for pair in pairs)
    seen = Receiver.seen
    if "blocking" in results:
        native_ms, addon_ms = float(results["blocking"]["native_ms"]), float(results["blocking"]["addon_ms"])
        print(f"blocking per record, receiver 300 ms : native {native_ms:8.2f} ms   addon {addon_ms:8.3f} ms   "
              f"ratio {addon_ms / native_ms:.4f} (target <= 0.02)   "
              f"[addon deliveries received after commit: {len(set(seen.get('/slow-addon', [])))}]")
    for kind, scheme in (("throughput", "http "), ("throughput_tls", "https")):
        if kind in results:
            native, addon = float(results[kind]["native"]), float(results[kind]["addon"])
            print(f"throughput, one worker, fast {scheme} receiver: native {native:8.1f}/s   addon {addon:8.1f}/s   "
                  f"ratio {addon / native:.2f}x (target >= 3x)   [distinct webhook-ids received: "
                  f"{len(set(seen.get(f'/{kind}/addon', [])))}/{THROUGHPUT_RECORDS * ROUNDS}]")
    if "throughput" in results:
        pooled, per_call = client_ceiling()
        native = float(results["throughput"]["native"])
        print(f"  (plain http, no Odoo, same receiver: pooled sender {pooled:.0f}/s, one requests.post per "
              f"call {per_call:.0f}/s; over http the addon's ratio cannot exceed "
              f"{pooled / native:.2f}x against the native figure above)")
    if "recovery" in results:
        recovery, received = results["recovery"], seen.get("/recovery", [])
        print(f"recovery, {RECOVERY_RECORDS} queued, receiver down {DOWN_SECONDS:.0f} s: "
              f"drained={recovery['drained']} delivered={recovery['delivered']} "
              f"distinct ids received={len(set(received))} requests received={len(received)} "
              f"lost={RECOVERY_RECORDS - len(set(received))} attempts={recovery['attempts']} "
              f"time to drain={recovery['seconds']} s")

if __name__ == "__main__":
    main()
