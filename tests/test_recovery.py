""""Recover failed since…" on an endpoint: its failed and dead deliveries since a date, sent again in order."""
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged

from .common import start_receiver

PATH = "/recovery-hook"


def prepare(env, receiver, name):
    """An endpoint with three failed or dead deliveries this week (the first and last of one partner),
    one dead ten days ago and one delivered; returns ``(endpoint, recent, old, delivered)``."""
    endpoint = env["integration.webhook.endpoint"].create(
        {"name": name, "url": receiver.url_for(PATH), "retry_schedule": "0,60"})
    first, second = env["res.partner"].create([{"name": f"{name} 1"}, {"name": f"{name} 2"}])
    Delivery = env["integration.webhook.delivery"]
    rows = [Delivery._enqueue(endpoint, {"_model": "res.partner", "_id": partner.id, "n": index},
                              "res.partner", partner.id, "res.partner.recovery")
            for index, partner in enumerate((first, first, second, first, second))]
    old, *recent, delivered = rows
    recent = Delivery.concat(*recent)
    states = ["dead", "failed", "dead"]
    for delivery, state in zip(recent, states, strict=True):
        delivery.write({"state": state, "attempt_count": 2, "next_attempt_at": False if state == "dead" else
                        fields.Datetime.now() + timedelta(hours=1), "error": "HTTP 503 from the receiver"})
    old.write({"state": "dead", "attempt_count": 2, "next_attempt_at": False})
    delivered.write({"state": "delivered", "attempt_count": 1, "next_attempt_at": False})
    env.flush_all()
    env.cr.execute("UPDATE integration_webhook_delivery SET create_date = %s WHERE id = %s",
                   [fields.Datetime.now() - timedelta(days=10), old.id])
    env.invalidate_all()
    return endpoint, recent, old, delivered


@tagged("post_install", "-at_install")
class TestRecovery(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = start_receiver(cls)
        cls.Delivery = cls.env["integration.webhook.delivery"]
        cls.endpoint, cls.recent, cls.old, cls.delivered = prepare(cls.env, cls.receiver, "Recovery")

    def wizard(self, **values):
        return self.env["integration.webhook.recovery"].with_context(default_endpoint_id=self.endpoint.id).create(
            values)

    def test_counts_and_requeues_only_failed_and_dead_since_the_date(self):
        wizard = self.wizard()
        self.assertEqual(wizard.since.date(), (fields.Datetime.now() - timedelta(days=7)).date())
        self.assertEqual(wizard.delivery_count, 3)
        ids = self.recent.mapped("webhook_id")
        action = wizard.action_recover()
        self.assertEqual(action["domain"], [("id", "in", self.recent.ids)])
        self.assertEqual(self.recent.mapped("state"), ["pending"] * 3)
        self.assertEqual(self.recent.mapped("attempt_count"), [0] * 3)
        self.assertTrue(all(d.next_attempt_at <= fields.Datetime.now() for d in self.recent), "due now")
        self.assertEqual(self.recent.mapped("webhook_id"), ids, "same webhook-ids: receivers deduplicate")
        self.assertEqual((self.old.state, self.delivered.state), ("dead", "delivered"))
        self.assertTrue(self.endpoint.message_ids.filtered(lambda message: "were sent again" in message.body))
        self.assertEqual(self.wizard(since=fields.Datetime.now() - timedelta(days=30)).delivery_count, 1,
                         "the old one remains, for a wider recovery")

    def test_sent_again_in_their_original_order(self):
        self.receiver.expect_request(PATH).respond_with_data("ok")
        self.wizard().action_recover()
        # one at a time, as a busy endpoint would: each claim takes the oldest due delivery
        self.endpoint.max_in_flight = 1
        while self.Delivery._worker_process_batch(1):
            pass
        received = [request.headers["webhook-id"] for request, _response in self.receiver.log]
        self.assertEqual(received, self.recent.sorted("id").mapped("webhook_id"))
        self.assertEqual(self.recent.mapped("state"), ["delivered"] * 3)

    def test_a_record_keeps_its_order_behind_a_recovered_delivery(self):
        later = self.Delivery._enqueue(self.endpoint, {"n": "later"}, "res.partner", self.recent[0].res_id,
                                       "res.partner.recovery")
        self.wizard().action_recover()
        self.assertNotIn(later, self.Delivery._claim(10), "the recovered earlier events of its record go first")

    def test_archived_endpoint_must_be_restored_first(self):
        self.endpoint.active = False
        with self.assertRaises(UserError):
            self.wizard().action_recover()
        self.assertEqual(self.recent.mapped("state"), ["dead", "failed", "dead"])
        self.endpoint.active = True
        self.wizard().action_recover()
        self.assertEqual(self.recent.mapped("state"), ["pending"] * 3)

    def test_an_attempt_in_flight_keeps_its_schedule(self):
        self.recent[1].claimed_until = fields.Datetime.now() + timedelta(minutes=1)
        self.wizard().action_recover()
        self.assertEqual(self.recent.mapped("state"), ["pending", "failed", "pending"])

    def test_rights(self):
        user = new_test_user(self.env, login="recovery_user", groups="base.group_user")
        wizard = self.wizard()
        with self.assertRaises(AccessError):
            wizard.with_user(user).action_recover()
        with self.assertRaises(AccessError):
            self.env["integration.webhook.recovery"].with_user(user).create({"endpoint_id": self.endpoint.id})
        self.assertEqual(self.recent.mapped("state"), ["dead", "failed", "dead"])


@tagged("post_install", "-at_install")
class TestRecoveryTour(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = start_receiver(cls)

    def test_recovery_tour(self):
        _endpoint, recent, old, _delivered = prepare(self.env, self.receiver, "Recovery receiver")
        self.start_tour("/odoo", "integration_suite_recovery_tour", login="admin")
        self.assertEqual(recent.mapped("state"), ["pending"] * 3)
        self.assertEqual(old.state, "dead")
