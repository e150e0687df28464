"""Several databases on one server, as the README sets it up: the addon loaded server-wide, no
dbfilter, 2 HTTP workers, clients without a session cookie.

- Every door answers for the database the call names: legacy XML-RPC / JSON-RPC (the inventory,
  deprecation headers and retirement of that database), JSON/2, ``/doc-bearer`` and ``/metrics``
  with ``X-Odoo-Database``, ``/web/hook``.
- A database without the addon gets, on that server, the very bytes a stock 18.0 server (the same
  Odoo, the addon not loaded) answers for it; so does the addon's database once it uninstalled
  the addon.
`make test` exports the Odoo command and configuration it uses; elsewhere this is skipped.
"""
import re
import subprocess
import time
import uuid
import xmlrpc.client

import odoo_process as op
import pytest
import requests

pytestmark = pytest.mark.skipif(not op.AVAILABLE, reason="needs the Odoo set up by `make test`")

# an "On webhook" rule marking a partner, in either database
HOOK_RULE = """
model = env.ref("base.model_res_partner")
rule = env["base.automation"].create({"name": "multi rule", "model_id": model.id, "trigger": "on_webhook"})
env["ir.actions.server"].create({"name": "mark", "model_id": model.id, "state": "code", "usage": "base_automation",
                                 "code": "record.write({'ref': 'hooked'})", "base_automation_id": rule.id})
partner = env["res.partner"].create({"name": "multi target"})
"""

SETUP = HOOK_RULE + """
from odoo.addons.integration_suite.series import GROUPS_FIELD
admin = env.ref("base.user_admin")
admin.write({GROUPS_FIELD: [(4, env.ref("integration_suite.group_metrics").id)]})
key = env["res.users.apikeys"].with_user(admin).sudo()._generate("rpc", "multi-database", None)
retired = env["res.users"].create({"name": "Retired", "login": "retired", "password": "retired-pass",
                                   GROUPS_FIELD: [(6, 0, [env.ref("base.group_user").id])]})
env["integration.legacy.retirement"].create({"user_id": retired.id})
env.cr.commit()
print("SETUP", key, retired.id, rule.webhook_uuid, partner.id)
"""

STOCK_SETUP = HOOK_RULE + """
env.cr.commit()
print("SETUP", rule.webhook_uuid, partner.id)
"""

UNINSTALL = """
env["ir.module.module"].search([("name", "=", "integration_suite")]).button_immediate_uninstall()
env.cr.commit()
print("SETUP", env["ir.module.module"].search([("name", "=", "integration_suite")]).state)
"""

# headers that differ between two servers or two answers whatever they serve
VOLATILE = {"date", "server", "set-cookie", "content-length", "x-request-id"}
# the CSRF token of a page: made per session and time
CSRF = re.compile(rb'csrf_token: "[0-9a-f]+o[0-9]+"')


def _setup(db, code):
    line = next((line for line in op.shell(db, code).splitlines() if line.startswith("SETUP ")), None)
    assert line, f"no SETUP line from {db}"
    return line.split()[1:]


def _server(tmp_path, name, *extra):
    port = op.free_port()
    log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(
        [op.ODOO, "-c", op.CONF, "--workers=2", "--max-cron-threads=0", f"--http-port={port}",
         "--log-level=warn", "--db-filter=", *extra], stdout=subprocess.DEVNULL, stderr=log)
    process.http_port, process.log_file = port, tmp_path / f"{name}.log"
    return process


def _wait(port):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/web/webclient/version_info", timeout=10)
            return
        except requests.RequestException:
            time.sleep(0.5)
    raise AssertionError(f"no server on port {port}")


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """Database ``addon`` (the addon installed) and ``stock`` (base_automation only); a server with
    the addon loaded server-wide and a stock server, both over every database, no dbfilter."""
    tmp = tmp_path_factory.mktemp("multi")
    addon, stock = f"is_multi_{uuid.uuid4().hex[:8]}", f"is_plain_{uuid.uuid4().hex[:8]}"
    for db, modules in ((addon, "integration_suite"), (stock, "base_automation")):
        done = op.odoo("-d", db, "-i", modules, *op.NO_DEMO_ARGS, "--stop-after-init")
        assert done.returncode == 0, done.stderr[-3000:]
    key, retired_id, rule_uuid, partner_id = _setup(addon, SETUP)
    stock_uuid, stock_partner = _setup(stock, STOCK_SETUP)
    servers = {"addon": addon, "stock": stock, "key": key, "retired": int(retired_id), "uuid": rule_uuid,
               "partner": int(partner_id), "stock_uuid": stock_uuid, "stock_partner": int(stock_partner),
               "wide": _server(tmp, "wide", f"--load={op.STOCK_LOAD},integration_suite"),
               "plain": _server(tmp, "plain", f"--load={op.STOCK_LOAD}"), "tmp": tmp}
    try:
        _wait(servers["wide"].http_port)
        _wait(servers["plain"].http_port)
        yield servers
    finally:
        op.stop(servers["wide"])  # the servers of the moment: the uninstall test restarts them
        op.stop(servers["plain"])
        for db in (addon, stock):
            op.drop_db(db)


def _url(process, path):
    return f"http://127.0.0.1:{process.http_port}{path}"


def _xmlrpc(process, service, method, *params, door="/xmlrpc/2"):
    body = xmlrpc.client.dumps(params, method, allow_none=True)
    return requests.post(_url(process, f"{door}/{service}"), data=body, timeout=60,
                         headers={"Content-Type": "text/xml"})


def _jsonrpc(process, service, method, *args):
    return requests.post(_url(process, "/jsonrpc"), timeout=60, json={
        "jsonrpc": "2.0", "method": "call", "id": 1, "params": {"service": service, "method": method, "args": args}})


def _result(response):
    return xmlrpc.client.loads(response.content)[0][0]


def test_legacy_doors_answer_for_every_database(servers):
    """No cookie, no dbfilter: the legacy calls are served without a database and name theirs."""
    wide, addon, stock = servers["wide"], servers["addon"], servers["stock"]
    version = _xmlrpc(wide, "common", "version")
    assert version.status_code == 200 and _result(version)["server_serie"] == op.SERIES, version.text
    assert "Deprecation" not in version.headers, "a call that names no database is 18.0's"
    for db, password, observed in ((addon, servers["key"], True), (stock, "admin", False)):
        login = _xmlrpc(wide, "common", "authenticate", db, "admin", password, {})
        assert login.status_code == 200, login.text
        uid = _result(login)
        assert isinstance(uid, int) and uid, login.text
        count = _xmlrpc(wide, "object", "execute_kw", db, uid, password, "res.partner", "search_count", [[]])
        assert count.status_code == 200 and _result(count) > 0, count.text
        json_count = _jsonrpc(wide, "object", "execute_kw", db, uid, password, "res.partner", "search_count", [[]])
        assert json_count.status_code == 200 and json_count.json().get("result", 0) > 0, json_count.text
        for response in (login, count, json_count):
            assert ("Deprecation" in response.headers) is observed, (db, response.headers)
            assert ("Link" in response.headers) is observed, (db, response.headers)


def test_retirement_and_inventory_of_the_named_database(servers):
    wide, addon = servers["wide"], servers["addon"]
    refused = _xmlrpc(wide, "object", "execute_kw", addon, servers["retired"], "retired-pass", "res.partner",
                      "search_count", [[]])
    fault = xmlrpc.client.loads  # a fault raises on loads
    with pytest.raises(xmlrpc.client.Fault, match="retired"):
        fault(refused.content)
    assert "Deprecation" in refused.headers
    refused = _jsonrpc(wide, "object", "execute_kw", addon, servers["retired"], "retired-pass", "res.partner",
                       "search_count", [[]])
    assert "retired" in refused.json()["error"]["data"]["message"], refused.text
    assert "Deprecation" in refused.headers, "the JSON-RPC error served without a database keeps the headers"
    deadline = time.monotonic() + 60  # each worker writes its counts every 10 s
    while time.monotonic() < deadline:
        rows = op.query(addon, "SELECT count(*), coalesce(sum(refused_count), 0) FROM integration_legacy_client")
        if rows[0][0] and rows[0][1] >= 2:
            break
        time.sleep(1)
    assert rows[0][0] and rows[0][1] >= 2, f"inventory of {addon}: {rows}"


def test_json2_doc_metrics_and_hooks_with_the_header(servers):
    wide, addon, stock = servers["wide"], servers["addon"], servers["stock"]
    auth = {"Authorization": f"bearer {servers['key']}", "X-Odoo-Database": addon}
    count = requests.post(_url(wide, "/json/2/res.partner/search_count"), json={"domain": []}, headers=auth,
                          timeout=60)
    assert count.status_code == 200 and count.json() > 0, count.text
    assert requests.get(_url(wide, "/doc-bearer/index.json"), headers=auth, timeout=60).status_code == 200
    metrics = requests.get(_url(wide, "/metrics"), headers=auth, timeout=60)
    assert metrics.status_code == 200 and "integration_webhook_deliveries" in metrics.text, metrics.text[:500]
    hook = requests.post(_url(wide, f"/web/hook/{servers['uuid']}"), timeout=60, headers={"X-Odoo-Database": addon},
                         json={"_model": "res.partner", "_id": servers["partner"]})
    assert hook.status_code == 200 and "X-Request-Id" in hook.headers, hook.text
    assert op.query(addon, "SELECT ref FROM res_partner WHERE id = %s", [servers["partner"]]) == [("hooked",)]
    missing = requests.post(_url(wide, "/json/2/res.partner/search_count"), json={}, timeout=60,
                            headers={"X-Odoo-Database": "no_such_database_here"})
    if op.SERIES == "18.0":
        assert missing.status_code == 404 and missing.json()["name"] == "werkzeug.exceptions.NotFound", missing.text
        # the stock database named in the header: 18.0 ignores the header, so no database is selected
        expected = {"/json/2/res.partner/search_count": 404, "/metrics": 404, "/doc-bearer/index.json": 404}
    else:  # 19.0 selects the header's database itself (its own 404 page), where JSON-2 and /doc-bearer are its own
        assert missing.status_code == 404, missing.text
        expected = {"/json/2/res.partner/search_count": 401, "/metrics": 404, "/doc-bearer/index.json": 401}
    for path, status in expected.items():
        answer = requests.post(_url(wide, path), json={}, timeout=60, headers={"X-Odoo-Database": stock})
        assert answer.status_code == status, (path, answer.status_code)
    log = servers["wide"].log_file.read_text()
    # (19.0's own X-Odoo-Database tries the registry of the missing database: its warning)
    for line in ("Database or registry unusable",) * (op.SERIES == "18.0") + ("Exception during request handling",):
        assert line not in log, log[-3000:]


def _cookie(process, db):
    """A session on ``db``, as 18.0 makes one (``?db=``): how a stock database is reached here."""
    session = requests.Session()
    session.get(_url(process, f"/web/login?db={db}"), timeout=60)
    return session


def _answers(process, db, hook_uuid, partner_id, password):
    """What a client gets from ``process`` for ``db`` at every door: (status, headers, body) each."""
    session = _cookie(process, db)
    login = _xmlrpc(process, "common", "authenticate", db, "admin", password, {})
    uid = _result(login)
    calls = [
        login,
        _xmlrpc(process, "object", "execute_kw", db, uid, password, "res.partner", "search_count", [[]]),
        _xmlrpc(process, "object", "execute_kw", db, uid, password, "res.partner", "no_such_method", []),
        _xmlrpc(process, "object", "execute_kw", db, uid, password, "res.partner", "search_count", [[]],
                door="/xmlrpc"),
        _jsonrpc(process, "object", "execute_kw", db, uid, password, "res.partner", "search_count", [[]]),
        session.post(_url(process, f"/web/hook/{hook_uuid}"), json={"_model": "res.partner", "_id": partner_id},
                     timeout=60),
        session.put(_url(process, f"/web/hook/{hook_uuid}"), timeout=60),
        session.post(_url(process, "/json/2/res.partner/search_count"), json={}, timeout=60, allow_redirects=False),
        session.get(_url(process, "/metrics"), timeout=60, allow_redirects=False),
        session.get(_url(process, "/doc-bearer/index.json"), timeout=60, allow_redirects=False),
        session.get(_url(process, "/web/version"), timeout=60, allow_redirects=False),
    ]
    return [(r.request.method, r.request.path_url, r.status_code, _headers(r), CSRF.sub(b"csrf", r.content))
            for r in calls]


def _headers(response):
    """The headers that depend on what was served (``Allow`` lists werkzeug's set of methods in any order)."""
    return sorted((k.lower(), ", ".join(sorted(v.split(", "))) if k.lower() == "allow" else v)
                  for k, v in response.headers.items() if k.lower() not in VOLATILE)


def _same_as_stock(servers, db, hook_uuid, partner_id, password):
    wide = _answers(servers["wide"], db, hook_uuid, partner_id, password)
    plain = _answers(servers["plain"], db, hook_uuid, partner_id, password)
    for got, expected in zip(wide, plain, strict=True):
        assert got[:4] == expected[:4], f"{got[:3]} differs from stock 18.0's answer:\n{got[:4]}\n{expected[:4]}"
        pairs = zip(got[4], expected[4], strict=False)
        at = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(got[4]), len(expected[4])))
        assert got[4] == expected[4], f"{got[:3]}: the body differs from stock 18.0's at byte {at}: " \
                                      f"{got[4][at - 80:at + 80]!r} != {expected[4][at - 80:at + 80]!r}"


def test_a_database_without_the_addon_answers_as_stock(servers):
    _same_as_stock(servers, servers["stock"], servers["stock_uuid"], servers["stock_partner"], "admin")


def test_after_uninstalling_the_database_answers_as_stock(servers):
    """Every door used, the addon uninstalled: the database answers as on a stock server."""
    addon = servers["addon"]
    # Odoo refuses to uninstall a module its own process loads server-wide: the shell loads base and web
    done = op.odoo("shell", "-d", addon, "--no-http", f"--load={op.STOCK_LOAD}", stdin=UNINSTALL)
    assert "SETUP uninstalled" in done.stdout, (done.stdout + done.stderr)[-3000:]
    op.stop(servers["wide"])
    op.stop(servers["plain"])
    servers["wide"] = _server(servers["tmp"], "wide-after", f"--load={op.STOCK_LOAD},integration_suite")
    servers["plain"] = _server(servers["tmp"], "plain-after", f"--load={op.STOCK_LOAD}")
    _wait(servers["wide"].http_port)
    _wait(servers["plain"].http_port)
    tables = op.query(addon, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'integration\\_%%'")
    assert tables == [], tables
    _same_as_stock(servers, addon, servers["uuid"], servers["partner"], servers["key"])
