"""Start a throwaway PostgreSQL + Odoo (of ``ODOO_SERIES``, 18.0 by default) with the addon for a benchmark.

Used as a context manager: ``with BenchServer(workers=2) as srv: srv.url, srv.db, srv.key``.
"""
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def _bash(script):
    return subprocess.run(["bash", "-c", f"source {ROOT}/scripts/common.sh; {script}"],
                          check=True, capture_output=True, text=True).stdout.strip()


class BenchServer:
    """Throwaway PostgreSQL + Odoo with the addon; also serves scripts/screenshots.py (with demo data)."""

    def __init__(self, workers=2, extra_args=(), demo=False, api_key=True, db_filter=None, extra_dbs=None):
        """``extra_dbs``: ``{name: modules}`` of more databases the same server serves (then pass a
        ``db_filter`` such as ``^%d$`` and address each with ``srv.host_headers(name)``)."""
        self.workers = workers
        self.extra_args = list(extra_args)
        self.demo, self.api_key = demo, api_key
        self.db = "integration_bench"
        self.db_filter = db_filter or f"^{self.db}$"
        self.extra_dbs = dict(extra_dbs or {})

    def __enter__(self):
        self.tmp = Path(tempfile.mkdtemp(prefix="is-bench-", dir=ROOT / ".run" if (ROOT / ".run").is_dir() else None))
        self.tmp.chmod(0o755)  # the postgres user owns the cluster inside
        self.odoo = _bash("odoo_bin")
        self.series = _bash("echo $series")
        self.addons = _bash("stage_addon")
        self.pg_port = _bash("free_port")
        self.http_port = int(_bash("free_port"))
        subprocess.run([ROOT / "scripts/pg.sh", "start", self.tmp / "pg", self.pg_port], check=True)
        self.conf = self.tmp / "odoo.conf"
        self.conf.write_text(
            "[options]\ndb_host = 127.0.0.1\n"
            f"db_port = {self.pg_port}\ndb_user = odoo\n"
            f"addons_path = {_bash('odoo_addons_path')},{self.addons}\n"
            f"data_dir = {self.tmp / 'data'}\nhttp_port = {self.http_port}\n"
            "log_level = warn\nmax_cron_threads = 1\n"
            f"server_wide_modules = {_bash('stock_load')},integration_suite\n"  # as the README sets a server up
        )
        self.proc = None
        # benchmarks go without demo data: its automation rules and queued deliveries would be measured too
        demo = _bash("demo_args" if self.demo else "no_demo_args").split()
        install = subprocess.run([self.odoo, "-c", self.conf, "-d", self.db, "-i", "integration_suite", *demo,
                                  "--stop-after-init"], capture_output=True, text=True)
        if install.returncode:
            self.__exit__()
            sys.exit(f"installing integration_suite failed:\n{install.stderr[-5000:]}")
        for name, modules in self.extra_dbs.items():
            subprocess.run([self.odoo, "-c", self.conf, "-d", name, "-i", modules, *_bash("no_demo_args").split(),
                            "--stop-after-init"], check=True, capture_output=True)
        if self.api_key:
            self.key = self.shell(
                'print("KEY=" + env["res.users.apikeys"].with_user(env.ref("base.user_admin"))'
                '.sudo()._generate("rpc", "bench", None)); env.cr.commit()'
            ).split("KEY=")[1].split()[0]
        self.proc = subprocess.Popen(
            [self.odoo, "-c", self.conf, "-d", self.db, f"--workers={self.workers}",
             f"--db-filter={self.db_filter}", *self.extra_args],
            stdout=subprocess.DEVNULL, stderr=open(self.tmp / "server.log", "w"),
        )
        self.url = f"http://127.0.0.1:{self.http_port}"
        for _ in range(120):
            try:
                requests.get(self.url + "/web/version", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.5)
        return self

    def shell(self, code, db=None):
        done = subprocess.run([self.odoo, "shell", "-c", self.conf, "-d", db or self.db, "--no-http"],
                              input=code, capture_output=True, text=True, check=True)
        return done.stdout

    @staticmethod
    def host_headers(db):
        """What selects ``db`` under ``--db-filter=^%d$``, as a sender without X-Odoo-Database does."""
        return {"Host": f"{db}.localhost"}

    def __exit__(self, *exc):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        subprocess.run([ROOT / "scripts/pg.sh", "remove", self.tmp / "pg"], check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)
        if str(self.addons).startswith(str(ROOT / ".run")):
            shutil.rmtree(self.addons, ignore_errors=True)


def throughput(request, clients, seconds):
    """Calls per second of ``clients`` keep-alive threads running ``request(session)`` for ``seconds``."""
    counts = [0] * clients
    stop = time.monotonic() + seconds

    def client(i):
        with requests.Session() as session:
            while time.monotonic() < stop:
                request(session)
                counts[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / seconds


if __name__ == "__main__":
    sys.exit("import BenchServer from a benchmark script")
