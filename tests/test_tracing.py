"""W3C Trace Context over real HTTP: from the request that caused it to the delivery that carries it on."""
import re

from odoo import Command
from odoo.tests import tagged

from ..tools import trace_context
from .common import IntegrationHttpCase, make_webhook_rule, start_receiver

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SENDER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{SENDER_SPAN}-01"


@tagged("post_install", "-at_install")
class TestTracing(IntegrationHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = start_receiver(cls)
        cls.Delivery = cls.env["integration.webhook.delivery"]
        partner_model = cls.env.ref("base.model_res_partner")
        rule = cls.env["base.automation"].create({"name": "Traced outgoing", "model_id": partner_model.id,
                                                  "trigger": "on_create_or_write"})
        cls.endpoint = cls.env["ir.actions.server"].create({
            "name": "Notify", "model_id": partner_model.id, "state": "webhook",
            "webhook_url": cls.receiver.url_for("/traced"),
            "webhook_field_ids": [Command.set([cls.env["ir.model.fields"]._get("res.partner", "ref").id])],
            "base_automation_id": rule.id, "usage": "base_automation",
        }).webhook_endpoint_id

    def setUp(self):
        super().setUp()
        self.receiver.clear()
        self.partner = self.env["res.partner"].create({"name": "Traced partner"})
        self.Delivery.search([]).write({"state": "cancelled"})  # only what the test causes is sent
        self.mark()

    def mark(self):
        """Deliveries queued from now on are the test's (creating a rule recomputes partners: they queue too)."""
        self.env.flush_all()
        self.last_id = self.Delivery.search([], order="id desc", limit=1).id

    def deliveries(self, partner=None):
        partner = partner or self.partner
        return self.Delivery.search([("endpoint_id", "=", self.endpoint.id), ("res_id", "=", partner.id),
                                     ("id", ">", self.last_id)], order="id")

    def send(self):
        self.Delivery.search([("id", "<=", self.last_id), ("state", "=", "pending")]).write({"state": "cancelled"})
        self.Delivery._worker_process_batch(50)
        return [request for request, _response in self.receiver.log]

    def test_incoming_webhook_to_outgoing_delivery(self):
        rule = make_webhook_rule(self.env, name="Traced incoming")
        self.mark()
        res = self.post(f"/web/hook/{rule.webhook_uuid}", {"_model": "res.partner", "_id": self.partner.id},
                        headers={"traceparent": TRACEPARENT})
        self.assertEqual(res.status_code, 200, res.text)
        call = self.env["integration.webhook.call"].search([("rule_id", "=", rule.id)])
        self.assertEqual(call.trace_id, TRACE_ID)
        delivery = self.deliveries()
        self.assertEqual(len(delivery), 1)
        self.assertEqual((delivery.trace_id, delivery.cause, delivery.cause_ref), (TRACE_ID, "incoming",
                                                                                   call.request_id))
        # both log rows link to each other
        self.assertEqual(delivery.cause_call_id, call)
        self.assertEqual(call.delivery_ids, delivery)
        self.assertEqual(call.action_view_deliveries()["domain"], [("id", "in", delivery.ids)])

        [received] = self.send()
        trace_id, parent_id, flags = trace_context.parse(received.headers["traceparent"])
        self.assertEqual(trace_id, TRACE_ID, "the receiver continues the sender's trace")
        self.assertNotEqual(parent_id, SENDER_SPAN, "the delivery is a span of its own")
        self.assertEqual(flags, "01")
        self.assertEqual(received.headers["traceparent"], delivery.traceparent)

    def test_asynchronous_call_keeps_its_trace_in_the_worker(self):
        rule = make_webhook_rule(self.env, name="Traced async", webhook_async=True)
        self.mark()
        res = self.post(f"/web/hook/{rule.webhook_uuid}", {"_model": "res.partner", "_id": self.partner.id},
                        headers={"traceparent": TRACEPARENT})
        self.assertEqual(res.status_code, 202, res.text)
        self.assertFalse(self.deliveries())
        self.env["integration.webhook.call"]._worker_process_batch(10)
        call = self.env["integration.webhook.call"].search([("rule_id", "=", rule.id)])
        self.assertEqual(call.state, "done")
        delivery = self.deliveries()
        self.assertEqual((delivery.trace_id, delivery.cause_call_id), (TRACE_ID, call))
        self.assertEqual(call.delivery_ids, delivery)

    def test_json2_call_starts_or_continues_a_trace(self):
        other = self.env["res.partner"].create({"name": "Traced partner 2"})
        self.mark()
        res = self.call("res.partner", "write", {"ids": [self.partner.id, other.id], "vals": {"ref": "j2"}},
                        headers={"traceparent": TRACEPARENT})
        self.assertEqual(res.status_code, 200, res.text)
        first, second = self.deliveries() | self.deliveries(other)
        for delivery in (first, second):
            self.assertEqual((delivery.trace_id, delivery.cause, delivery.cause_ref, delivery.create_uid),
                             (TRACE_ID, "json2", "POST /json/2/res.partner/write", self.admin))
        self.assertNotEqual(first.traceparent, second.traceparent, "one span per delivery")
        self.assertEqual(first.action_view_trace()["domain"], [("trace_id", "=", TRACE_ID)])

        # no (or a malformed) traceparent: a trace is started for the call
        for header in ({}, {"traceparent": "00-" + "0" * 32 + "-" + SENDER_SPAN + "-01"}):
            self.mark()
            self.call("res.partner", "write", {"ids": [self.partner.id], "vals": {"ref": "new"}}, headers=header)
            delivery = self.deliveries()
            self.assertRegex(delivery.trace_id, r"^[0-9a-f]{32}$")
            self.assertNotIn(delivery.trace_id, (TRACE_ID, "0" * 32))

    def test_web_client_change_names_the_user(self):
        self.authenticate("admin", "admin")
        self.make_jsonrpc_request("/web/dataset/call_kw/res.partner/write", {
            "model": "res.partner", "method": "write", "args": [[self.partner.id], {"ref": "web"}], "kwargs": {}})
        delivery = self.deliveries()
        self.assertEqual((delivery.cause, delivery.create_uid), ("web", self.admin))
        self.assertTrue(re.match(r"^POST /web/dataset/call_kw", delivery.cause_ref))
        self.assertFalse(delivery.cause_call_id)

    def test_traceparent_parsing(self):
        self.assertEqual(trace_context.parse(TRACEPARENT), (TRACE_ID, SENDER_SPAN, "01"))
        for bad in ("", "garbage", TRACEPARENT.upper(), "ff" + TRACEPARENT[2:], TRACEPARENT + "-extra",
                    f"00-{TRACE_ID}-{'0' * 16}-01"):
            self.assertIsNone(trace_context.parse(bad), bad)
        self.assertEqual(trace_context.parse("01" + TRACEPARENT[2:] + "-later-fields"), (TRACE_ID, SENDER_SPAN, "01"))
