"""Real Odoo processes for the pure tests: shells, servers with cron threads, databases, a receiver.

`make test` exports the Odoo command and configuration it uses (``INTEGRATION_SUITE_ODOO_BIN``,
``INTEGRATION_SUITE_ODOO_CONF``); the tests using these helpers are skipped elsewhere.
"""
import configparser
import os
import socket
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONF = os.environ.get("INTEGRATION_SUITE_ODOO_CONF")
ODOO = os.environ.get("INTEGRATION_SUITE_ODOO_BIN")
AVAILABLE = bool(CONF and ODOO)
# the Odoo series of `make test` (ODOO_SERIES) and what it loads server-wide without the addon
SERIES = os.environ.get("ODOO_SERIES") or "18.0"
STOCK_LOAD = "base,web" if SERIES == "18.0" else "base,rpc,web"
# what loads demo data into a new database (19.0 loads none unless told)
DEMO_ARGS, NO_DEMO_ARGS = ((), ("--without-demo=all",)) if SERIES == "18.0" else (("--with-demo",), ())
_shared = {}


def odoo(*args, stdin=None, timeout=900):
    return subprocess.run([ODOO, *args, "-c", CONF], input=stdin, capture_output=True,
                          text=True, timeout=timeout, check=False)


def shell(db, code, timeout=300):
    """Run ``code`` in ``odoo shell`` on ``db`` (no HTTP); its stdout, or an assertion error with its output."""
    done = odoo("shell", "-d", db, "--no-http", stdin=code, timeout=timeout)
    assert done.returncode == 0 and "Traceback" not in done.stderr, (done.stdout + done.stderr)[-4000:]
    return done.stdout


def options():
    parser = configparser.ConfigParser()
    parser.read(CONF)
    return parser["options"]


def connect(db):
    import psycopg2  # Odoo's driver: present only where these tests run (with Odoo)

    opts = options()
    return psycopg2.connect(dbname=db, host=opts.get("db_host"), port=opts.get("db_port"),
                            user=opts.get("db_user"), password=opts.get("db_password") or None)


def query(db, sql, params=()):
    """Rows of one statement, run in its own committed transaction."""
    cnx = connect(db)
    try:
        with cnx, cnx.cursor() as cr:
            cr.execute(sql, params)
            return cr.fetchall() if cr.description else []
    finally:
        cnx.close()


def wake_cron(db):
    """What a trigger's commit does: cron threads otherwise poll only every 60 s after start."""
    query("postgres", "SELECT pg_notify('cron_trigger', %s)", [db])


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(db, log, workers=0, http_port=None, cron_threads=1):
    """An Odoo server on ``db`` alone with ``cron_threads`` cron threads; wait for it with ``wait_port``."""
    port = http_port or free_port()
    process = subprocess.Popen(
        [ODOO, "-c", CONF, "-d", db, f"--db-filter=^{db}$", f"--workers={workers}",
         f"--max-cron-threads={cron_threads}", f"--http-port={port}", "--log-level=warn"],
        stdout=subprocess.DEVNULL, stderr=log)
    process.http_port = port
    return process


def wait_port(port, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"no server on port {port} after {timeout} s")


def stop(process):
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


def shared_db():
    """A database with the addon installed (no demo data), made once per test session."""
    if "db" not in _shared:
        name = f"is_pure_{uuid.uuid4().hex[:8]}"
        done = odoo("-d", name, "-i", "integration_suite", *NO_DEMO_ARGS, "--stop-after-init")
        assert done.returncode == 0, done.stderr[-3000:]
        _shared["db"] = name
    return _shared["db"]


def copy_db(source, target):
    """A copy of ``source`` with its filestore (no server may be connected to it), as a restore makes."""
    done = subprocess.run([ODOO, "db", "-c", CONF, "duplicate", source, target], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


def drop_db(name):
    subprocess.run([ODOO, "db", "-c", CONF, "drop", name], capture_output=True, timeout=300, check=False)


class Receiver:
    """A webhook receiver on 127.0.0.1 in a thread: keeps (path, webhook-id, monotonic time) per request.

    ``answers[path]`` is a list of statuses given in turn to that path's requests (then 200);
    ``delay`` seconds of sleep before answering.
    """

    def __init__(self, delay=0.0):
        self.seen, self.answers, self.delay = [], {}, delay
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - http.server API
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.seen.append((self.path, self.headers.get("webhook-id"), time.monotonic()))
                    pending = receiver.answers.get(self.path)
                    status = pending.pop(0) if pending else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def received(self, path):
        with self.lock:
            return [(webhook_id, when) for seen_path, webhook_id, when in self.seen if seen_path == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
