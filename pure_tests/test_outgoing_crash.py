"""Fault test: the Odoo server is killed (SIGKILL) in the middle of a burst of 500 deliveries.

A real ``odoo`` server process with one cron thread sends the burst to a receiver in this
process; it is killed once part of the burst has arrived, restarted, and must then deliver
everything: every delivery ends delivered, every webhook-id reaches the receiver (at-least-once:
the groups in flight at the kill may arrive twice once their lease has passed, never more).

`make test` exports the Odoo command and configuration it uses; elsewhere this is skipped.
"""
import configparser
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

CONF = os.environ.get("INTEGRATION_SUITE_ODOO_CONF")
ODOO = os.environ.get("INTEGRATION_SUITE_ODOO_BIN")
pytestmark = pytest.mark.skipif(not (CONF and ODOO), reason="needs the Odoo set up by `make test`")

BURST = 500
# models/integration_webhook_delivery.py: a worker has at most PIPELINE_GROUPS x CLAIM_GROUP in flight
IN_FLIGHT = 2 * 64

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


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _odoo(*args, stdin=None):
    return subprocess.run([ODOO, *args, "-c", CONF], input=stdin, capture_output=True,
                          text=True, timeout=900, check=False)


def _connect(db):
    import psycopg2  # Odoo's driver: present only where this test runs (with Odoo)

    options = configparser.ConfigParser()
    options.read(CONF)
    opts = options["options"]
    return psycopg2.connect(dbname=db, host=opts.get("db_host"), port=opts.get("db_port"),
                            user=opts.get("db_user"), password=opts.get("db_password") or None)


def _states(db, url):
    with _connect(db) as cnx, cnx.cursor() as cr:
        cr.execute("""SELECT d.state, count(*) FROM integration_webhook_delivery d
                        JOIN integration_webhook_endpoint e ON e.id = d.endpoint_id
                       WHERE e.url = %s GROUP BY d.state""", [url])
        return dict(cr.fetchall())


def _wake_cron(db):
    """What a trigger's commit does: cron threads otherwise poll only every 60 s after start."""
    with _connect("postgres") as cnx, cnx.cursor() as cr:
        cr.execute("SELECT pg_notify('cron_trigger', %s)", [db])


def _serve(db, log, workers=0, http_port=None):
    return subprocess.Popen(
        [ODOO, "-c", CONF, "-d", db, f"--db-filter=^{db}$", f"--workers={workers}", "--max-cron-threads=1",
         f"--http-port={http_port or _free_port()}", "--log-level=warn"],
        stdout=subprocess.DEVNULL, stderr=log)


@pytest.fixture(scope="module")
def db():
    name = f"is_crash_{uuid.uuid4().hex[:8]}"
    done = _odoo("-d", name, "-i", "integration_suite", "--without-demo=all", "--stop-after-init")
    assert done.returncode == 0, done.stderr[-3000:]
    return name


def test_prefork_cron_worker_is_woken_at_commit(db, tmp_path):
    """A user transaction that queues deliveries wakes the prefork cron worker at once.

    The cron worker is idle in its 60 s poll when the deliveries are committed: only the
    trigger's notification can get them delivered within seconds.
    """
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    receiver.daemon_threads = True
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    _Receiver.seen = []
    port = _free_port()
    server = _serve(db, open(tmp_path / "odoo.log", "w"), workers=2, http_port=port)  # noqa: SIM115
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        time.sleep(10)  # the cron worker has done its start-up pass and sleeps in its poll
        url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
        done = _odoo("shell", "-d", db, "--no-http", stdin=QUEUE % {"url": url, "burst": 20})
        committed = time.monotonic()
        assert "QUEUED 20" in done.stdout, (done.stdout + done.stderr)[-3000:]
        while len(set(_Receiver.seen)) < 20 and time.monotonic() < committed + 30:
            time.sleep(0.1)
        waited = time.monotonic() - committed
    finally:
        server.terminate()
        server.wait(30)
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
        done = _odoo("shell", "-d", db, "--no-http", stdin=QUEUE % {"url": url, "burst": BURST})
        assert f"QUEUED {BURST}" in done.stdout, (done.stdout + done.stderr)[-3000:]

        log = open(tmp_path / "odoo.log", "w")  # noqa: SIM115 - closed with the test's tmp dir
        server = _serve(db, log)
        deadline = time.monotonic() + 120
        next_wake = 0
        while len(_Receiver.seen) < BURST // 5 and time.monotonic() < deadline:
            if not _Receiver.seen and time.monotonic() > next_wake:
                _wake_cron(db)
                next_wake = time.monotonic() + 1
            time.sleep(0.01)
        assert len(_Receiver.seen) >= BURST // 5, "the worker never started sending"
        server.send_signal(signal.SIGKILL)
        server.wait(30)
        killed_at = len(set(_Receiver.seen))
        states = _states(db, url)
        assert states.get("pending", 0) > 0, f"the kill came too late to test anything: {states}"

        server = _serve(db, log)
        deadline = time.monotonic() + 300
        while _states(db, url).get("delivered", 0) < BURST and time.monotonic() < deadline:
            _wake_cron(db)
            time.sleep(0.5)
        states = _states(db, url)
        server.terminate()
        server.wait(30)
        server = None
    finally:
        if server is not None:
            server.kill()
        receiver.shutdown()

    counts = Counter(_Receiver.seen)
    assert states == {"delivered": BURST}, f"after restart: {states} (killed after {killed_at} received)"
    assert len(counts) == BURST, f"{BURST - len(counts)} webhook-ids never reached the receiver"
    resent = sum(count - 1 for count in counts.values())
    assert resent <= IN_FLIGHT, f"{resent} deliveries were sent twice: more than the groups in flight"
