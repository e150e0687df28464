"""Fault test: the Odoo server is killed (SIGKILL) in the middle of a burst of 500 deliveries.

A real ``odoo`` server process with one cron thread sends the burst to a receiver in this
process; it is killed once part of the burst has arrived, restarted, and must then deliver
everything: every delivery ends delivered, every webhook-id reaches the receiver (at-least-once:
the attempts in flight at the kill may arrive twice once their lease has passed, never more).

Servers, shells and the shared database come from ``odoo_process.py``; skipped without the Odoo
set up by `make test`.
"""
import signal
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import odoo_process as op
import pytest

pytestmark = pytest.mark.skipif(not op.AVAILABLE, reason="needs the Odoo set up by `make test`")

BURST = 500
# what one worker has claimed at most: 1.5 x integration_suite.worker_concurrency (32 by default);
# only those can have reached the receiver without their outcome being stored
IN_FLIGHT = 48

QUEUE = """
env["ir.config_parameter"].set_param("integration_suite.webhook_allow_private", "True")
name = env["ir.model.fields"]._get("res.partner", "name")
action = env["ir.actions.server"].create({
    "name": "crash burst", "model_id": env.ref("base.model_res_partner").id, "state": "webhook",
    "webhook_url": "%(url)s", "webhook_field_ids": [(6, 0, name.ids)]})
for partner in env["res.partner"].create([{"name": "burst %%d" %% i} for i in range(%(burst)d)]):
    action.with_context(active_model="res.partner", active_id=partner.id, active_ids=partner.ids).run()
queued = env["integration.webhook.delivery"].search_count([("action_id", "=", action.id)])
env.cr.commit()
print("QUEUED", queued)
"""


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen = []
    lock = threading.Lock()

    def do_POST(self):  # noqa: N802 - http.server API
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(0.05)  # slow enough for the kill to land mid-burst
        with self.lock:
            self.seen.append(self.headers.get("webhook-id"))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def _states(db, url):
    return dict(op.query(db, """SELECT d.state, count(*) FROM integration_webhook_delivery d
                                  JOIN integration_webhook_endpoint e ON e.id = d.endpoint_id
                                 WHERE e.url = %s GROUP BY d.state""", [url]))


@pytest.fixture(scope="module")
def db():
    return op.shared_db()


def test_prefork_cron_worker_is_woken_at_commit(db, tmp_path):
    """A user transaction that queues deliveries wakes the prefork cron worker at once.

    The cron worker is idle in its 60 s poll when the deliveries are committed: only the
    trigger's notification can get them delivered within seconds.
    """
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    receiver.daemon_threads = True
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    _Receiver.seen = []
    server = op.serve(db, open(tmp_path / "odoo.log", "w"), workers=2)  # noqa: SIM115
    try:
        op.wait_port(server.http_port)
        time.sleep(10)  # the cron worker has done its start-up pass and sleeps in its poll
        url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        out = op.shell(db, QUEUE % {"url": url, "burst": 20})
        committed = time.monotonic()
        assert "QUEUED 20" in out, out
        while len(set(_Receiver.seen)) < 20 and time.monotonic() < committed + 30:
            time.sleep(0.1)
        waited = time.monotonic() - committed
    finally:
        op.stop(server)
        receiver.shutdown()
    assert len(set(_Receiver.seen)) == 20, f"only {len(set(_Receiver.seen))} of 20 delivered after {waited:.0f} s"
    assert waited < 20, f"delivered {waited:.0f} s after commit: the cron worker was not woken"


def test_kill_9_mid_burst_loses_nothing(db, tmp_path):
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    receiver.daemon_threads = True
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    _Receiver.seen = []
    server = None
    try:
        url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        out = op.shell(db, QUEUE % {"url": url, "burst": BURST})
        assert f"QUEUED {BURST}" in out, out

        log = open(tmp_path / "odoo.log", "w")  # noqa: SIM115 - closed with the test's tmp dir
        server = op.serve(db, log)
        deadline = time.monotonic() + 120
        next_wake = 0
        while len(_Receiver.seen) < BURST // 5 and time.monotonic() < deadline:
            if not _Receiver.seen and time.monotonic() > next_wake:
                op.wake_cron(db)
                next_wake = time.monotonic() + 1
            time.sleep(0.01)
        assert len(_Receiver.seen) >= BURST // 5, "the worker never started sending"
        server.send_signal(signal.SIGKILL)
        server.wait(30)
        killed_at = len(set(_Receiver.seen))
        states = _states(db, url)
        assert states.get("pending", 0) > 0, f"the kill came too late to test anything: {states}"

        server = op.serve(db, log)
        deadline = time.monotonic() + 300
        while _states(db, url).get("delivered", 0) < BURST and time.monotonic() < deadline:
            op.wake_cron(db)
            time.sleep(0.5)
        states = _states(db, url)
        op.stop(server)
        server = None
    finally:
        if server is not None:
            server.kill()
        receiver.shutdown()

    counts = Counter(_Receiver.seen)
    assert states == {"delivered": BURST}, f"after restart: {states} (killed after {killed_at} received)"
    assert len(counts) == BURST, f"{BURST - len(counts)} webhook-ids never reached the receiver"
    resent = sum(count - 1 for count in counts.values())
    assert resent <= IN_FLIGHT, f"{resent} deliveries were sent twice: more than the attempts in flight"
