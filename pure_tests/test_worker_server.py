"""The integration worker in real Odoo servers: neutralized copies, on-time retries, the inactive-worker alarm.

Each test drives real processes (``odoo neutralize``, ``odoo shell``, a server with cron threads)
against a receiver in this process; see ``odoo_process.py``. Skipped without the Odoo set up by
`make test`.
"""
import time
import uuid

import odoo_process as op
import pytest
import requests

pytestmark = pytest.mark.skipif(not op.AVAILABLE, reason="needs the Odoo set up by `make test`")

# an endpoint of the administrator and a "Send Webhook Notification" action queueing N deliveries to it
QUEUE = """
env["ir.config_parameter"].set_param("integration_suite.webhook_allow_private", "True")
endpoint = env["integration.webhook.endpoint"].create({
    "name": %(name)r, "url": %(url)r, "retry_schedule": %(schedule)r, "user_id": env.ref("base.user_admin").id})
action = env["ir.actions.server"].create({
    "name": %(name)r, "model_id": env.ref("base.model_res_partner").id, "state": "webhook",
    "webhook_endpoint_id": endpoint.id,
    "webhook_field_ids": [(6, 0, env["ir.model.fields"]._get("res.partner", "name").ids)]})
for partner in env["res.partner"].create([{"name": "%(name)s %%d" %% i} for i in range(%(count)d)]):
    action.with_context(active_model="res.partner", active_id=partner.id, active_ids=partner.ids).run()
env.cr.commit()
print("ENDPOINT", endpoint.id, "ACTION", action.id)
"""

WORKER_SLOTS = """
slots = env["ir.cron"].with_context(active_test=False).search([
    ("model_id.model", "=", "integration.worker"), ("code", "=like", "model._run(%")])
"""


def queue(db, receiver, path, count, schedule="0,5,300"):
    out = op.shell(db, QUEUE % {"name": f"worker test {path}", "url": receiver.url(path), "schedule": schedule,
                                "count": count})
    words = out.split("ENDPOINT", 1)[1].split()
    return int(words[0]), int(words[2])


def deliveries(db, endpoint_id):
    return op.query(db, "SELECT id, state, coalesce(error, '') FROM integration_webhook_delivery "
                        "WHERE endpoint_id = %s ORDER BY id", [endpoint_id])


def wait_for(condition, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


@pytest.fixture
def receiver():
    receiver = op.Receiver()
    yield receiver
    receiver.close()


def test_neutralized_copy_sends_nothing_until_an_endpoint_is_enabled(receiver, tmp_path):
    """Odoo's own ``odoo neutralize``, then everything a staging preparation re-activates: nothing goes out."""
    copy = f"{op.shared_db()}_staging_{uuid.uuid4().hex[:6]}"
    op.copy_db(op.shared_db(), copy)
    server = None
    try:
        endpoint_id, action_id = queue(copy, receiver, "/production", 2)  # pending when the copy is made
        done = op.odoo("neutralize", "-d", copy)
        assert done.returncode == 0, done.stderr[-3000:]
        assert [state for _id, state, _error in deliveries(copy, endpoint_id)] == ["cancelled"] * 2

        server = op.serve(copy, open(tmp_path / "odoo.log", "w"), cron_threads=2)  # noqa: SIM115
        op.wait_port(server.http_port)
        staging = op.shell(copy, WORKER_SLOTS + f"""
from odoo.exceptions import UserError
env["ir.cron"].with_context(active_test=False).search([("active", "=", False)]).write({{"active": True}})
endpoint = env["integration.webhook.endpoint"].with_context(active_test=False).browse({endpoint_id})
endpoint.active = True
try:
    endpoint.action_send_test()
    print("SEND TEST ACCEPTED")
except UserError as exc:
    print("SEND TEST REFUSED:", exc)
partner = env["res.partner"].create({{"name": "edited on staging"}})
env["ir.actions.server"].browse({action_id}).with_context(
    active_model="res.partner", active_id=partner.id, active_ids=partner.ids).run()
env.cr.commit()
try:
    slots[0].method_direct_trigger()  # "Run manually"
except UserError:
    pass  # a cron thread is running it right now
env.cr.commit()
""")
        assert "SEND TEST REFUSED: This database is neutralized" in staging, staging
        op.wake_cron(copy)
        time.sleep(8)  # the cron threads (re-activated) run the worker
        assert receiver.seen == [], "a neutralized copy reached the production receiver"
        rows = deliveries(copy, endpoint_id)
        assert [state for _id, state, _error in rows] == ["cancelled"] * 3
        assert all("neutraliz" in error for _id, _state, error in rows), rows

        op.shell(copy, f"""
endpoint = env["integration.webhook.endpoint"].browse({endpoint_id})
endpoint.action_enable_on_neutralized()
endpoint.delivery_ids.action_retry()
env.cr.commit()
""")
        assert wait_for(lambda: len(receiver.received("/production")) == 3, 30), receiver.seen
        assert {webhook_id for webhook_id, _when in receiver.received("/production")} == {
            row[0] for row in op.query(copy, "SELECT webhook_id FROM integration_webhook_delivery "
                                             "WHERE endpoint_id = %s", [endpoint_id])}
    finally:
        op.stop(server)
        op.drop_db(copy)


def test_a_retry_leaves_on_time(receiver, tmp_path):
    """Schedule ``0,20``: the second attempt leaves 20 s (± 10 % jitter) after the first, not at a minute's poll."""
    db = op.shared_db()
    receiver.answers["/ontime"] = [500]
    server = op.serve(db, open(tmp_path / "odoo.log", "w"), cron_threads=2)  # noqa: SIM115
    try:
        op.wait_port(server.http_port)
        time.sleep(3)  # the cron threads' start-up pass is over: they sleep in their minute's poll
        endpoint_id, _action_id = queue(db, receiver, "/ontime", 1, schedule="0,20")
        assert wait_for(lambda: len(receiver.received("/ontime")) >= 2, 60), receiver.seen
    finally:
        op.stop(server)
    (first_id, first), (second_id, second) = receiver.received("/ontime")[:2]
    assert first_id == second_id
    assert 17 <= second - first <= 23, f"second attempt {second - first:.1f} s after the first"
    assert [state for _id, state, _error in deliveries(db, endpoint_id)] == ["delivered"]


RULE = r"""
partner = env["res.partner"].create({"name": "async on time"})
rule = env["base.automation"].create({
    "name": "async on time", "model_id": env.ref("base.model_res_partner").id, "trigger": "on_webhook",
    "webhook_async": True})
env["ir.actions.server"].create({
    "name": "writes its record", "model_id": env.ref("base.model_res_partner").id, "state": "code",
    "base_automation_id": rule.id, "usage": "base_automation",
    "code": "env.cr.execute(\"SET LOCAL lock_timeout = '200ms'\")\nrecord.write({'ref': 'ran'})"})
env.cr.commit()
print("RULE", rule.webhook_uuid, partner.id)
"""


def test_an_asynchronous_call_retried_after_a_transient_error_runs_on_time(tmp_path):
    """A call whose write meets a locked row (lock timeout) is retried 2 s, then 4 s later, each on time."""
    db = op.shared_db()
    uuid_, partner_id = op.shell(db, RULE).split("RULE", 1)[1].split()[:2]
    server = op.serve(db, open(tmp_path / "odoo.log", "w"), cron_threads=2)  # noqa: SIM115
    lock = op.connect(db)
    try:
        op.wait_port(server.http_port)
        time.sleep(3)
        with lock.cursor() as cr:  # another transaction holds the record: the action's write times out
            cr.execute("SELECT id FROM res_partner WHERE id = %s FOR UPDATE", [int(partner_id)])
        response = requests.post(f"http://127.0.0.1:{server.http_port}/web/hook/{uuid_}", timeout=30,
                                 json={"_model": "res.partner", "_id": int(partner_id)})
        assert response.status_code == 202, response.text
        call_id = response.json()["id"]

        def call():
            return op.query(db, "SELECT coalesce(attempts, 0), state, next_attempt_at, write_date "
                                "FROM integration_webhook_call WHERE id = %s", [call_id])[0]

        assert wait_for(lambda: call()[0] >= 2, 30), call()
        lock.rollback()  # released after the second attempt: the third one succeeds
        attempts, _state, due, _written = call()
        assert attempts == 2
        assert wait_for(lambda: call()[1] == "done", 30), call()
    finally:
        lock.close()
        op.stop(server)
    attempts, _state, _due, ran_at = call()
    assert attempts == 3
    assert 0 <= (ran_at - due).total_seconds() <= 2, f"third attempt at {ran_at}, due at {due}"
    assert op.query(db, "SELECT ref FROM res_partner WHERE id = %s", [int(partner_id)]) == [("ran",)]


ALARM_TYPE = ("SELECT res_id FROM ir_model_data WHERE module = 'integration_suite' "
              "AND name = 'mail_activity_type_worker_alarm'")


def test_deliveries_queued_while_no_worker_is_active_raise_one_alarm(receiver):
    """Core deactivated the worker's cron (repeated failures): the responsible user gets one activity."""
    db = op.shared_db()
    alarms = ("SELECT user_id, count(*) FROM mail_activity "
              f"WHERE active AND activity_type_id = ({ALARM_TYPE}) GROUP BY user_id")  # 19.0 archives done ones
    admin = op.query(db, "SELECT res_id FROM ir_model_data WHERE module = 'base' AND name = 'user_admin'")[0][0]
    op.shell(db, WORKER_SLOTS + "slots.write({'active': False})\nenv.cr.commit()\n")
    try:
        assert op.query(db, alarms) == []
        endpoint_id, _action_id = queue(db, receiver, "/alarm", 3)  # a user transaction queues three
        assert op.query(db, alarms) == [(admin, 1)]
        op.shell(db, f"""
endpoint = env["integration.webhook.endpoint"].browse({endpoint_id})
for res_id in range(5):
    env["integration.webhook.delivery"]._enqueue(endpoint, {{"n": res_id}}, "test.record", res_id, "test")
    env.cr.commit()
""")
        assert op.query(db, alarms) == [(admin, 1)], "one activity, not one per delivery"
    finally:
        op.shell(db, WORKER_SLOTS + """
slots.write({"active": True})
env["integration.webhook.delivery"].search([("state", "in", ("pending", "failed"))]).action_cancel()
env["integration.worker"]._check_health()
env.cr.commit()
""")
    assert op.query(db, alarms) == [], "closed once the worker is active again"
