"""The README's integration recipes, end to end over HTTP, with the configuration the README quotes.

Each scenario is what a user comes with: a shop pushing orders, a payment gateway confirming a
payment, a warehouse notified of a change, a dashboard reading data, a middleware syncing both
ways. Core models stand in for sales orders (the README shows the ``sale.order`` variants).
Odoo tests never commit, so the outbox is drained by calling the worker, as the cron would.
"""
import base64
import hashlib
import hmac
import json
import re
import time
from datetime import timedelta

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from odoo import Command, fields
from odoo.tests import new_test_user, tagged

from .common import IntegrationHttpCase, make_webhook_rule, start_receiver

PNG_1PX = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
SHOP_SECRET = "shpss_scenario_client_secret"
STRIPE_SECRET = "whsec_scenario_stripe_endpoint_secret"

# Scenario 1 -- the README quotes these three values
SHOP_ORDER_SCHEMA = {
    "type": "object",
    "required": ["id", "name", "email", "customer", "shipping_address", "line_items"],
    "properties": {
        "id": {"type": "integer"},
        "email": {"type": "string", "minLength": 3},
        "line_items": {"type": "array", "minItems": 1,
                       "items": {"type": "object", "required": ["sku", "quantity"]}},
    },
}
SHOP_CUSTOMER_GETTER = (
    'model.search([("email", "=", payload["email"]), ("parent_id", "=", False)], limit=1)'
    ' or model.create({"name": payload["customer"]["first_name"] + " " + payload["customer"]["last_name"],'
    ' "email": payload["email"]})'
)
SHOP_ORDER_CODE = """\
ship = payload["shipping_address"]
env["res.partner"].create({
    "parent_id": record.id, "type": "delivery", "ref": payload["name"],
    "name": ship["name"], "street": ship["address1"], "city": ship["city"], "zip": ship["zip"],
    "comment": ", ".join("%s x %s" % (line["quantity"], line["sku"]) for line in payload["line_items"])})
"""

# Scenario 2
PAYMENT_GETTER = 'model.search([("ref", "=", payload["data"]["object"]["metadata"]["odoo_ref"])], limit=1)'
PAYMENT_CODE = """\
if payload["type"] == "payment_intent.succeeded":
    intent = payload["data"]["object"]
    paid = env["res.partner.category"].search([("name", "=", "Paid")], limit=1)
    record.write({"category_id": [Command.link(paid.id)]})
    record.message_post(body="Payment %s: %.2f %s" % (
        intent["id"], intent["amount_received"] / 100, intent["currency"].upper()))
"""

# Scenario 5
MIDDLEWARE_LOGIN = "middleware"
NO_ECHO_DOMAIN = '[("write_uid.login", "!=", "middleware")]'


@tagged("post_install", "-at_install")
class TestScenarios(IntegrationHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = start_receiver(cls)
        cls.Partner = cls.env["res.partner"]
        cls.Delivery = cls.env["integration.webhook.delivery"]
        cls.partner_model = cls.env.ref("base.model_res_partner")
        cls.editor = new_test_user(cls.env, login="scenario_editor",
                                   groups="base.group_user,base.group_partner_manager")
        cls.editor_key = cls.make_key(cls.editor, scope="rpc")

    def setUp(self):
        super().setUp()
        self.receiver.clear()

    # ------------------------------------------------------------------ helpers
    def incoming_rule(self, code, **values):
        return make_webhook_rule(self.env, code, **values)

    def outgoing_rule(self, path, field_names, **values):
        """An "On save" automation rule whose action is the native Send Webhook Notification."""
        rule = self.env["base.automation"].create({
            "name": "Scenario outgoing", "model_id": self.partner_model.id, "trigger": "on_create_or_write",
            **values,
        })
        action = self.env["ir.actions.server"].create({
            "name": "Notify", "model_id": self.partner_model.id, "state": "webhook",
            "webhook_url": self.receiver.url_for(path),
            "webhook_field_ids": [Command.set([self.env["ir.model.fields"]._get("res.partner", name).id
                                               for name in field_names])],
            "base_automation_id": rule.id, "usage": "base_automation",
        })
        return rule, action

    def hook(self, rule, body, headers):
        return self.post(f"/web/hook/{rule.webhook_uuid}", raw=body, headers=headers)

    def calls(self, rule):
        return self.env["integration.webhook.call"].search([("rule_id", "=", rule.id)], order="id")

    def deliveries(self, record):
        return self.Delivery.search([("model", "=", record._name), ("res_id", "=", record.id)], order="id")

    def work(self):
        return self.Delivery._worker_process_batch(50)

    def received(self):
        return [request for request, _response in self.receiver.log]

    # ------------------------------------------------------------------ 1. a shop pushes orders
    def shop_order(self, order_id, number, email="jane@shop.example"):
        return json.dumps({
            "id": order_id, "name": f"#{number}", "email": email,
            "customer": {"first_name": "Jane", "last_name": "Shopper", "email": email},
            "shipping_address": {"name": "Jane Shopper", "address1": "1 Harbour Road", "city": "Portsmouth",
                                 "zip": "PO1 3AX"},
            "line_items": [{"sku": "MUG-01", "quantity": 2, "price": "9.50"},
                           {"sku": "TEA-10", "quantity": 1, "price": "4.00"}],
        }).encode()

    def shopify_headers(self, body, secret=SHOP_SECRET):
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        return {"X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(), "X-Shopify-Topic": "orders/create"}

    def test_shop_pushes_orders_signed_idempotent_creating_records(self):
        rule = self.incoming_rule(
            SHOP_ORDER_CODE, webhook_auth_mode="hmac", webhook_hmac_preset="shopify", webhook_secret=SHOP_SECRET,
            webhook_dedupe_source="json_pointer", webhook_dedupe_pointer="/id",
            webhook_payload_schema=json.dumps(SHOP_ORDER_SCHEMA), record_getter=SHOP_CUSTOMER_GETTER)
        body = self.shop_order(820982911946154508, 1001)
        response = self.hook(rule, body, self.shopify_headers(body))
        self.assertEqual((response.status_code, response.json()), (200, {"status": "ok"}), response.text)
        customer = self.Partner.search([("email", "=", "jane@shop.example"), ("parent_id", "=", False)])
        self.assertEqual(customer.name, "Jane Shopper", "the first order creates the customer")
        order = customer.child_ids
        self.assertEqual((order.type, order.ref, order.city), ("delivery", "#1001", "Portsmouth"))
        self.assertIn("2 x MUG-01", order.comment)

        # the shop retries the same order (it did not get our answer in time): nothing runs twice
        response = self.hook(rule, body, self.shopify_headers(body))
        self.assertEqual((response.status_code, response.json()), (200, {"status": "ok", "duplicate": True}))
        # a forged call and a malformed order are refused before anything runs
        forged = self.shop_order(1, 9999)
        self.assertEqual(self.hook(rule, forged, self.shopify_headers(forged, "guessed")).status_code, 401)
        incomplete = json.dumps({"id": 2, "name": "#9998", "email": "x@y.z"}).encode()
        response = self.hook(rule, incomplete, self.shopify_headers(incomplete))
        self.assertEqual(response.status_code, 422)
        self.assertEqual(response.json()["errors"][0]["path"], "$")

        # the customer's next order reuses the contact
        body = self.shop_order(820982911946154509, 1002)
        self.assertEqual(self.hook(rule, body, self.shopify_headers(body)).status_code, 200)
        customer.invalidate_recordset()
        self.assertEqual(sorted(customer.child_ids.mapped("ref")), ["#1001", "#1002"])
        self.assertEqual(self.Partner.search_count([("email", "=", "jane@shop.example"),
                                                    ("parent_id", "=", False)]), 1)
        self.assertEqual(self.calls(rule).mapped("state"), ["done", "duplicate", "rejected", "rejected", "done"])
        self.assertEqual(self.calls(rule)[0].dedupe_key, "820982911946154508")

    # ------------------------------------------------------------------ 2. a payment gateway confirms a payment
    def stripe_event(self, event_id, odoo_ref, event_type="payment_intent.succeeded"):
        return json.dumps({
            "id": event_id, "object": "event", "type": event_type,
            "data": {"object": {"id": "pi_3MtwBwLkdIwHu7ix28a3tqPa", "object": "payment_intent",
                                "amount_received": 12550, "currency": "eur",
                                "metadata": {"odoo_ref": odoo_ref}}},
        }).encode()

    def stripe_headers(self, body, secret=STRIPE_SECRET, timestamp=None):
        timestamp = int(timestamp or time.time())
        signature = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        return {"Stripe-Signature": f"t={timestamp},v1={signature}"}

    def test_payment_gateway_confirms_a_payment(self):
        paid = self.env["res.partner.category"].create({"name": "Paid"})
        invoiced = self.Partner.create({"name": "Order awaiting payment", "ref": "SO-PAY-42"})
        rule = self.incoming_rule(
            PAYMENT_CODE, webhook_auth_mode="hmac", webhook_hmac_preset="stripe", webhook_secret=STRIPE_SECRET,
            webhook_dedupe_source="json_pointer", webhook_dedupe_pointer="/id", record_getter=PAYMENT_GETTER)

        # another event type for the same record changes nothing
        body = self.stripe_event("evt_failed_1", "SO-PAY-42", "payment_intent.payment_failed")
        self.assertEqual(self.hook(rule, body, self.stripe_headers(body)).status_code, 200)
        self.assertFalse(invoiced.category_id)
        # a replayed old event is refused (signature timestamp outside ±5 min)
        body = self.stripe_event("evt_succeeded_1", "SO-PAY-42")
        stale = self.hook(rule, body, self.stripe_headers(body, timestamp=time.time() - 3600))
        self.assertEqual((stale.status_code, stale.json()["error"]), (401, "timestamp outside the tolerance"))
        self.assertFalse(invoiced.category_id)

        response = self.hook(rule, body, self.stripe_headers(body))
        self.assertEqual((response.status_code, response.json()), (200, {"status": "ok"}), response.text)
        invoiced.invalidate_recordset()
        self.assertEqual(invoiced.category_id, paid)
        notes = invoiced.message_ids.filtered(lambda message: "pi_3MtwBwLkdIwHu7ix28a3tqPa" in (message.body or ""))
        self.assertEqual(len(notes), 1)
        self.assertIn("125.50 EUR", notes.body)
        # Stripe delivers at least once: the same event id again is acknowledged, not re-applied
        again = self.hook(rule, body, self.stripe_headers(body))
        self.assertEqual(again.json(), {"status": "ok", "duplicate": True})
        invoiced.invalidate_recordset()
        self.assertEqual(len(invoiced.message_ids.filtered(lambda m: "pi_3Mtw" in (m.body or ""))), 1)
        # an event for an unknown reference fails (Stripe retries it) and is logged with the reason
        body = self.stripe_event("evt_unknown_1", "SO-NOPE")
        self.assertEqual(self.hook(rule, body, self.stripe_headers(body)).status_code, 500)
        self.assertIn("No record to run the automation on", self.calls(rule)[-1].error)

    # ------------------------------------------------------------------ 3. a state change notifies a warehouse
    def test_state_change_notifies_warehouse_signed_and_retried(self):
        ready = self.env["res.partner.category"].create({"name": "Ready to ship"})
        rule, action = self.outgoing_rule(
            "/warehouse", ["name", "street", "city", "zip", "category_id"],
            trigger_field_ids=[Command.set([self.env["ir.model.fields"]._get("res.partner", "category_id").id])],
            filter_pre_domain=f"[('category_id', 'not in', [{ready.id}])]",
            filter_domain=f"[('category_id', 'in', [{ready.id}])]")
        endpoint = action.webhook_endpoint_id
        self.assertEqual(endpoint.url, self.receiver.url_for("/warehouse"))
        parcel = self.Partner.create({"name": "Parcel 7", "street": "3 Dock Lane", "city": "Hull", "zip": "HU1"})

        # an unrelated change notifies nobody
        self.assertEqual(self.call("res.partner", "write", {"ids": [parcel.id], "vals": {"phone": "+44 1"}},
                                   key=self.editor_key).status_code, 200)
        self.assertFalse(self.deliveries(parcel))
        # the "state" changes over the API: one delivery, queued in the same transaction, not sent yet
        response = self.call("res.partner", "write",
                             {"ids": [parcel.id], "vals": {"category_id": [[4, ready.id]]}}, key=self.editor_key)
        self.assertEqual(response.status_code, 200, response.text)
        delivery = self.deliveries(parcel)
        self.assertEqual((len(delivery), delivery.state), (1, "pending"))
        self.assertEqual(self.received(), [])
        # setting it again (already set) does not notify twice
        self.call("res.partner", "write", {"ids": [parcel.id], "vals": {"category_id": [[4, ready.id]]}},
                  key=self.editor_key)
        self.assertEqual(len(self.deliveries(parcel)), 1)

        # the warehouse is down once, then up: retried later with the same webhook-id
        self.receiver.expect_oneshot_request("/warehouse").respond_with_data("maintenance", status=503)
        self.receiver.expect_request("/warehouse").respond_with_data("queued")
        self.assertEqual(self.work(), 1)
        self.assertEqual((delivery.state, delivery.last_status), ("failed", 503))
        self.assertGreater(delivery.next_attempt_at, fields.Datetime.now())
        self.assertEqual(self.work(), 0, "not due before its retry time")
        delivery.write({"next_attempt_at": fields.Datetime.now() - timedelta(seconds=1)})
        self.assertEqual(self.work(), 1)
        self.assertEqual((delivery.state, delivery.attempt_count), ("delivered", 2))

        first, second = self.received()
        self.assertEqual(first.headers["webhook-id"], second.headers["webhook-id"])
        self.assertEqual(second.headers["webhook-id"], delivery.webhook_id)
        event = Webhook(endpoint.secret).verify(second.get_data(), dict(second.headers))
        self.assertEqual(event["_id"], parcel.id)
        self.assertEqual((event["name"], event["city"], event["category_id"]), ("Parcel 7", "Hull", [ready.id]))
        # base_automation names a rule's webhook action itself ("Send Webhook Notification")
        self.assertEqual(event["_action"], f"{action.name}(#{action.id})")
        with self.assertRaises(WebhookVerificationError, msg="a receiver with another secret rejects it"):
            Webhook("whsec_" + base64.b64encode(b"x" * 24).decode()).verify(second.get_data(), dict(second.headers))
        self.assertTrue(endpoint.active, "a 503 disables nothing")

    # ------------------------------------------------------------------ 4. a dashboard or mobile app reads data
    def test_dashboard_reads_with_a_read_only_key(self):
        viewer = new_test_user(self.env, login="dashboard_reader", groups="base.group_user")
        key = self.make_key(viewer, scope="rpc")
        headers = {"X-Odoo-Database": self.env.cr.dbname}
        tag = self.env["res.partner.category"].create({"name": "Dashboard KPI"})
        be, fr = self.env.ref("base.be"), self.env.ref("base.fr")
        self.Partner.create([{"name": f"KPI {n}", "category_id": [Command.link(tag.id)], "country_id": country.id}
                             for n, country in enumerate((be, be, fr))])
        domain = [["category_id", "in", [tag.id]]]

        response = self.call("res.partner", "search_count", {"domain": domain}, key=key, headers=headers)
        self.assertEqual((response.status_code, response.json()), (200, 3), response.text)
        response = self.call("res.partner", "search_read", {
            "domain": domain, "fields": ["name", "country_id"], "order": "name", "limit": 2,
        }, key=key, headers=headers)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual([row["name"] for row in response.json()], ["KPI 0", "KPI 1"])
        self.assertEqual(response.json()[0]["country_id"], [be.id, be.display_name])
        self.assertNotIn("Set-Cookie", response.headers, "stateless: no session for the app")
        response = self.call("res.partner", "read_group", {
            "domain": domain, "fields": ["country_id"], "groupby": ["country_id"], "lazy": False,
        }, key=key, headers=headers)
        self.assertEqual(response.status_code, 200, response.text)
        counts = {group["country_id"][0]: group["__count"] for group in response.json()}
        self.assertEqual(counts, {be.id: 2, fr.id: 1})

        # the key can read, never write: the user's access rights apply
        kpi = self.Partner.search([("name", "=", "KPI 0")])
        response = self.call("res.partner", "write", {"ids": kpi.ids, "vals": {"name": "tampered"}}, key=key)
        self.assertError(response, 403, "odoo.exceptions.AccessError")
        self.assertError(self.call("res.partner", "create", {"vals_list": [{"name": "new"}]}, key=key), 403)
        kpi.invalidate_recordset()
        self.assertEqual(kpi.name, "KPI 0")
        self.assertFalse(self.Partner.search([("name", "=", "new"), ("create_uid", "=", viewer.id)]))

    # ------------------------------------------------------------------ 5. a middleware syncs both ways, no echo
    def test_middleware_sync_does_not_echo_its_own_writes(self):
        middleware = new_test_user(self.env, login=MIDDLEWARE_LOGIN,
                                   groups="base.group_user,base.group_partner_manager")
        middleware_key = self.make_key(middleware, scope="rpc")
        human = new_test_user(self.env, login="sync_human", groups="base.group_user,base.group_partner_manager")
        tracked = [self.env["ir.model.fields"]._get("res.partner", name).id for name in ("name", "email", "phone")]
        self.outgoing_rule("/middleware", ["name", "email", "phone"],
                           trigger_field_ids=[Command.set(tracked)], filter_domain=NO_ECHO_DOMAIN)

        # the middleware creates and updates contacts through /json/2: nothing goes back to it
        created = {"vals_list": [{"name": "Synced Ltd", "email": "a@synced.example"}]}
        response = self.call("res.partner", "create", created, key=middleware_key)
        self.assertEqual(response.status_code, 200, response.text)
        [partner_id] = response.json()
        partner = self.Partner.browse(partner_id)
        response = self.call("res.partner", "write", {"ids": [partner_id], "vals": {"phone": "+32 2 000 00 00"}},
                             key=middleware_key)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(partner.write_uid, middleware)
        self.assertFalse(self.deliveries(partner), "the middleware's own changes are not echoed back")

        # a person edits the contact in the web client: the middleware hears about it
        self.authenticate("sync_human", "sync_human")
        self.make_jsonrpc_request("/web/dataset/call_kw/res.partner/write", {
            "model": "res.partner", "method": "write", "args": [[partner_id], {"email": "b@synced.example"}],
            "kwargs": {},
        })
        self.assertEqual(partner.write_uid, human)
        delivery = self.deliveries(partner)
        self.assertEqual(len(delivery), 1)
        self.receiver.expect_request("/middleware").respond_with_data("ok")
        self.assertEqual(self.work(), 1)
        [request] = self.received()
        secret = delivery.endpoint_id.secret
        self.assertEqual(Webhook(secret).verify(request.get_data(), dict(request.headers))["email"],
                         "b@synced.example")

        # the middleware applies that change elsewhere and writes the result back: still no echo
        written_back = {"ids": [partner_id], "vals": {"email": "b@synced.example", "phone": "+32 2 111 11 11"}}
        response = self.call("res.partner", "write", written_back, key=middleware_key)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(self.deliveries(partner), delivery)
        self.assertEqual(self.work(), 0)
        self.assertEqual(len(self.received()), 1)

    # ------------------------------------------------------------------ upgrading from native 18.0 webhooks
    def test_native_webhook_action_from_before_the_install_gets_an_endpoint_on_first_run(self):
        partner = self.Partner.create({"name": "Legacy receiver target", "image_1920": PNG_1PX})
        fields_ = [self.env["ir.model.fields"]._get("res.partner", name).id for name in ("name", "image_128",
                                                                                           "write_date")]
        action = self.env["ir.actions.server"].create({
            "name": "Legacy notify", "model_id": self.partner_model.id, "state": "webhook",
            "webhook_url": self.receiver.url_for("/legacy"), "webhook_field_ids": [Command.set(fields_)],
        })
        # as 18.0 left it: a URL and no endpoint
        created = action.webhook_endpoint_id
        action.webhook_endpoint_id = False
        created.unlink()
        self.assertFalse(self.env["integration.webhook.endpoint"].search([("url", "=", action.webhook_url)]))

        context = {"active_model": "res.partner", "active_id": partner.id, "active_ids": partner.ids}
        response = self.call("ir.actions.server", "run", {"ids": action.ids, "context": context})
        self.assertEqual(response.status_code, 200, response.text)
        action.invalidate_recordset()
        endpoint = action.webhook_endpoint_id
        self.assertEqual((endpoint.url, endpoint.name), (self.receiver.url_for("/legacy"),) * 2)
        self.assertTrue(endpoint.secret.startswith("whsec_"))
        delivery = self.deliveries(partner)
        self.assertEqual((len(delivery), delivery.state), (1, "pending"))
        self.assertEqual(self.received(), [], "nothing is sent inside the transaction any more")

        self.receiver.expect_request("/legacy").respond_with_data("ok")
        self.assertEqual(self.work(), 1)
        [request] = self.received()
        body = request.get_data(as_text=True)
        event = json.loads(body)
        self.assertEqual(list(event), sorted(event), "keys sorted, as 18.0 sends them")
        self.assertEqual(set(event), {"_model", "_id", "_action", "id", "name", "image_128", "write_date"})
        self.assertEqual(event["_action"], f"Legacy notify(#{action.id})")
        self.assertTrue(base64.b64decode(event["image_128"]).startswith(b"\x89PNG"), "binaries as base64 text")
        self.assertRegex(event["write_date"], re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"))
        Webhook(endpoint.secret).verify(request.get_data(), dict(request.headers))
