"""Moving a database from Odoo 18.0 to 19.0 keeps the addon's data and secrets (issue 22).

Odoo's own upgrade (its upgrade service, or OCA's OpenUpgrade) migrates the core of a database
from one series to the next; neither is available here, and 19.0's code cannot load an 18.0
database by itself (its first column conversion in ``base`` fails). So the base upgrade is
simulated, and the rest is real:

- **The schema of what the addon owns is the same on both series** (its tables, and its columns
  on core tables: automation rules, server actions, API keys): an 18.0 and a 19.0 database with
  the addon are compared, column types and constraints. So the base upgrade, which leaves the
  addon's tables alone, hands them to 19.0 as 18.0 wrote them, and 19.0's ORM converts nothing.
- **The addon's update on 19.0 from its 18.0 state**: a 19.0 database with the addon and data
  of every kind (endpoints with secrets, pending, failed and delivered deliveries, incoming rules
  with their authentication settings and secrets, call logs, restricted API keys, the legacy
  inventory and retirements) is put back where the base upgrade leaves it — the module at
  ``18.0.1.6.0``, the 18.0-only views in place — then ``-u integration_suite`` runs the addon's
  migration for 19.0 (``migrations/19.0.1.6.0``). Every row and secret is kept, the 18.0-only
  views are gone and 19.0's forms render.
"""
import configparser
import json
import os
import subprocess
import uuid

import odoo_process as op
import pytest

pytestmark = [
    pytest.mark.skipif(not op.AVAILABLE, reason="needs the Odoo set up by `make test`"),
    pytest.mark.skipif(op.SERIES == "18.0", reason="moving a database to 19.0 is tested by `make test` on 19.0"),
]
# an Odoo 18.0 with the addon's requirements (make test exports the one of its 18.0 run, when there was one)
ODOO18 = os.environ.get("INTEGRATION_SUITE_ODOO18_BIN")
ODOO18_ADDONS = os.environ.get("INTEGRATION_SUITE_ODOO18_ADDONS")
PREVIOUS_SERIES_VERSION = "18.0.1.6.0"

# what the addon owns in the schema: its tables, and its columns on core tables
SCHEMA = """
SELECT c.table_name, c.column_name, c.data_type
  FROM information_schema.columns c
 WHERE c.table_schema = 'public'
   AND (c.table_name LIKE 'integration\\_%%'
        OR (c.table_name IN ('base_automation', 'ir_act_server') AND c.column_name LIKE 'webhook\\_%%')
        OR (c.table_name LIKE 'res\\_users\\_apikeys%%' AND c.column_name LIKE 'integration\\_%%'))
 ORDER BY 1, 2
"""
CONSTRAINTS = """
SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
  FROM pg_constraint
 WHERE conrelid::regclass::text LIKE 'integration\\_%%' AND contype IN ('u', 'c', 'f')
 ORDER BY 1, 2
"""

FILL = r"""
from datetime import timedelta
from odoo import fields
admin = env.ref("base.user_admin")
Delivery = env["integration.webhook.delivery"]
endpoint = env["integration.webhook.endpoint"].search([], limit=1)
failed = Delivery._enqueue(endpoint, {"n": "failed"}, "res.partner", 1, "test")
failed.sudo().write({"state": "failed", "attempt_count": 2, "error": "HTTP 503", "last_status": 503,
                     "next_attempt_at": fields.Datetime.now() + timedelta(hours=1)})
Delivery._enqueue(endpoint, {"n": "pending"}, "res.partner", 2, "test")
env["integration.webhook.attempt"].sudo().create({"delivery_id": failed.id, "attempt": 2, "outcome": "retry",
                                                  "http_status": 503, "error": "HTTP 503"})
rule = env["base.automation"].search([("trigger", "=", "on_webhook")], limit=1)
env["integration.webhook.key"].sudo().create({"rule_id": rule.id, "key": "order-19",
                                              "expires_at": fields.Datetime.now() + timedelta(days=7)})
key = env["res.users.apikeys"].with_user(admin).sudo()._generate("rpc", "to 19.0", None)
env.cr.execute("SELECT id FROM res_users_apikeys WHERE name = 'to 19.0'")
key_id = env.cr.fetchone()[0]
env["integration.apikey.policy"].create({"key_id": key_id, "read_only": True, "rate_limit": 60,
    "line_ids": [fields.Command.create({"model_id": env["ir.model"]._get_id("res.partner"), "perm_read": True})]})
env["integration.legacy.client"].sudo().create({
    "client_key": "to-19", "user_id": admin.id, "auth_kind": "apikey", "api_key_id": key_id, "door": "/jsonrpc",
    "service": "object", "rpc_method": "execute_kw", "model_name": "res.partner", "method": "search_read",
    "call_count": 42, "first_seen": fields.Datetime.now(), "last_seen": fields.Datetime.now()})
env["integration.legacy.retirement"].create({"user_id": admin.id, "note": "moves to JSON-2 with 19.0"})
env.cr.commit()
"""

SNAPSHOT = r"""
import json
queries = {
    "endpoints": "SELECT id, name, url, secret, previous_secret, active FROM integration_webhook_endpoint",
    "deliveries": "SELECT id, webhook_id, endpoint_id, state, payload, attempt_count, error, next_attempt_at"
                  " FROM integration_webhook_delivery",
    "attempts": "SELECT id, delivery_id, attempt, outcome, http_status FROM integration_webhook_attempt",
    "calls": "SELECT id, request_id, rule_id, state, payload, http_status FROM integration_webhook_call",
    "rules": "SELECT id, webhook_uuid, webhook_secret, webhook_auth_mode, webhook_hmac_header, webhook_async,"
             " webhook_dedupe_pointer, webhook_payload_schema FROM base_automation",
    "rule_keys": "SELECT id, rule_id, key FROM integration_webhook_key",
    "api_keys": "SELECT id, key, integration_revision, integration_read_only FROM res_users_apikeys",
    "policies": "SELECT p.id, p.key_id, p.read_only, p.rate_limit, p.revision, m.model_name, m.perm_read, m.perm_write"
                " FROM integration_apikey_policy p LEFT JOIN integration_apikey_policy_model m ON m.policy_id = p.id",
    "legacy": "SELECT id, client_key, user_id, api_key_id, door, call_count FROM integration_legacy_client",
    "retirements": "SELECT id, user_id, refused_from, note FROM integration_legacy_retirement",
    "event_types": "SELECT id, code, active FROM integration_webhook_event_type",
    "parameters": "SELECT id, key, value FROM ir_config_parameter WHERE key LIKE 'integration_suite.%%'",
}
out = {}
for name, query in queries.items():
    env.cr.execute(query.replace("%%", "%") + " ORDER BY 1")
    out[name] = [[str(value) for value in row] for row in env.cr.fetchall()]
env.cr.execute("SELECT latest_version FROM ir_module_module WHERE name = 'integration_suite'")
out["version"] = env.cr.fetchone()[0]
env.cr.execute("SELECT name FROM ir_model_data WHERE module = 'integration_suite' AND model = 'ir.ui.view'")
out["views"] = sorted(name for name, in env.cr.fetchall())
print("SNAPSHOT=" + json.dumps(out))
"""

# 19.0's forms with the addon's views, as the web client asks for them
FORMS = r"""
import json
automation = env["base.automation"].get_views([(False, "form")])["views"]["form"]["arch"]
keys = env["res.users.apikeys"].get_views([(False, "kanban")])["views"]["kanban"]["arch"]
print("FORMS=" + json.dumps({"chatters": automation.count("<chatter"),
                             "restrictions": "integration_restrictions" in keys}))
"""


def _snapshot(db, script=SNAPSHOT, prefix="SNAPSHOT="):
    line = next((line for line in op.shell(db, script).splitlines() if line.startswith(prefix)), None)
    assert line, f"no {prefix} line"
    return json.loads(line[len(prefix):])


def _series_18_views():
    """The 18.0-only views as an 18.0 database holds them (``series/18.0``), as raw rows: the base
    upgrade moves them unchanged, and 19.0's ORM would refuse to create the preferences one."""
    from lxml import etree

    path = os.path.join(os.path.dirname(op.__file__), "..", "series", "18.0", "integration_series_18.xml")
    views = []
    for record in etree.parse(path).getroot().iterfind("record[@model='ir.ui.view']"):
        values = {field.get("name"): field for field in record.iterfind("field")}
        arch = "".join(etree.tostring(child, encoding="unicode") for child in values["arch"])
        views.append((record.get("id"), values["name"].text, values["model"].text, values["inherit_id"].get("ref"),
                      f"<data>{arch}</data>"))
    assert len(views) == 2, views
    return views


def _put_back_in_18_state(db):
    """Where the base upgrade leaves the addon: its module at its 18.0 version, the 18.0-only views in place."""
    op.query(db, "UPDATE ir_module_module SET latest_version = %s WHERE name = 'integration_suite'",
             [PREVIOUS_SERIES_VERSION])
    for xmlid, name, model, parent, arch in _series_18_views():
        module, _, parent_name = parent.partition(".")
        rows = op.query(db, """
            WITH parent AS (SELECT res_id FROM ir_model_data WHERE module = %s AND name = %s AND model = 'ir.ui.view'),
                 view AS (INSERT INTO ir_ui_view (name, model, inherit_id, mode, type, arch_db, priority, active,
                                                   create_uid, write_uid, create_date, write_date)
                          SELECT %s, %s, parent.res_id, 'extension', 'form', jsonb_build_object('en_US', %s), 16, true,
                                 1, 1, now(), now() FROM parent RETURNING id)
            INSERT INTO ir_model_data (module, name, model, res_id, noupdate, create_uid, write_uid, create_date,
                                       write_date)
            SELECT 'integration_suite', %s, 'ir.ui.view', view.id, false, 1, 1, now(), now() FROM view RETURNING res_id
        """, [module, parent_name, name, model, arch, xmlid])
        assert rows, f"the parent of {xmlid} ({parent}) is not in 19.0"


def test_the_addon_owns_the_same_schema_on_18_and_19(tmp_path):
    if not (ODOO18 and ODOO18_ADDONS):
        pytest.skip("no Odoo 18.0 environment of `make test` on this machine (run `make test` on 18.0 first)")
    options = op.options()
    conf = configparser.ConfigParser()
    conf["options"] = {key: options[key] for key in ("db_host", "db_port", "db_user") if key in options}
    conf["options"].update({
        "addons_path": f"{ODOO18_ADDONS},{options['addons_path'].split(',')[-1]}",
        "data_dir": str(tmp_path / "data"), "server_wide_modules": "base,web,integration_suite"})
    conf18 = tmp_path / "odoo18.conf"
    with conf18.open("w") as handle:
        conf.write(handle)
    db18, db19 = f"is_series18_{uuid.uuid4().hex[:8]}", op.shared_db()
    done = subprocess.run([ODOO18, "-c", str(conf18), "-d", db18, "-i", "integration_suite", "--without-demo=all",
                           "--stop-after-init"], capture_output=True, text=True, timeout=900, check=False)
    try:
        assert done.returncode == 0, done.stderr[-3000:]
        assert op.query(db18, "SELECT latest_version FROM ir_module_module WHERE name = 'integration_suite'")[0][0] \
            .startswith("18.0.")
        for query in (SCHEMA, CONSTRAINTS):
            on_18, on_19 = op.query(db18, query), op.query(db19, query)
            assert on_18, "nothing of the addon's found on 18.0"
            assert on_18 == on_19, (set(on_18) ^ set(on_19))
    finally:
        op.drop_db(db18)


def test_moving_a_database_from_18_to_19_keeps_the_addons_data_and_secrets():
    db = f"is_to19_{uuid.uuid4().hex[:8]}"
    done = op.odoo("-d", db, "-i", "integration_suite", *op.DEMO_ARGS, "--stop-after-init")
    assert done.returncode == 0, done.stderr[-3000:]
    try:
        op.shell(db, FILL)
        _put_back_in_18_state(db)
        before = _snapshot(db)
        assert before["version"] == PREVIOUS_SERIES_VERSION
        assert {"view_users_form_simple_modif_integration", "view_base_automation_form_chatter"} <= set(before["views"])
        # data of every kind to keep
        states = {row[3] for row in before["deliveries"]}
        assert {"pending", "failed", "delivered"} <= states, states
        for table in ("endpoints", "attempts", "calls", "rule_keys", "policies", "legacy", "retirements"):
            assert before[table], f"no {table} to keep"
        assert any(row[3] not in ("None", "") for row in before["endpoints"]), "no endpoint secret to keep"
        assert any(row[2] not in ("None", "") for row in before["rules"]), "no rule secret to keep"

        done = op.odoo("-d", db, "-u", "integration_suite", "--stop-after-init")
        assert done.returncode == 0, done.stderr[-3000:]
        assert " ERROR " not in done.stderr, done.stderr[-3000:]
        after = _snapshot(db)
        assert after["version"] == f"19.0.{PREVIOUS_SERIES_VERSION[5:]}", after["version"]
        assert after.pop("views") == sorted(set(before.pop("views")) - {
            "view_users_form_simple_modif_integration", "view_base_automation_form_chatter"})
        for table, rows in before.items():
            if table != "version":
                assert after[table] == rows, f"{table} changed by the move to 19.0"
        # 19.0's forms: one chatter on the automation form (its own), the key list's restrictions
        assert _snapshot(db, FORMS, "FORMS=") == {"chatters": 1, "restrictions": True}
    finally:
        op.drop_db(db)
