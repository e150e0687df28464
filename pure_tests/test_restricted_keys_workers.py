"""A restricted key's rate limit holds across the workers of a server and across servers (issue 21).

Two real servers on one database: a prefork server with 2 workers and a threaded one. A key limited
to 60 calls per minute sends 200 JSON/2 calls in 10 seconds, spread over both servers. The limit is
kept in PostgreSQL (GCRA, counted call by call up to 600 calls a minute), so what is answered stays
within the documented bound: the whole quota at once, then one call per second (60 + T calls in T
seconds); everything else is 429 with Retry-After.
"""
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor

import odoo_process as op
import pytest
import requests

pytestmark = pytest.mark.skipif(not op.AVAILABLE, reason="needs the Odoo of `make test`")

_logger = logging.getLogger(__name__)
LIMIT = 60
CALLS = 200
SECONDS = 10.0

MAKE_KEY = """
from odoo.addons.integration_suite.series import GROUPS_FIELD
user = env["res.users"].create({"name": "Burst bot", "login": "burst_bot_%(tag)s",
                                GROUPS_FIELD: [(6, 0, [env.ref("base.group_user").id])]})
key = env["res.users.apikeys"].with_user(user).sudo()._generate(None, "burst", None)
env.cr.execute("SELECT id FROM res_users_apikeys WHERE user_id = %%s", [user.id])
env["integration.apikey.policy"].create({"key_id": env.cr.fetchone()[0], "rate_limit": %(limit)s})
env.cr.commit()
print("KEY=" + key)
"""


def test_a_burst_over_two_workers_and_two_servers(tmp_path):
    db = op.shared_db()
    tag = str(int(time.time() * 1000))
    out = op.shell(db, MAKE_KEY % {"tag": tag, "limit": LIMIT})
    key = next(line[4:] for line in out.splitlines() if line.startswith("KEY="))
    with open(tmp_path / "prefork.log", "w") as log_a, open(tmp_path / "threaded.log", "w") as log_b:
        servers = [op.serve(db, log_a, workers=2, cron_threads=0), op.serve(db, log_b, workers=0, cron_threads=0)]
        try:
            for server in servers:
                op.wait_port(server.http_port)
            ports = [server.http_port for server in servers]
            session = requests.Session()

            def warm(port):  # the first call of each process loads its registry: not part of the burst
                return requests.post(f"http://127.0.0.1:{port}/json/2/res.partner/search_count",
                                     json={"domain": []}, headers={"Authorization": "bearer wrong"}, timeout=60)

            for port in ports * 3:
                assert warm(port).status_code == 401
            started = time.monotonic()

            def one(index):
                delay = started + index * SECONDS / CALLS - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                port = ports[index % 2]
                answer = session.post(f"http://127.0.0.1:{port}/json/2/res.partner/search_count",
                                      json={"domain": []}, headers={"Authorization": f"bearer {key}"}, timeout=60)
                return answer.status_code, answer.headers, port

            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(one, range(CALLS)))
            elapsed = time.monotonic() - started
        finally:
            for server in servers:
                op.stop(server)
    statuses = [status for status, _headers, _port in answers]
    assert set(statuses) <= {200, 429}, statuses
    answered = statuses.count(200)
    bound = LIMIT + math.ceil(elapsed * LIMIT / 60) + 1
    _logger.info("rate limit %s/min: %s of %s calls answered in %.1f s (bound %s)", LIMIT, answered, CALLS, elapsed,
                 bound)
    assert LIMIT <= answered <= bound, (answered, bound, elapsed)
    assert {port for status, _h, port in answers if status == 200} == set(ports), "both servers answered"
    refused = [headers for status, headers, _port in answers if status == 429]
    assert refused and all(int(h["Retry-After"]) >= 1 and h["RateLimit-Policy"] == f'"api-key";q={LIMIT};w=60'
                           for h in refused)
    # the refusals are logged with the key's name, never the key
    logs = (tmp_path / "prefork.log").read_text() + (tmp_path / "threaded.log").read_text()
    assert "API key 'burst'" in logs and "rate limit" in logs
    assert key not in logs
