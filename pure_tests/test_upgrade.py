"""Upgrade in place from the previous release: ``-u integration_suite`` keeps every endpoint,
delivery, incoming call, rule and secret.

The previous release is the newest commit whose ``__manifest__.py`` carries another version
than the working tree's; its addon is exported with ``git archive``, installed with its demo
data (endpoints, deliveries, calls, signing secrets), and then upgraded with this tree's code.
`make test` exports the Odoo command and configuration it uses; elsewhere this is skipped.
"""
import ast
import configparser
import json
import os
import pathlib
import subprocess
import tarfile
import uuid

import odoo_process as op
import pytest

CONF = os.environ.get("INTEGRATION_SUITE_ODOO_CONF")
ODOO = os.environ.get("INTEGRATION_SUITE_ODOO_BIN")
# the checkout (``make test`` runs the tests from a copy named integration_suite, without .git)
ROOT = pathlib.Path(os.environ.get("INTEGRATION_SUITE_SOURCE") or pathlib.Path(__file__).resolve().parent.parent)
pytestmark = pytest.mark.skipif(not (CONF and ODOO), reason="needs the Odoo set up by `make test`")

# what must survive, read with SQL so the snapshot does not depend on either version's fields
SNAPSHOT = r"""
import json
queries = {
    "endpoints": "SELECT id, name, url, secret, previous_secret, active FROM integration_webhook_endpoint",
    "deliveries": "SELECT id, webhook_id, endpoint_id, state, payload, attempt_count FROM integration_webhook_delivery",
    "calls": "SELECT id, request_id, rule_id, state, payload, http_status FROM integration_webhook_call",
    "rules": "SELECT id, webhook_uuid, webhook_secret, webhook_auth_mode FROM base_automation",
    "keys": "SELECT id, rule_id, key FROM integration_webhook_key",
}
out = {}
for name, query in queries.items():
    env.cr.execute(query + " ORDER BY id")
    out[name] = [[str(value) for value in row] for row in env.cr.fetchall()]
env.cr.execute("SELECT to_regclass('integration_webhook_attempt')")
if env.cr.fetchone()[0]:  # the attempt history (18.0.1.2.0)
    env.cr.execute("SELECT delivery_id, attempt, outcome, http_status FROM integration_webhook_attempt"
                   " ORDER BY delivery_id, attempt")
    out["attempts"] = [[str(value) for value in row] for row in env.cr.fetchall()]
env.cr.execute("SELECT latest_version FROM ir_module_module WHERE name = 'integration_suite'")
out["version"] = env.cr.fetchone()[0]
print("SNAPSHOT=" + json.dumps(out))
"""

# after the upgrade: the event-type catalogue (18.0.1.2.0) built from the webhook actions there were
EVENT_TYPES = r"""
import json
env.cr.execute('''
    SELECT a.id, m.model || '.' || (a.name->>'en_US'), t.code, t.active
      FROM ir_act_server a JOIN ir_model m ON m.id = a.model_id
      LEFT JOIN integration_webhook_event_type_action_rel r ON r.action_id = a.id
      LEFT JOIN integration_webhook_event_type t ON t.id = r.event_type_id
     WHERE a.state = 'webhook' ORDER BY a.id
''')
rows = env.cr.fetchall()
env.cr.execute("SELECT code FROM integration_webhook_event_type WHERE code = 'webhook.test'")
print("EVENT_TYPES=" + json.dumps({"actions": rows, "test": env.cr.fetchall()}))
"""


def _manifest_version(text):
    return ast.literal_eval(text)["version"]


def _git(*args):
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, check=True).stdout


def _previous_release():
    """(commit, version) of the newest commit whose manifest version differs from this tree's."""
    current = _manifest_version((ROOT / "__manifest__.py").read_text())
    for commit in _git("log", "--format=%H", "--", "__manifest__.py").decode().split():
        version = _manifest_version(_git("show", f"{commit}:__manifest__.py").decode())
        if version != current:
            return commit, version
    return None, None


def _odoo(conf, *args, stdin=None):
    return subprocess.run([ODOO, *args, "-c", conf], input=stdin, capture_output=True,
                          text=True, timeout=900, check=False)


def _snapshot(conf, db, script=SNAPSHOT, prefix="SNAPSHOT="):
    done = _odoo(conf, "shell", "-d", db, "--no-http", stdin=script)
    line = next((line for line in done.stdout.splitlines() if line.startswith(prefix)), None)
    assert line, (done.stdout + done.stderr)[-3000:]
    return json.loads(line[len(prefix):])


def test_upgrade_from_previous_release_keeps_data_and_secrets(tmp_path):
    if not (ROOT / ".git").exists():
        pytest.fail("the upgrade test needs the git history of the checkout")
    commit, old_version = _previous_release()
    assert commit, "no earlier release in the history"
    series = os.environ.get("ODOO_SERIES") or "18.0"
    if old_version.count(".") == 4 and not old_version.startswith(series + "."):
        pytest.skip(f"the previous release ({old_version}) installs on {old_version[:4]} only: moving a database "
                    f"to {series} is Odoo's upgrade, not this addon's")
    # the previous release's addon, exported from git, under its technical name
    old_addons = tmp_path / "addons"
    (old_addons / "integration_suite").mkdir(parents=True)
    archive = tmp_path / "previous.tar"
    archive.write_bytes(_git("archive", "--format=tar", commit))
    with tarfile.open(archive) as tar:
        tar.extractall(old_addons / "integration_suite", filter="data")
    # the same configuration, with the previous addon in place of this one
    options = configparser.ConfigParser()
    options.read(CONF)
    paths = options["options"]["addons_path"].split(",")
    options["options"]["addons_path"] = ",".join([*paths[:-1], str(old_addons)])
    options["options"]["data_dir"] = str(tmp_path / "data")
    old_conf = tmp_path / "previous.conf"
    with old_conf.open("w") as handle:
        options.write(handle)

    db = f"is_upgrade_{uuid.uuid4().hex[:8]}"
    done = _odoo(str(old_conf), "-d", db, "-i", "integration_suite", *op.DEMO_ARGS, "--stop-after-init")
    assert done.returncode == 0, done.stderr[-3000:]
    before = _snapshot(str(old_conf), db)
    assert before["version"].endswith(old_version)
    # the demo data gives the upgrade something to keep
    assert before["endpoints"] and before["deliveries"] and before["calls"], before
    assert any(row[3] not in ("None", "") for row in before["endpoints"]), "no endpoint secret to keep"
    assert any(row[2] not in ("None", "") for row in before["rules"]), "no rule secret to keep"

    done = _odoo(CONF, "-d", db, "-u", "integration_suite", "--stop-after-init")
    assert done.returncode == 0, done.stderr[-3000:]
    assert " ERROR " not in done.stderr, done.stderr[-3000:]
    after = _snapshot(CONF, db)
    current = _manifest_version((ROOT / "__manifest__.py").read_text())
    assert after["version"].endswith(current)
    for table in ("endpoints", "deliveries", "calls", "rules", "keys"):
        kept = {row[0]: row for row in after[table]}
        for row in before[table]:
            assert kept.get(row[0]) == row, f"{table} row {row[0]} changed by the upgrade: {row} -> {kept.get(row[0])}"

    # every webhook action of the previous release (the demo's at least) has its event type
    event_types = _snapshot(CONF, db, EVENT_TYPES, "EVENT_TYPES=")
    assert event_types["actions"], "the demo data has a webhook action"
    for _action_id, code, type_code, active in event_types["actions"]:
        assert (type_code, active) == (code, True), event_types
    assert event_types["test"] == [["webhook.test"]], event_types
    if "attempts" in before:  # the previous release kept an attempt history: all of it is kept
        assert set(map(tuple, before["attempts"])) <= set(map(tuple, after["attempts"])), (before, after)
        return
    # upgrading across 18.0.1.2.0: each delivery attempted before shows its last attempt as its history
    attempted = {row[0]: row for row in before["deliveries"] if row[5] != "0"}
    assert attempted, "the demo data has no attempted delivery"
    history = {}
    for delivery_id, attempt, outcome, _status in after["attempts"]:
        history.setdefault(delivery_id, []).append((attempt, outcome))
    for delivery_id, row in attempted.items():
        expected = {"delivered": "delivered", "dead": "dead", "cancelled": "cancelled"}.get(row[3], "retry")
        assert history.get(delivery_id) == [(row[5], expected)], (row, history.get(delivery_id))
    assert set(history) == set(attempted), "attempt rows for deliveries never attempted"
