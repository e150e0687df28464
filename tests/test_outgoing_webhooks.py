"""Outgoing webhooks against a real HTTP receiver (pytest-httpserver on 127.0.0.1).

Odoo tests never commit, so the outbox is driven explicitly: the action writes delivery rows,
then the worker's ``_worker_process_batch`` sends them, as the cron would after commit.
"""
import threading
import time
from datetime import timedelta

from standardwebhooks.webhooks import Webhook
from werkzeug.wrappers import Response

from odoo import SUPERUSER_ID, api, fields, sql_db
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged

from ..models.integration_webhook_delivery import _post
from .common import IntegrationHttpCase, http_server, start_receiver

PATH = "/hook"


@tagged("post_install", "-at_install")
class TestOutgoingWebhooks(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = start_receiver(cls)
        cls.Delivery = cls.env["integration.webhook.delivery"]
        cls.partner = cls.env["res.partner"].create({"name": "WH Target", "image_1920": False})
        cls.other = cls.env["res.partner"].create({"name": "WH Other"})
        name_field = cls.env["ir.model.fields"]._get("res.partner", "name")
        cls.action = cls.env["ir.actions.server"].create({
            "name": "OUT partner",
            "model_id": cls.env.ref("base.model_res_partner").id,
            "state": "webhook",
            "webhook_url": cls.receiver.url_for(PATH),
            "webhook_field_ids": [(6, 0, name_field.ids)],
        })
        cls.endpoint = cls.action.webhook_endpoint_id
        cls.endpoint.retry_schedule = "0,1,1"

    def setUp(self):
        super().setUp()
        self.receiver.clear()

    # helpers ---------------------------------------------------------------

    def trigger(self, record):
        self.action.with_context(active_model=record._name, active_id=record.id, active_ids=record.ids).run()
        return self.Delivery.search([("res_id", "=", record.id), ("endpoint_id", "=", self.endpoint.id)],
                                    order="id desc", limit=1)

    def work(self, limit=50):
        return self.Delivery._worker_process_batch(limit)

    def make_due(self, deliveries):
        deliveries.write({"next_attempt_at": fields.Datetime.now() - timedelta(seconds=1)})

    def received_ids(self):
        return [request.headers["webhook-id"] for request, _response in self.receiver.log]

    # tests -----------------------------------------------------------------

    def test_action_links_endpoint_and_keeps_native_payload(self):
        self.assertTrue(self.endpoint.secret.startswith("whsec_"))
        self.assertEqual(self.endpoint.url, self.receiver.url_for(PATH))
        self.receiver.expect_request(PATH, method="POST").respond_with_data("ok")
        delivery = self.trigger(self.partner)
        self.assertEqual(delivery.state, "pending")
        self.assertEqual(self.receiver.log, [], "nothing is sent inside the transaction")
        self.assertEqual(self.work(), 1)
        self.assertEqual(delivery.state, "delivered")
        self.assertEqual(delivery.last_status, 200)
        self.assertEqual(self.work(), 0, "a delivered row is not sent again")
        self.assertEqual(len(self.receiver.log), 1)
        request = self.receiver.log[0][0]
        body = Webhook(self.endpoint.secret).verify(request.get_data(), dict(request.headers))
        self.assertEqual(body, {"_model": "res.partner", "_id": self.partner.id, "id": self.partner.id,
                                "_action": f"OUT partner(#{self.action.id})", "name": "WH Target"})
        self.assertEqual(request.get_data(as_text=True), delivery.payload, "exact bytes kept")
        self.assertEqual(request.headers["webhook-id"], delivery.webhook_id)
        self.assertTrue(delivery.webhook_id.startswith("msg_"))

    def test_payload_rendered_at_trigger_time_and_standard_envelope(self):
        self.endpoint.payload_format = "standard"
        self.receiver.expect_request(PATH).respond_with_data("ok")
        delivery = self.trigger(self.partner)
        self.partner.name = "Renamed after the event"
        self.work()
        body = self.receiver.log[0][0].get_json()
        self.assertEqual(set(body), {"type", "timestamp", "data"})
        self.assertEqual(body["data"]["name"], "WH Target")
        self.assertEqual(delivery.state, "delivered")

    def test_rollback_sends_nothing(self):
        self.receiver.expect_request(PATH).respond_with_data("ok")
        with self.assertRaises(ZeroDivisionError), self.env.cr.savepoint():
            self.partner.name = "never committed"
            delivery = self.trigger(self.partner)
            self.assertTrue(delivery.exists())
            raise ZeroDivisionError("the user's transaction fails after the action ran")
        self.assertFalse(self.Delivery.search([("res_id", "=", self.partner.id)]))
        self.assertEqual(self.work(), 0)
        self.assertEqual(self.receiver.log, [])

    def test_500_then_200_same_webhook_id(self):
        self.receiver.expect_oneshot_request(PATH).respond_with_data("boom", status=500)
        self.receiver.expect_request(PATH).respond_with_data("ok")
        delivery = self.trigger(self.partner)
        self.work()
        self.assertEqual(delivery.state, "failed")
        self.assertEqual(delivery.last_status, 500)
        self.assertEqual(delivery.response_excerpt, "boom")
        self.assertGreater(delivery.next_attempt_at, fields.Datetime.now() - timedelta(seconds=1))
        self.make_due(delivery)
        self.work()
        self.assertEqual(delivery.state, "delivered")
        self.assertEqual(delivery.attempt_count, 2)
        self.assertEqual(self.received_ids(), [delivery.webhook_id] * 2)
        timestamps = [request.headers["webhook-timestamp"] for request, _response in self.receiver.log]
        self.assertTrue(all(ts.isdigit() for ts in timestamps))

    def test_worker_run_waits_for_a_short_retry(self):
        self.receiver.expect_oneshot_request(PATH).respond_with_data("boom", status=503)
        self.receiver.expect_request(PATH).respond_with_data("ok")
        delivery = self.trigger(self.partner)
        started = time.monotonic()
        self.env["integration.worker"]._run(time_budget=15)
        self.assertEqual((delivery.state, delivery.attempt_count), ("delivered", 2),
                         "the 1 s retry is sent by the same run, not left to the next cron poll")
        self.assertLess(time.monotonic() - started, 10)

    def test_410_disables_endpoint(self):
        self.receiver.expect_request(PATH).respond_with_data("gone", status=410)
        first = self.trigger(self.partner)
        second = self.trigger(self.other)
        self.assertEqual(self.work(limit=1), 1)
        self.assertFalse(self.endpoint.active)
        self.assertEqual(first.state, "failed")
        self.assertEqual(self.work(), 0, "an archived endpoint gets nothing more")
        self.assertEqual(second.state, "pending", "kept, not lost, until the endpoint is reactivated")
        self.assertTrue(self.endpoint.activity_ids)

    def test_retry_after_honoured(self):
        self.receiver.expect_request(PATH).respond_with_data(
            "slow down", status=429, headers={"Retry-After": "120"})
        delivery = self.trigger(self.partner)
        before = fields.Datetime.now()
        self.work()
        self.assertEqual(delivery.state, "failed")
        self.assertGreaterEqual(delivery.next_attempt_at, before + timedelta(seconds=120))
        self.assertLess(delivery.next_attempt_at, before + timedelta(seconds=200))

    def test_dead_after_last_attempt_with_activity(self):
        self.receiver.expect_request(PATH).respond_with_data("no", status=500)
        delivery = self.trigger(self.partner)
        for _attempt in range(3):
            self.make_due(delivery)
            self.work()
        self.assertEqual(delivery.state, "dead")
        self.assertEqual(delivery.attempt_count, 3)
        self.assertEqual(len(self.receiver.log), 3)
        self.make_due(delivery)
        self.assertEqual(self.work(), 0, "dead is final until an operator retries")
        activity = self.endpoint.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertEqual(activity.user_id, self.endpoint.user_id)
        self.assertIn(delivery.webhook_id, activity.note)
        # an operator retries by hand: same webhook-id
        self.receiver.clear()
        self.receiver.expect_request(PATH).respond_with_data("ok")
        delivery.action_retry()
        self.work()
        self.assertEqual(delivery.state, "delivered")
        self.assertEqual(self.received_ids(), [delivery.webhook_id])
        replay = delivery.action_replay()
        self.work()
        self.assertEqual(replay.state, "delivered")
        self.assertEqual(self.received_ids(), [delivery.webhook_id] * 2)

    def test_per_record_order_under_retries(self):
        first = self.trigger(self.partner)
        first_id = first.webhook_id  # read here: the handler runs in the receiver's thread, without the ORM
        failed_once = []

        def first_fails_once(request):  # deliveries of a group are sent concurrently: answer by id
            if request.headers["webhook-id"] == first_id and not failed_once:
                failed_once.append(True)
                return Response("boom", status=500)
            return Response("ok")

        self.receiver.expect_request(PATH).respond_with_handler(first_fails_once)
        self.partner.name = "second version"
        second = self.trigger(self.partner)
        unrelated = self.trigger(self.other)
        self.work()
        self.assertEqual(first.state, "failed")
        self.assertEqual(second.state, "pending", "waits while the earlier change is not delivered")
        self.assertEqual(unrelated.state, "delivered", "other records flow meanwhile")
        self.make_due(first)
        self.work()
        self.assertEqual((first + second).mapped("state"), ["delivered", "delivered"])
        ids = [i for i in self.received_ids() if i != unrelated.webhook_id]
        self.assertEqual(ids, [first.webhook_id, first.webhook_id, second.webhook_id])
        self.assertEqual(self.receiver.log[-1][0].get_json()["name"], "second version")

    def test_claim_is_a_lease_released_by_the_outcome(self):
        self.receiver.expect_request(PATH).respond_with_data("ok")
        delivery = self.trigger(self.partner)
        claimed = self.Delivery._claim(10)
        self.assertIn(delivery, claimed)
        self.assertTrue(delivery.claimed_until)
        self.assertNotIn(delivery, self.Delivery._claim(10), "another worker does not take a leased row")
        delivery.claimed_until = fields.Datetime.now() - timedelta(seconds=1)  # the worker died
        self.assertIn(delivery, self.Delivery._claim(10), "an expired lease is taken over")
        # an attempt that could not start before its lease ran short is released, not counted
        delivery._record_outcomes([{"skipped": True}])
        self.assertEqual((delivery.state, delivery.attempt_count, delivery.claimed_until), ("pending", 0, False))
        self.assertEqual(self.work(), 1)
        self.assertEqual((delivery.state, delivery.attempt_count, delivery.claimed_until), ("delivered", 1, False))

    def test_attempt_not_started_after_its_start_by(self):
        self.receiver.expect_request(PATH).respond_with_data("ok")
        self.trigger(self.partner)
        [request] = self.Delivery._claim(10)._prepare_requests()
        self.assertEqual(_post({**request, "start_by": time.monotonic() - 1}), {"skipped": True})
        self.assertEqual(self.receiver.log, [])
        self.assertEqual(_post(request)["status"], 200)

    def test_retry_refused_while_an_attempt_is_in_flight(self):
        self.receiver.expect_request(PATH).respond_with_data("boom", status=500)
        delivery = self.trigger(self.partner)
        self.work()
        self.assertEqual(delivery.state, "failed")
        self.make_due(delivery)
        self.Delivery._claim(10)  # a worker is sending its next attempt
        with self.assertRaises(UserError):
            delivery.action_retry()
        delivery._record_outcomes([{"status": 500, "excerpt": "boom", "error": False, "retry_after": None,
                                    "duration_ms": 3.0}])
        delivery.action_retry()
        self.assertEqual((delivery.state, delivery.attempt_count), ("pending", 0))

    def test_cancelled_while_in_flight_stays_cancelled(self):
        delivery = self.trigger(self.partner)
        self.Delivery._claim(10)
        delivery.action_cancel()
        delivery._record_outcomes([{"status": 500, "excerpt": "boom", "error": False, "retry_after": None,
                                    "duration_ms": 3.0}])
        self.assertEqual(delivery.state, "cancelled")

    def test_ssrf_guard_refuses_private_addresses(self):
        self.env["ir.config_parameter"].set_param("integration_suite.webhook_allow_private", "False")
        self.receiver.expect_request(PATH).respond_with_data("ok")
        for url in (self.receiver.url_for(PATH), "http://10.1.2.3/hook", "http://169.254.169.254/latest",
                    f"http://localhost:{self.receiver.port}{PATH}"):
            self.endpoint.url = url
            delivery = self.trigger(self.partner)
            self.work()
            self.assertEqual(delivery.state, "failed", url)
            self.assertIn("refused", delivery.error, url)
            delivery.action_cancel()
        self.assertEqual(self.receiver.log, [])

    def test_secret_is_for_system_users_only(self):
        user = new_test_user(self.env, login="wh_user", groups="base.group_user,base.group_erp_manager")
        with self.assertRaises(AccessError):
            self.endpoint.with_user(user).read(["secret"])
        with self.assertRaises(AccessError):
            self.Delivery.with_user(user).search([])
        self.assertEqual(self.endpoint._fields["secret"].groups, "base.group_system")
        self.assertEqual(self.endpoint._fields["headers"].groups, "base.group_system")
        admin = self.env.ref("base.user_admin")
        self.assertTrue(self.endpoint.with_user(admin).read(["secret"])[0]["secret"].startswith("whsec_"))

    def test_rotation_signs_with_both_secrets(self):
        old = self.endpoint.secret
        self.endpoint.action_rotate_secret()
        self.assertNotEqual(self.endpoint.secret, old)
        self.receiver.expect_request(PATH).respond_with_data("ok")
        self.trigger(self.partner)
        self.work()
        request = self.receiver.log[0][0]
        self.assertEqual(len(request.headers["webhook-signature"].split(" ")), 2)
        for secret in (old, self.endpoint.secret):
            Webhook(secret).verify(request.get_data(), dict(request.headers))
        self.endpoint.previous_secret_expiry = fields.Datetime.now() - timedelta(seconds=1)
        self.assertEqual(self.endpoint._signing_secrets(), [self.endpoint.secret])

    def test_custom_headers_sent(self):
        self.endpoint.headers = '{"Authorization": "Bearer s3cr3t"}'
        self.receiver.expect_request(PATH, headers={"Authorization": "Bearer s3cr3t"}).respond_with_data("ok")
        delivery = self.trigger(self.partner)
        self.work()
        self.assertEqual(delivery.state, "delivered")
        with self.assertRaises(ValidationError):
            self.endpoint.headers = '["not", "an", "object"]'

    def test_malformed_url_rejected(self):
        Endpoint = self.env["integration.webhook.endpoint"]
        for url in ("not a url", "ftp://example.com/x", "javascript:alert(1)", "http://", "http://h:99999/"):
            with self.assertRaises(ValidationError, msg=url), self.env.cr.savepoint():
                Endpoint.create({"name": "bad", "url": url})

    def test_unreachable_host_fails_and_retries(self):
        self.endpoint.url = "http://127.0.0.1:1/hook"
        delivery = self.trigger(self.partner)
        self.work()
        self.assertEqual(delivery.state, "failed")
        self.assertIn("ConnectionError", delivery.error)
        self.assertFalse(delivery.last_status)
        self.assertEqual(delivery.attempt_count, 1)
        self.assertIn("ConnectionError", self.endpoint.last_error)

    def test_hanging_receiver_bounded_by_timeout(self):
        self.endpoint.timeout = 1
        self.receiver.expect_request(PATH).respond_with_handler(lambda request: time.sleep(3) or Response("late"))
        delivery = self.trigger(self.partner)
        started = time.monotonic()
        self.work()
        self.assertLess(time.monotonic() - started, 2.5)
        self.assertEqual(delivery.state, "failed")
        self.assertIn("no answer within 1 s", delivery.error)  # a read timeout, or the deadline cut
        # let the sleeping handler finish here, or its log entry lands in a later test's receiver log
        deadline = time.monotonic() + 5
        while not self.receiver.log and time.monotonic() < deadline:
            time.sleep(0.05)

    def test_huge_answer_kept_as_4kb_excerpt(self):
        self.receiver.expect_request(PATH).respond_with_data(b"x" * 20_000_000)
        delivery = self.trigger(self.partner)
        self.work()
        self.assertEqual(delivery.state, "delivered")
        self.assertEqual(len(delivery.response_excerpt.encode()), 4096)

    def test_send_test_and_health(self):
        self.receiver.expect_request(PATH).respond_with_data("ok")
        self.endpoint.action_send_test()
        self.work()
        self.assertEqual(self.receiver.log[0][0].get_json()["test"], True)
        self.endpoint.invalidate_recordset()
        self.assertEqual(self.endpoint.success_rate, 100.0)
        self.assertGreater(self.endpoint.latency_p95, 0)

    def test_retention_deletes_old_delivered_rows(self):
        self.receiver.expect_request(PATH).respond_with_data("ok")
        old, recent = self.trigger(self.partner), self.trigger(self.other)
        failed = self.trigger(self.env["res.partner"].create({"name": "x"}))
        failed.write({"state": "dead"})
        self.work()
        old.delivered_at = fields.Datetime.now() - timedelta(days=31)
        failed.create_date = fields.Datetime.now() - timedelta(days=90)
        self.assertEqual(self.Delivery._gc_delivered(), 1)
        self.assertFalse(old.exists())
        self.assertTrue(recent.exists() and failed.exists())


@tagged("post_install", "-at_install")
class TestOutgoingWebhooksConcurrency(TransactionCase):
    """Two workers on two real database connections, on committed rows, never send one delivery twice."""

    def test_concurrent_workers_never_double_send(self):
        receiver = http_server()
        receiver.start()
        self.addCleanup(receiver.stop)
        receiver.expect_request(PATH).respond_with_handler(lambda request: time.sleep(0.02) or Response("ok"))
        db = sql_db.db_connect(self.env.cr.dbname)
        with db.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            allowed_before = env["ir.config_parameter"].set_param("integration_suite.webhook_allow_private", "True")
            endpoint = env["integration.webhook.endpoint"].create(
                {"name": "concurrency", "url": receiver.url_for(PATH)})
            deliveries = env["integration.webhook.delivery"]
            for res_id in range(30):
                for _version in range(2 if res_id < 5 else 1):
                    deliveries |= deliveries._enqueue(endpoint, {"n": res_id}, "test.record", res_id, "t")
            expected = deliveries.mapped("webhook_id")
            endpoint_id, delivery_ids = endpoint.id, deliveries.ids
        try:
            counts = []

            def worker():
                with db.cursor() as wcr:
                    counts.append(api.Environment(wcr, SUPERUSER_ID, {})[
                        "integration.webhook.delivery"]._worker_process_batch(100))

            threads = [threading.Thread(target=worker) for _i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            received = [request.headers["webhook-id"] for request, _response in receiver.log]
            self.assertEqual(sorted(received), sorted(expected), "each delivery sent exactly once")
            self.assertLessEqual(sum(counts), len(expected))  # a cron thread may have helped
            with db.cursor() as cr:
                cr.execute("SELECT state, count(*) FROM integration_webhook_delivery WHERE id IN %s GROUP BY state",
                           [tuple(delivery_ids)])
                self.assertEqual(dict(cr.fetchall()), {"delivered": len(expected)})
        finally:
            with db.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["integration.webhook.delivery"].browse(delivery_ids).unlink()
                env["integration.webhook.endpoint"].browse(endpoint_id).unlink()
                env["ir.config_parameter"].set_param("integration_suite.webhook_allow_private", allowed_before)


@tagged("post_install", "-at_install")
class TestOutgoingWebhooksOverJson2(IntegrationHttpCase):
    """Everything an operator does on screen can be scripted through /json/2 (the ORM's methods)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = start_receiver(cls)

    def test_endpoint_action_test_delivery_and_log_over_json2(self):
        receiver = self.receiver
        receiver.expect_request(PATH).respond_with_data("ok")

        response = self.call("integration.webhook.endpoint", "create", {"vals_list": [{
            "name": "scripted", "url": receiver.url_for(PATH), "headers": '{"Authorization": "Bearer t"}'}]})
        self.assertEqual(response.status_code, 200, response.text)
        [endpoint_id] = response.json()
        secret = self.call("integration.webhook.endpoint", "read",
                           {"ids": [endpoint_id], "fields": ["secret"]}).json()[0]["secret"]
        self.assertTrue(secret.startswith("whsec_"))
        # an internal user neither reads the secret nor lists endpoints
        self.assertError(self.call("integration.webhook.endpoint", "read",
                                   {"ids": [endpoint_id], "fields": ["secret"]}, key=self.user_key), 403)

        response = self.call("ir.actions.server", "create", {"vals_list": [{
            "name": "scripted action", "model_id": self.env.ref("base.model_res_partner").id,
            "state": "webhook", "webhook_endpoint_id": endpoint_id}]})
        self.assertEqual(response.status_code, 200, response.text)
        action = self.env["ir.actions.server"].browse(response.json())
        self.assertEqual(action.webhook_url, receiver.url_for(PATH), "the native field follows the endpoint")

        response = self.call("integration.webhook.endpoint", "action_send_test", {"ids": [endpoint_id]})
        self.assertEqual(response.status_code, 200, response.text)
        delivery_id = response.json()["res_id"]
        self.env["integration.webhook.delivery"]._worker_process_batch(10)

        deliveries = self.call("integration.webhook.delivery", "search_read", {
            "domain": [["endpoint_id", "=", endpoint_id]],
            "fields": ["state", "attempt_count", "last_status", "webhook_id", "event_type"]}).json()
        self.assertEqual([(d["id"], d["state"], d["attempt_count"], d["last_status"], d["event_type"])
                          for d in deliveries], [(delivery_id, "delivered", 1, 200, "webhook.test")])
        [(request, _response)] = receiver.log
        self.assertEqual(request.headers["Authorization"], "Bearer t")
        Webhook(secret).verify(request.get_data(), dict(request.headers))
        self.assertEqual(request.headers["webhook-id"], deliveries[0]["webhook_id"])
