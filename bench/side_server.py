"""Odoo servers started beside a BenchServer (same PostgreSQL cluster) and alternating measurements.

``SideServer(srv, db, *conf_lines)`` serves ``db`` with 2 workers and no cron thread; ``compare``
runs the same call against each server in alternating rounds and reports, per server, the
throughput and the CPU time its processes spent per call. On a machine shared with other work
the throughput drifts with the neighbours' load; the CPU time per call does not, and is what a
dedicated server's throughput is inversely proportional to.
"""
import subprocess
import time

import psutil
import requests
from server import _bash, throughput


class SideServer:
    def __init__(self, srv, db, *conf_lines, key=None):
        self.srv, self.db, self.lines = srv, db, conf_lines
        self.key = key or srv.key

    def __enter__(self):
        name = f"side-{self.db}-{len(self.lines)}"
        conf = self.srv.tmp / f"{name}.conf"
        conf.write_text(self.srv.conf.read_text() + "".join(f"{line}\n" for line in self.lines))
        port = int(_bash("free_port"))
        self.proc = subprocess.Popen(
            [self.srv.odoo, "-c", conf, "-d", self.db, "--workers=2", f"--http-port={port}",
             f"--db-filter=^{self.db}$", "--max-cron-threads=0"],
            stdout=subprocess.DEVNULL, stderr=open(self.srv.tmp / f"{name}.log", "w"))
        self.url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                requests.get(self.url + "/web/login", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.5)
        return self

    def cpu_seconds(self):
        """User + system CPU time of the server's processes (master, HTTP workers, long-polling)."""
        total = 0.0
        root = psutil.Process(self.proc.pid)
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def compare(targets, call, rounds, clients, seconds, warmup=20):
    """``{name: (calls/s, CPU ms per call)}`` of ``call(session, target)`` on each ``(name, target)``."""
    with requests.Session() as session:
        for _ in range(warmup):
            for _name, target in targets:
                call(session, target)
    rates = {name: [] for name, _target in targets}
    cpu = {name: [0.0, 0] for name, _target in targets}
    for r in range(rounds):
        for name, target in targets[r % len(targets):] + targets[:r % len(targets)]:
            before = target.cpu_seconds()
            rate = throughput(lambda session, t=target: call(session, t), clients, seconds)
            cpu[name][0] += target.cpu_seconds() - before
            cpu[name][1] += rate * seconds
            rates[name].append(rate)
    return {name: (sum(rates[name]) / rounds, 1000 * cpu[name][0] / cpu[name][1]) for name, _target in targets}
