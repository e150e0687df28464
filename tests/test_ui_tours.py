"""The operator screens driven in headless Chromium (Odoo tours), checked end to end from Python.

Values the browser must type (receiver URL, signing secret) are handed to the tours as cookies,
so what the tour saves through the UI is then really sent, signed and verified here.
"""
import json
import secrets
import uuid
from datetime import datetime, timezone

import requests
from standardwebhooks.webhooks import Webhook

from odoo.tests import TransactionCase, tagged

from .common import PlainRequestsCase, start_receiver

PATH = "/tour-hook"


@tagged("post_install", "-at_install")
class TestUiTours(PlainRequestsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = start_receiver(cls)
        cls.partner = cls.env["res.partner"].create({"name": "Tour customer"})

    def setUp(self):
        super().setUp()
        self.receiver.clear()

    def hook(self, rule, body, headers=None):
        return requests.post(f"{self.base_url()}/web/hook/{rule.webhook_uuid}", data=body, timeout=60,
                             headers={"Content-Type": "application/json", **(headers or {})})

    def deliveries(self, endpoint):
        return self.env["integration.webhook.delivery"].search([("endpoint_id", "=", endpoint.id)])

    def test_endpoint_tour_sends_a_signed_test_delivery(self):
        self.receiver.expect_request(PATH, method="POST").respond_with_data("ok")
        url = self.receiver.url_for(PATH)
        self.start_tour("/odoo", "integration_suite_endpoint_tour", login="admin",
                        cookies={"integration_suite_tour_receiver": url})
        endpoint = self.env["integration.webhook.endpoint"].search([("name", "=", "Tour receiver")])
        self.assertEqual(endpoint.url, url)
        delivery = self.deliveries(endpoint)
        self.assertEqual((len(delivery), delivery.state, delivery.event_type), (1, "pending", "webhook.test"))
        self.assertEqual(self.receiver.log, [], "nothing is sent before the worker runs")

        self.assertEqual(self.env["integration.webhook.delivery"]._worker_process_batch(10), 1)
        self.assertEqual((delivery.state, delivery.last_status), ("delivered", 200))
        [(request, _response)] = self.receiver.log
        body = Webhook(endpoint.secret).verify(request.get_data(), dict(request.headers))
        self.assertEqual((body["_model"], body["_id"], body["test"]), (endpoint._name, endpoint.id, True))
        self.assertEqual(request.headers["webhook-id"], delivery.webhook_id)

    def test_incoming_rule_tour_then_signed_call_in_its_log(self):
        # hex digits are valid base64 and safe in a cookie
        secret = "whsec_" + secrets.token_hex(16)
        self.start_tour("/odoo", "integration_suite_incoming_rule_tour", login="admin",
                        cookies={"integration_suite_tour_secret": secret})
        rule = self.env["base.automation"].search([("name", "=", "Tour incoming contacts")])
        self.assertEqual((rule.model_id.model, rule.trigger, rule.webhook_auth_mode),
                         ("res.partner", "on_webhook", "standard_webhooks"))
        self.assertEqual(rule.webhook_secret, secret)

        body = json.dumps({"_model": "res.partner", "_id": self.partner.id, "order": "tour-order-1"})
        refused = self.hook(rule, body)
        self.assertEqual(refused.status_code, 401, refused.text)
        msg_id = f"msg_{uuid.uuid4().hex}"
        now = datetime.now(timezone.utc)
        accepted = self.hook(rule, body, {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, body),
        })
        self.assertEqual(accepted.status_code, 200, accepted.text)
        calls = self.env["integration.webhook.call"].search([("rule_id", "=", rule.id)])
        self.assertEqual(sorted(calls.mapped("state")), ["done", "rejected"])

        self.start_tour(f"/odoo/action-integration_suite.action_integration_incoming_rule/{rule.id}",
                        "integration_suite_incoming_calls_tour", login="admin")

    def test_dashboard_tour_renders_graph_and_pivot(self):
        self.receiver.expect_request(PATH, method="POST").respond_with_data("ok")
        endpoint = self.env["integration.webhook.endpoint"].create({
            "name": "Tour dashboard endpoint", "url": self.receiver.url_for(PATH)})
        endpoint.action_send_test()
        self.env["integration.webhook.delivery"]._worker_process_batch(10)
        self.assertEqual(self.deliveries(endpoint).mapped("state"), ["delivered"])
        rule = self.env["base.automation"].create({
            "name": "Tour dashboard rule",
            "model_id": self.env.ref("base.model_res_partner").id,
            "trigger": "on_webhook",
        })
        response = self.hook(rule, json.dumps({"_model": "res.partner", "_id": self.partner.id}))
        self.assertEqual(response.status_code, 200, response.text)
        self.start_tour("/odoo", "integration_suite_dashboard_tour", login="admin")


class TestAppsPage(TransactionCase):
    def test_module_page_is_the_html_description_with_its_icon(self):
        """The Apps page shows static/description/index.html: README.md (Markdown) is then never
        rendered as reStructuredText, which gave a docutils error per Markdown construct."""
        module = self.env["ir.module.module"].search([("name", "=", "integration_suite")])
        page = module.description_html
        self.assertIn("Quick start", page)
        self.assertIn("<h2", page)
        self.assertNotIn("System Message", page)
        self.assertNotIn("```", page)
        self.assertEqual(module.icon, "/integration_suite/static/description/icon.png")
