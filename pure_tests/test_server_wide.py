"""A real prefork server (2 HTTP workers) with the addon loaded server-wide, as the README advises.

- A key removed, or its user archived, behind the ORM's back is refused at once by every worker:
  both workers verify (and cache) two keys, then one key's row is deleted and the other key's
  user archived with plain SQL, which signals no cache; every following call must be 401.
- A chunked body is not read to its end, with no key or naming no database.
- An incoming rule made, changed or archived by ``odoo shell`` (which signals no cache) is seen at
  once by both workers, which keep their rules' settings between calls.
`make test` exports the Odoo command and configuration it uses; elsewhere this is skipped.
"""
import concurrent.futures
import configparser
import os
import socket
import subprocess
import time
import uuid

import odoo_process as op
import pytest
import requests

CONF = os.environ.get("INTEGRATION_SUITE_ODOO_CONF")
ODOO = os.environ.get("INTEGRATION_SUITE_ODOO_BIN")
pytestmark = pytest.mark.skipif(not (CONF and ODOO), reason="needs the Odoo set up by `make test`")

BURST = 24

MAKE_KEYS = """
from odoo.addons.integration_suite.series import GROUPS_FIELD
for login in ("revoked_key", "archived_user"):
    user = env["res.users"].create({"name": login, "login": login,
                                    GROUPS_FIELD: [(6, 0, [env.ref("base.group_user").id])]})
    key = env["res.users.apikeys"].with_user(user).sudo()._generate("rpc", "revocation test", None)
    print("KEY", login, user.id, key)
env.cr.commit()
"""

HOOK_RULE = """
model = env.ref("base.model_res_partner")
rule = env["base.automation"].create({"name": "shell rule", "model_id": model.id, "trigger": "on_webhook"})
env["ir.actions.server"].create({"name": "tag", "model_id": model.id, "state": "code", "usage": "base_automation",
                                 "code": "env['res.partner.category'].create({'name': 'hook'})",
                                 "base_automation_id": rule.id})
partner = env["res.partner"].create({"name": "shell target"})
env.cr.commit()
print("RULE", rule.id, rule.webhook_uuid, partner.id)
"""


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _odoo(*args, stdin=None):
    return subprocess.run([ODOO, *args, "-c", CONF], input=stdin, capture_output=True,
                          text=True, timeout=900, check=False)


def _sql(db, statement, params):
    import psycopg2  # Odoo's driver: present only where this test runs (with Odoo)

    options = configparser.ConfigParser()
    options.read(CONF)
    opts = options["options"]
    with psycopg2.connect(dbname=db, host=opts.get("db_host"), port=opts.get("db_port"),
                          user=opts.get("db_user"), password=opts.get("db_password") or None) as cnx:
        with cnx.cursor() as cr:
            cr.execute(statement, params)


def _burst(port, db, key):
    """BURST concurrent calls, each on its own connection, so that both workers answer some."""
    def one(_index):
        return requests.post(f"http://127.0.0.1:{port}/json/2/res.partner/search_read", timeout=60, json={
            "domain": [], "fields": ["name"], "limit": 20,
        }, headers={"Authorization": f"bearer {key}", "X-Odoo-Database": db, "Connection": "close"}).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return sorted(pool.map(one, range(BURST)))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A prefork server (2 workers) with the addon loaded server-wide, and two users' keys."""
    db = f"is_revoke_{uuid.uuid4().hex[:8]}"
    done = _odoo("-d", db, "-i", "integration_suite", *op.NO_DEMO_ARGS, "--stop-after-init")
    assert done.returncode == 0, done.stderr[-3000:]
    done = _odoo("shell", "-d", db, "--no-http", stdin=MAKE_KEYS)
    keys = {line.split()[1]: line.split()[2:] for line in done.stdout.splitlines() if line.startswith("KEY ")}
    assert set(keys) == {"revoked_key", "archived_user"}, (done.stdout + done.stderr)[-3000:]
    port = _free_port()
    log = open(tmp_path_factory.mktemp("odoo") / "odoo.log", "w")  # noqa: SIM115 - closed with the tmp dir
    process = subprocess.Popen(
        [ODOO, "-c", CONF, "-d", db, f"--db-filter=^{db}$", "--workers=2", "--max-cron-threads=0",
         f"--load={op.STOCK_LOAD},integration_suite", f"--http-port={port}", "--log-level=warn"],
        stdout=subprocess.DEVNULL, stderr=log)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{port}/web/version", timeout=10)
                break
            except requests.RequestException:  # not listening yet, or still loading
                time.sleep(0.5)
        yield port, db, keys
    finally:
        process.terminate()
        process.wait(30)


def test_sql_revocation_is_refused_by_every_worker(server):
    port, db, keys = server
    for _user_id, key in keys.values():
        assert _burst(port, db, key) == [200] * BURST, "the keys work before the revocation"
    _sql(db, "DELETE FROM res_users_apikeys WHERE user_id = %s", [int(keys["revoked_key"][0])])
    _sql(db, "UPDATE res_users SET active = false WHERE id = %s", [int(keys["archived_user"][0])])
    for who, (_user_id, key) in keys.items():
        assert _burst(port, db, key) == [401] * BURST, f"{who}: still accepted after the SQL revocation"


def _hook_burst(port, db, rule_uuid, partner_id):
    """BURST concurrent calls of an incoming rule, each on its own connection (both workers answer)."""
    def one(_index):
        return requests.post(f"http://127.0.0.1:{port}/web/hook/{rule_uuid}", timeout=60,
                             json={"_model": "res.partner", "_id": partner_id},
                             headers={"X-Odoo-Database": db, "Connection": "close"}).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return sorted(pool.map(one, range(BURST)))


def _shell_rule(db):
    done = _odoo("shell", "-d", db, "--no-http", stdin=HOOK_RULE)
    made = next((line.split()[1:] for line in done.stdout.splitlines() if line.startswith("RULE ")), None)
    assert made, (done.stdout + done.stderr)[-3000:]
    return int(made[0]), made[1], int(made[2])


def test_a_rule_changed_by_odoo_shell_is_seen_by_every_worker(server):
    port, db, _keys = server
    first = _shell_rule(db)
    assert _hook_burst(port, db, *first[1:]) == [200] * BURST, "both workers now keep the rules they saw"
    rule_id, rule_uuid, partner_id = _shell_rule(db)
    assert _hook_burst(port, db, rule_uuid, partner_id) == [200] * BURST, "a rule made after the workers loaded theirs"
    for change, status in [("rule.webhook_auth_mode = 'api_key'", 401), ("rule.webhook_auth_mode = 'url'", 200),
                           ("rule.active = False", 404)]:
        done = _odoo("shell", "-d", db, "--no-http",
                     stdin=f"rule = env['base.automation'].browse({rule_id})\n{change}\nenv.cr.commit()\n")
        assert done.returncode == 0, done.stderr[-3000:]
        assert _hook_burst(port, db, rule_uuid, partner_id) == [status] * BURST, f"after {change}"
    assert _hook_burst(port, db, *first[1:]) == [200] * BURST


@pytest.mark.parametrize("headers", [{}, {"X-Odoo-Database": "no_such_database"}])
def test_chunked_body_is_not_read_to_its_end(server, headers):
    """Sessionless, keyless, or naming no database: a 96 MB chunked body stops at the 64 MB cap."""
    port, _db, _keys = server
    sent, total, chunk = [0], 96 * 1024 * 1024, b"x" * (1024 * 1024)

    def body():
        while sent[0] < total:
            sent[0] += len(chunk)
            yield chunk

    try:
        status = requests.post(f"http://127.0.0.1:{port}/json/2/res.partner/search", data=body(), timeout=120,
                               headers={"Content-Type": "application/json", **headers}).status_code
    except requests.ConnectionError:
        status = None  # the server stopped reading and closed the connection
    assert sent[0] < total, "the whole chunked body was read"
    assert status in (None, 401, 404, 413), status
