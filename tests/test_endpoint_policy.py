"""The auto-disable policy: an endpoint failing for days (default 5) is archived and its responsible told, once."""
from datetime import timedelta

from odoo import fields
from odoo.tests import TransactionCase, new_test_user, tagged

from .common import start_receiver

PATH = "/policy-hook"


@tagged("post_install", "-at_install")
class TestEndpointPolicy(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = start_receiver(cls)
        cls.Delivery = cls.env["integration.webhook.delivery"]
        cls.Endpoint = cls.env["integration.webhook.endpoint"]
        cls.owner = new_test_user(cls.env, login="policy_owner", groups="base.group_system")
        cls.endpoint = cls.Endpoint.create({"name": "Policy receiver", "url": cls.receiver.url_for(PATH),
                                            "retry_schedule": "0,3600,3600", "user_id": cls.owner.id})

    def setUp(self):
        super().setUp()
        self.receiver.clear()

    def send(self, status):
        """One delivery (of a record of its own: nothing waits for an earlier one) answered ``status``."""
        self.receiver.clear()
        self.receiver.expect_request(PATH).respond_with_data("answer", status=status)
        partner = self.env["res.partner"].create({"name": "Policy target"})
        delivery = self.Delivery._enqueue(self.endpoint, {"_model": "res.partner", "_id": partner.id},
                                          "res.partner", partner.id, "res.partner.policy")
        self.assertEqual(self.Delivery._worker_process_batch(10), 1)
        return delivery

    def activities(self):
        return self.env["mail.activity"].search([("res_model", "=", self.endpoint._name),
                                                 ("res_id", "=", self.endpoint.id)])

    def test_the_clock_starts_at_the_first_failure_and_a_success_resets_it(self):
        self.assertFalse(self.endpoint.failing_since)
        before = fields.Datetime.now()
        self.send(500)
        started = self.endpoint.failing_since
        self.assertTrue(started and started >= before.replace(microsecond=0))
        self.endpoint.failing_since = started - timedelta(days=1)  # one day of failures
        self.send(503)
        self.assertEqual(self.endpoint.failing_since, started - timedelta(days=1), "later failures keep the start")
        self.send(200)
        self.assertFalse(self.endpoint.failing_since, "a success resets the clock")
        self.send(500)
        self.assertGreaterEqual(self.endpoint.failing_since, started, "the next failure starts it again")

    def test_archived_after_the_period_and_told_once(self):
        self.send(500)
        self.assertFalse(self.Endpoint._disable_failing(), "one failure is not five days of failures")
        self.endpoint.failing_since = fields.Datetime.now() - timedelta(days=4, hours=23)
        self.assertFalse(self.Endpoint._disable_failing())
        self.assertTrue(self.endpoint.active)
        self.endpoint.failing_since = fields.Datetime.now() - timedelta(days=5, minutes=1)
        self.assertEqual(self.Endpoint._disable_failing(), self.endpoint)
        self.assertFalse(self.endpoint.active)
        self.assertTrue(self.endpoint.message_ids.filtered(lambda message: "has failed since" in message.body))
        [activity] = self.activities()
        self.assertEqual(activity.user_id, self.owner)
        self.assertIn("failing for 5 days", activity.summary)
        # later runs, and the deliveries still waiting, tell nobody again
        self.assertFalse(self.Endpoint._disable_failing())
        self.assertFalse(self.Delivery._worker_process_batch(10), "nothing is sent to an archived endpoint")
        self.assertEqual(len(self.activities()), 1)

    def test_deliveries_of_the_disabled_endpoint_are_kept_and_recoverable(self):
        failed = self.send(500)
        self.assertEqual(failed.state, "failed")
        self.endpoint.failing_since = fields.Datetime.now() - timedelta(days=6)
        self.Endpoint._disable_failing()
        self.assertEqual(failed.state, "failed", "nothing is lost")
        # the receiver is fixed, the endpoint restored: its clock starts afresh and Recover sends them
        self.endpoint.active = True
        self.assertFalse(self.endpoint.failing_since)
        self.assertFalse(self.Endpoint._disable_failing())
        self.receiver.clear()
        self.receiver.expect_request(PATH).respond_with_data("ok")
        self.env["integration.webhook.recovery"].create({"endpoint_id": self.endpoint.id}).action_recover()
        self.Delivery._worker_process_batch(10)
        self.assertEqual(failed.state, "delivered")

    def test_period_is_a_system_parameter(self):
        self.assertEqual(self.env["ir.config_parameter"].get_param("integration_suite.webhook_disable_after_days"),
                         "5")
        self.send(500)
        self.endpoint.failing_since = fields.Datetime.now() - timedelta(days=2)
        self.env["ir.config_parameter"].set_param("integration_suite.webhook_disable_after_days", "1")
        self.assertEqual(self.Endpoint._disable_failing(), self.endpoint)
        self.endpoint.write({"active": True, "failing_since": fields.Datetime.now() - timedelta(days=30)})
        self.env["ir.config_parameter"].set_param("integration_suite.webhook_disable_after_days", "0")
        self.assertFalse(self.Endpoint._disable_failing(), "0 turns the policy off")
        self.assertTrue(self.endpoint.active)
