"""The integration worker: per-endpoint caps, a hanging receiver's share, neutralized copies,
on-time wake-ups, isolated job sources and the health alarm.

Odoo tests never commit: the worker's methods are called explicitly, as a cron run would. Real
servers, their cron threads and Odoo's own ``odoo neutralize`` command are exercised by
``pure_tests/test_worker_server.py``.
"""
import time
from datetime import timedelta
from unittest.mock import patch

from werkzeug.wrappers import Response

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.modules.neutralize import get_neutralization_queries
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged

from ..models.integration_webhook_call import _CallPump
from ..models.integration_webhook_delivery import _DeliveryPump
from ..models.integration_worker import FAILURE_LOG_NAME, WORKER_CODE_PATTERN
from .common import make_webhook_rule, start_receiver

ALARM_TYPE = "integration_suite.mail_activity_type_worker_alarm"


@tagged("post_install", "-at_install")
class TestWorker(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = start_receiver(cls)
        cls.Delivery = cls.env["integration.webhook.delivery"]
        cls.Worker = cls.env["integration.worker"]
        cls.admin = cls.env.ref("base.user_admin")
        cls.endpoint = cls.env["integration.webhook.endpoint"].create({
            "name": "worker A", "url": cls.receiver.url_for("/a"), "retry_schedule": "0,20", "user_id": cls.admin.id})
        cls.slots = cls.env["ir.cron"].with_context(active_test=False).search([
            ("model_id.model", "=", "integration.worker"), ("code", "=like", WORKER_CODE_PATTERN)], order="id")

    def setUp(self):
        super().setUp()
        self.receiver.clear()

    def queue(self, endpoint, count, first=0):
        """``count`` deliveries to ``endpoint``, one per record ``first``, ``first + 1``..."""
        deliveries = self.Delivery
        for res_id in range(first, first + count):
            deliveries |= self.Delivery._enqueue(endpoint, {"n": res_id}, "test.record", res_id, "test.event")
        return deliveries

    def endpoint_with(self, **values):
        return self.env["integration.webhook.endpoint"].create({
            "name": values.get("name", "worker endpoint"), "url": self.receiver.url_for("/a"),
            "user_id": self.admin.id, **values})

    def alarms(self):
        return self.env["mail.activity"].search([("activity_type_id", "=", self.env.ref(ALARM_TYPE).id)])

    # ------------------------------------------------------------------ caps and isolation

    def test_claim_keeps_each_endpoint_under_its_cap_across_workers(self):
        small, large = self.endpoint_with(max_in_flight=2), self.endpoint_with(max_in_flight=3)
        queued_small, queued_large = self.queue(small, 10), self.queue(large, 10, first=100)
        first = self.Delivery._claim(100)
        self.assertEqual((len(first & queued_small), len(first & queued_large)), (2, 3))
        self.assertFalse(self.Delivery._claim(100) & (queued_small | queued_large),
                         "another worker's claim counts the leases already out")
        done = (first & queued_small)[:1]
        done._record_outcomes([{"status": 200, "excerpt": "ok", "error": False, "retry_after": None,
                                "duration_ms": 1.0}])
        self.assertEqual(self.Delivery._claim(100) & (queued_small | queued_large), (queued_small - first)[:1],
                         "a finished attempt frees one place of its endpoint")

    def test_a_hanging_receiver_holds_only_its_share_of_the_worker(self):
        self.env["ir.config_parameter"].set_param("integration_suite.worker_concurrency", "4")
        self.receiver.expect_request("/hang").respond_with_handler(lambda request: time.sleep(3) or Response("late"))
        self.receiver.expect_request("/a").respond_with_data("ok")
        hanging = self.endpoint_with(name="hangs", max_in_flight=2, timeout=1.5)
        hanging.url = self.receiver.url_for("/hang")
        stuck = self.queue(hanging, 10)  # queued first: the oldest due deliveries
        healthy = self.queue(self.endpoint, 30, first=100)
        pump = self.Delivery._worker_pump()
        self.assertEqual(pump.capacity, 4)
        deadline = time.monotonic() + 10
        while set(healthy.mapped("state")) != {"delivered"} and time.monotonic() < deadline:
            pump.step()
            pump.wait(0.05)
            healthy.invalidate_recordset()
        self.assertEqual(set(healthy.mapped("state")), {"delivered"})
        self.assertEqual(stuck.mapped("attempt_count"), [0] * 10,
                         "every healthy delivery went out while the hanging receiver's first attempts still ran")
        self.assertEqual(len(stuck.filtered("claimed_until")), 2, "the hanging endpoint holds no more than its cap")
        pump.close()
        stuck.invalidate_recordset()
        self.assertEqual(stuck.filtered("attempt_count").mapped("state"), ["failed", "failed"])
        self.assertIn("Timed out", stuck.filtered("attempt_count")[0].error)
        # let the sleeping handlers finish, or their log entries land in a later test's receiver log
        deadline = time.monotonic() + 5
        while len(self.receiver.log) < 32 and time.monotonic() < deadline:
            time.sleep(0.05)

    # ------------------------------------------------------------------ neutralized copies

    def neutralize(self):
        """What ``odoo neutralize`` runs: every installed module's data/neutralize.sql (base's and ours here)."""
        for query in get_neutralization_queries(["base", "integration_suite"]):
            self.env.cr.execute(query)
        self.env.invalidate_all()
        self.env.registry.clear_cache()  # the parameters were written in SQL

    def test_neutralized_database_sends_nothing_until_the_endpoint_is_enabled(self):
        self.receiver.expect_request("/a").respond_with_data("ok")
        waiting = self.queue(self.endpoint, 2)
        self.neutralize()
        self.assertFalse(self.endpoint.active)
        self.assertEqual(waiting.mapped("state"), ["cancelled", "cancelled"])
        self.assertIn("neutralization", waiting[0].error)
        # the administrator re-activates everything, as a staging preparation does
        self.slots.write({"active": True})
        self.endpoint.active = True
        with self.assertRaisesRegex(UserError, "neutralized"):
            self.endpoint.action_send_test()
        with self.assertRaisesRegex(UserError, "neutralized"):
            waiting.action_retry()
        later = self.queue(self.endpoint, 1, first=10)
        self.assertTrue(later.neutralization_blocked)
        self.Worker.with_context(cron_id=self.slots[0].id)._run(time_budget=3)  # "Run manually"
        self.assertEqual(self.receiver.log, [], "nothing reaches the receiver")
        self.assertEqual(later.state, "cancelled")
        self.assertIn("neutralized", later.error)
        # explicitly enabled on this copy: it sends again
        self.endpoint.action_enable_on_neutralized()
        self.assertTrue(self.endpoint.send_on_neutralized)
        self.assertFalse(later.neutralization_blocked)
        later.action_retry()
        test = self.env["integration.webhook.delivery"].browse(self.endpoint.action_send_test()["res_id"])
        self.Delivery._worker_process_batch(10)
        self.assertEqual((later + test).mapped("state"), ["delivered", "delivered"])
        self.assertEqual(len(self.receiver.log), 2)

    def test_enable_on_neutralized_is_for_administrators(self):
        manager = new_test_user(self.env, login="worker_erp_manager", groups="base.group_user,base.group_erp_manager")
        with self.assertRaises(AccessError):
            self.endpoint.with_user(manager).action_enable_on_neutralized()
        self.assertFalse(self.endpoint.send_on_neutralized)

    # ------------------------------------------------------------------ on time, several workers

    def test_a_run_ends_with_a_wakeup_at_the_next_retry(self):
        self.receiver.expect_request("/a").respond_with_data("boom", status=500)
        delivery = self.queue(self.endpoint, 1)
        self.env["ir.cron.trigger"].search([("cron_id", "in", self.slots.ids)]).unlink()
        self.Worker.with_context(cron_id=self.slots[0].id)._run(time_budget=5)
        self.assertEqual((delivery.state, delivery.attempt_count), ("failed", 1))
        [trigger] = self.env["ir.cron.trigger"].search([("cron_id", "in", self.slots.ids)])
        self.assertEqual(trigger.cron_id, self.slots[0])
        self.assertAlmostEqual(trigger.call_at, delivery.next_attempt_at, delta=timedelta(seconds=1),
                               msg="the next run is due when the retry is, not at the next minute's poll")
        self.Worker._trigger(delay=(delivery.next_attempt_at - fields.Datetime.now()).total_seconds())
        self.assertEqual(len(self.env["ir.cron.trigger"].search([("cron_id", "in", self.slots.ids)])), 1,
                         "a wake-up already written is not written twice")

    def test_a_run_out_of_budget_with_work_left_runs_again_at_once(self):
        self.env["ir.config_parameter"].set_param("integration_suite.worker_concurrency", "2")
        self.receiver.expect_request("/slow").respond_with_handler(lambda request: time.sleep(0.3) or Response("ok"))
        self.endpoint.url = self.receiver.url_for("/slow")
        deliveries = self.queue(self.endpoint, 10)
        triggers = self.env["ir.cron.trigger"]
        triggers.search([("cron_id", "in", self.slots.ids)]).unlink()
        self.Worker.with_context(cron_id=self.slots[0].id)._run(time_budget=0.2)
        self.assertIn("pending", deliveries.mapped("state"), "the budget ran out before the work")
        self.assertIn("delivered", deliveries.mapped("state"))
        first = triggers.search([("cron_id", "=", self.slots[0].id)])
        self.assertEqual(len(first), 1)
        self.assertLessEqual(first.call_at, fields.Datetime.now() + timedelta(seconds=1),
                             "the next run is due at once, not at the next poll")

    def test_a_run_that_cannot_keep_up_calls_the_other_workers(self):
        self.assertGreaterEqual(len(self.slots), 2)
        self.env["ir.config_parameter"].set_param("integration_suite.worker_concurrency", "2")
        self.receiver.expect_request("/a").respond_with_data("ok")
        self.queue(self.endpoint, 6)
        triggers = self.env["ir.cron.trigger"]
        triggers.search([("cron_id", "in", self.slots.ids)]).unlink()
        self.Worker.with_context(cron_id=self.slots[0].id)._run(time_budget=5)
        called = triggers.search([("cron_id", "in", self.slots.ids)]).cron_id
        self.assertEqual(called, self.slots.filtered("active") - self.slots[0])

    # ------------------------------------------------------------------ isolated sources

    def test_a_failing_source_does_not_stop_the_other(self):
        self.receiver.expect_request("/a").respond_with_data("ok")
        rule = make_webhook_rule(self.env, webhook_async=True)
        partner = self.env["res.partner"].create({"name": "async target"})
        call = self.env["integration.webhook.call"].create({
            "rule_id": rule.id, "request_id": "worker-isolation", "state": "queued", "http_status": 202,
            "payload": f'{{"_model": "res.partner", "_id": {partner.id}}}'})
        delivery = self.queue(self.endpoint, 1)
        for broken, survivor in ((_CallPump, delivery), (_DeliveryPump, call)):
            with self.subTest(broken=broken.__name__), \
                    patch.object(broken, "step", side_effect=RuntimeError("source exploded")), \
                    self.assertLogs("odoo.addons.integration_suite.models.integration_worker", "ERROR") as logs:
                self.Worker._run(time_budget=3)
            survivor.invalidate_recordset()
            self.assertIn(survivor.state, ("delivered", "done"))
            [record] = logs.records
            self.assertEqual(str(record.exc_info[1]), "source exploded", "logged with its traceback")
        partner.invalidate_recordset()
        self.assertEqual(partner.ref, "1", "the queued call ran once")
        failures = self.env["ir.logging"].search([("name", "=", FAILURE_LOG_NAME)], order="id")
        self.assertEqual([log.path for log in failures[-2:]],
                         ["integration.webhook.call", "integration.webhook.delivery"])
        self.assertIn("Traceback (most recent call last)", failures[-1].message)
        self.assertIn("source exploded", self.Worker._worker_status()["last_failure"]["message"])

    # ------------------------------------------------------------------ health

    def test_inactive_workers_raise_one_alarm_per_responsible(self):
        user = new_test_user(self.env, login="worker_responsible", groups="base.group_user,base.group_system")
        other = self.endpoint_with(name="other", user_id=user.id)
        self.slots.write({"active": False})  # as core does after repeated failures
        self.queue(self.endpoint, 5)
        self.queue(other, 5, first=10)
        self.Worker._check_health()
        self.queue(self.endpoint, 5, first=20)
        status = self.Worker._check_health()
        self.assertEqual(status["active_workers"], 0)
        self.assertIn("inactive", status["problems"][0])
        alarms = self.alarms()
        self.assertEqual(sorted(alarms.user_id.ids), sorted((self.admin | user).ids), "one activity per user")
        self.assertIn(other, self.env["integration.webhook.endpoint"].browse(alarms.mapped("res_id")))
        # active again and nothing late: the alarm is closed
        self.slots.write({"active": True})
        self.assertEqual(self.Worker._check_health()["problems"], [])
        self.assertFalse(self.alarms())

    def test_late_deliveries_alarm_their_endpoint_only(self):
        self.env["ir.config_parameter"].set_param("integration_suite.worker_alarm_minutes", "10")
        user = new_test_user(self.env, login="worker_late", groups="base.group_user,base.group_system")
        late_endpoint = self.endpoint_with(name="late", user_id=user.id)
        late = self.queue(late_endpoint, 3)
        late.write({"next_attempt_at": fields.Datetime.now() - timedelta(minutes=30)})
        # due long ago too, but held back by an earlier delivery of its record that retries later: not late
        first, second = self.queue(self.endpoint, 1, first=50) | self.queue(self.endpoint, 1, first=50)
        first.write({"state": "failed", "next_attempt_at": fields.Datetime.now() + timedelta(minutes=5)})
        second.write({"next_attempt_at": fields.Datetime.now() - timedelta(minutes=30)})
        self.assertFalse(self.endpoint.oldest_due_at)
        self.assertEqual(late_endpoint.oldest_due_age, "30 min")
        status = self.Worker._check_health()
        self.assertTrue(status["queues"][0]["late"])
        self.assertEqual(self.alarms().mapped(lambda a: (a.user_id, a.res_id)), [(user, late_endpoint.id)])
        self.Worker._check_health()
        self.assertEqual(len(self.alarms()), 1)

    def test_status_is_for_administrators(self):
        status = self.Worker.with_user(self.admin).get_worker_status()
        self.assertEqual(status["workers"], len(self.slots))
        self.assertEqual([queue["source"] for queue in status["queues"]],
                         ["integration.webhook.delivery", "integration.webhook.call"])
        internal = new_test_user(self.env, login="worker_internal", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.Worker.with_user(internal).get_worker_status()


@tagged("post_install", "-at_install")
class TestWorkerStatusScreens(HttpCase):
    """The worker's state as the administrator sees it, in the browser."""

    def test_dashboard_and_endpoint_list_show_the_worker_state(self):
        endpoint = self.env["integration.webhook.endpoint"].create({
            "name": "Tour late endpoint", "url": "https://late.example.com/hook"})
        delivery = self.env["integration.webhook.delivery"]._enqueue(endpoint, {"n": 1}, "test.record", 1, "test")
        # late by three days: what the screens show does not change while the browser starts
        delivery.next_attempt_at = fields.Datetime.now() - timedelta(days=3, minutes=20)
        self.start_tour("/odoo/action-integration_suite.action_integration_dashboard?debug=1",
                        "integration_suite_worker_status_tour", login="admin")
        self.start_tour("/odoo/action-integration_suite.action_integration_webhook_endpoint?debug=1",
                        "integration_suite_endpoint_backlog_tour", login="admin")
