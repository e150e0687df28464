"""The attempt history: one row per HTTP attempt of a delivery, secrets masked, gone with its delivery."""
import json
from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, TransactionCase, tagged

from ..tools import webhook_delivery as wd
from .common import start_receiver

PATH = "/history-hook"


def make_endpoint(env, receiver, name, **values):
    return env["integration.webhook.endpoint"].create({
        "name": name, "url": receiver.url_for(PATH), "retry_schedule": "0,1,1", **values})


def queue(endpoint, record):
    return endpoint.env["integration.webhook.delivery"]._enqueue(
        endpoint, {"_model": record._name, "_id": record.id, "_action": "history"}, record._name, record.id,
        "res.partner.history")


def fail_then_deliver(case, delivery):
    """Send ``delivery`` twice: the receiver answers 500, then 200."""
    Delivery = case.env["integration.webhook.delivery"]
    case.receiver.expect_oneshot_request(PATH).respond_with_data("boom", status=500, headers={"X-Attempt": "one"})
    case.receiver.expect_request(PATH).respond_with_data("ok", headers={"X-Attempt": "two"})
    Delivery._worker_process_batch(10)
    delivery.next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
    Delivery._worker_process_batch(10)


@tagged("post_install", "-at_install")
class TestAttemptHistory(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = start_receiver(cls)
        cls.partner = cls.env["res.partner"].create({"name": "History target"})
        cls.endpoint = make_endpoint(cls.env, cls.receiver, "History receiver", headers=json.dumps({
            "Authorization": "Bearer s3cr3t-bearer", "X-Api-Key": "s3cr3t-key", "X-Tenant": "acme"}))

    def setUp(self):
        super().setUp()
        self.receiver.clear()

    def test_500_then_200_gives_two_attempts_newest_first(self):
        delivery = queue(self.endpoint, self.partner)
        self.assertFalse(delivery.attempt_ids, "nothing attempted yet")
        fail_then_deliver(self, delivery)
        self.assertEqual(delivery.state, "delivered")
        second, first = delivery.attempt_ids
        self.assertEqual([(a.attempt, a.http_status, a.outcome) for a in (first, second)],
                         [(1, 500, "retry"), (2, 200, "delivered")])
        self.assertEqual((first.response_excerpt, second.response_excerpt), ("boom", "ok"))
        self.assertIn("X-Attempt: one", first.response_headers)
        self.assertIn("X-Attempt: two", second.response_headers)
        self.assertFalse(second.error)
        self.assertIn("HTTP 500", first.error)
        self.assertLessEqual(first.started_at, second.started_at)
        self.assertGreaterEqual(first.duration_ms, 0)

        # what was sent, as the receiver saw it, minus the secrets
        sent = [request.headers for request, _response in self.receiver.log]
        self.assertEqual(len(sent), 2)
        for attempt, headers in zip((first, second), sent, strict=True):
            lines = dict(line.split(": ", 1) for line in attempt.request_headers.splitlines())
            self.assertEqual(lines["webhook-id"], delivery.webhook_id)
            self.assertEqual(lines["webhook-timestamp"], headers["webhook-timestamp"])
            self.assertEqual(lines["X-Tenant"], "acme")
            for name in ("webhook-signature", "Authorization", "X-Api-Key"):
                self.assertEqual(lines[name], wd.MASK)
            self.assertTrue(headers["webhook-signature"].startswith("v1,"))
        for secret in ("s3cr3t", headers["webhook-signature"].split(",", 1)[1], self.endpoint.secret):
            self.assertFalse(self.env["integration.webhook.attempt"].search_count(
                [("request_headers", "ilike", secret)]), "a secret was stored in the history")

    def test_unanswered_attempt_has_no_status(self):
        self.endpoint.url = "http://127.0.0.1:9/closed"  # nothing listens on the discard port
        delivery = queue(self.endpoint, self.partner)
        self.env["integration.webhook.delivery"]._worker_process_batch(10)
        [attempt] = delivery.attempt_ids
        self.assertEqual((attempt.http_status, attempt.outcome, bool(attempt.error)), (0, "retry", True))
        self.assertFalse(attempt.response_headers)
        self.assertIn("webhook-id: ", attempt.request_headers)

    def test_a_group_of_outcomes_costs_the_same_queries_as_one(self):
        Delivery = self.env["integration.webhook.delivery"]

        def record(count):
            deliveries = Delivery.browse([queue(self.endpoint, self.partner).id for _i in range(count)])
            self.env.flush_all()
            self.env.invalidate_all()
            before = self.env.cr.sql_log_count
            deliveries._record_outcomes([
                {"status": 200, "excerpt": "ok", "error": False, "retry_after": None, "duration_ms": 2.0,
                 "request_headers": "webhook-id: x"} for _d in deliveries])
            self.assertEqual(deliveries.mapped("attempt_ids.outcome"), ["delivered"] * count)
            return self.env.cr.sql_log_count - before

        self.assertEqual(record(1), record(8), "the history adds no query per attempt")

    def test_attempt_of_a_delivery_cancelled_meanwhile_is_kept_as_cancelled(self):
        delivery = queue(self.endpoint, self.partner)
        self.env["integration.webhook.delivery"]._claim(10)
        delivery.action_cancel()
        delivery._record_outcomes([{"status": 500, "excerpt": "boom", "error": False, "retry_after": None,
                                    "duration_ms": 3.0}])
        self.assertEqual(delivery.state, "cancelled")
        self.assertEqual(delivery.attempt_ids.mapped("outcome"), ["cancelled"])

    def test_dead_and_gone_outcomes(self):
        self.receiver.expect_request(PATH).respond_with_data("gone", status=410)
        delivery = queue(self.endpoint, self.partner)
        self.env["integration.webhook.delivery"]._worker_process_batch(10)
        self.assertEqual(delivery.attempt_ids.outcome, "gone")
        self.assertFalse(self.endpoint.active)

    def test_attempts_go_with_their_delivery(self):
        self.receiver.expect_request(PATH).respond_with_data("ok")
        old, recent = queue(self.endpoint, self.partner), queue(self.endpoint, self.partner)
        self.env["integration.webhook.delivery"]._worker_process_batch(10)
        self.assertEqual((len(old.attempt_ids), len(recent.attempt_ids)), (1, 1))
        old_attempts, recent_attempts = old.attempt_ids, recent.attempt_ids
        old.delivered_at = fields.Datetime.now() - timedelta(days=31)
        self.assertEqual(self.env["integration.webhook.delivery"]._gc_delivered(), 1)
        self.assertFalse(old.exists())
        self.assertFalse(old_attempts.exists(), "the attempts are deleted with their delivery")
        self.assertTrue(recent_attempts.exists())

    def test_delivery_reads_in_the_users_language(self):
        delivery = queue(self.endpoint, self.partner)
        self.assertEqual(delivery.model_description, "Contact")
        self.assertEqual(delivery.payload_pretty, json.dumps(json.loads(delivery.payload), indent=2))
        self.assertIn("\n  ", delivery.payload_pretty)
        self.assertEqual(delivery.event_type_name, "res.partner.history", "not in the catalogue: its code")
        test = self.env["integration.webhook.event.type"].search([("code", "=", "webhook.test")])
        delivery.event_type = "webhook.test"
        self.assertEqual(delivery.event_type_name, test.name)
        self.assertNotEqual(test.name, "webhook.test")

    def test_masked_headers(self):
        text = wd.masked_headers({"Authorization": "Bearer x", "X-Auth-Token": "t", "X-Api-Key": "k",
                                  "X-Client-Secret": "s", "webhook-signature": "v1,abc", "webhook-id": "msg_1",
                                  "Content-Type": "application/json"})
        self.assertEqual(text.splitlines(), [
            f"Authorization: {wd.MASK}", f"X-Auth-Token: {wd.MASK}", f"X-Api-Key: {wd.MASK}",
            f"X-Client-Secret: {wd.MASK}", f"webhook-signature: {wd.MASK}", "webhook-id: msg_1",
            "Content-Type: application/json"])


@tagged("post_install", "-at_install")
class TestAttemptHistoryTour(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = start_receiver(cls)

    def test_attempt_history_tour(self):
        partner = self.env["res.partner"].create({"name": "Timeline customer"})
        endpoint = make_endpoint(self.env, self.receiver, "Timeline receiver")
        delivery = queue(endpoint, partner)
        fail_then_deliver(self, delivery)
        self.assertEqual(len(delivery.attempt_ids), 2)
        self.start_tour("/odoo", "integration_suite_attempt_history_tour", login="admin")
