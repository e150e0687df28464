"""Event types (issue 13): the catalogue follows the webhook actions, endpoints subscribe to some of
them, and 'Send test' sends the chosen type's sample as a real signed delivery."""
import json

from standardwebhooks.webhooks import Webhook

from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged

from .common import start_receiver

PATH = "/event-types"


@tagged("post_install", "-at_install")
class TestEventTypes(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = start_receiver(cls)
        cls.EventType = cls.env["integration.webhook.event.type"].with_context(active_test=False)
        cls.Delivery = cls.env["integration.webhook.delivery"]
        cls.partner_model = cls.env.ref("base.model_res_partner")
        cls.partner = cls.env["res.partner"].create({"name": "Event type target", "email": "et@example.com"})
        cls.endpoint = cls.env["integration.webhook.endpoint"].create(
            {"name": "Event types", "url": cls.receiver.url_for(PATH), "retry_schedule": "0"})
        cls.action = cls.make_action("ET partner changed", "name", "email")

    @classmethod
    def make_action(cls, name, *field_names, model="res.partner", endpoint=None):
        return cls.env["ir.actions.server"].create({
            "name": name, "model_id": cls.env["ir.model"]._get(model).id, "state": "webhook",
            "webhook_endpoint_id": (endpoint or cls.endpoint).id,
            "webhook_field_ids": [(6, 0, [cls.env["ir.model.fields"]._get(model, f).id for f in field_names])],
        })

    def setUp(self):
        super().setUp()
        self.receiver.clear()

    def type_of(self, code):
        return self.EventType.search([("code", "=", code)])

    def trigger(self, action, record):
        action.with_context(active_model=record._name, active_id=record.id, active_ids=record.ids).run()
        return self.Delivery.search([("action_id", "=", action.id), ("res_id", "=", record.id)])

    # the catalogue ---------------------------------------------------------------------------------

    def test_catalogue_follows_actions_on_create_write_unlink(self):
        event_type = self.type_of("res.partner.ET partner changed")
        self.assertEqual((event_type.name, event_type.model_id, event_type.action_ids, event_type.source,
                          event_type.active),
                         ("Contact: ET partner changed", self.partner_model, self.action, "action", True))
        self.assertEqual(self.action.webhook_event_type_id, event_type, "the action's form shows it")
        # a second action of the same name and model produces the same type
        twin = self.make_action("ET partner changed", "name")
        self.assertEqual(event_type.action_ids, self.action | twin)

        # renamed: a new type; the old one keeps the twin
        self.action.name = "ET partner renamed"
        renamed = self.type_of("res.partner.ET partner renamed")
        self.assertEqual((renamed.name, renamed.action_ids, renamed.active),
                         ("Contact: ET partner renamed", self.action, True))
        self.assertEqual(event_type.action_ids, twin)

        # moved to another model
        self.action.model_id = self.env.ref("base.model_res_users")
        self.assertFalse(renamed.active, "no action produces it any longer")
        self.assertEqual(self.type_of("res.users.ET partner renamed").name, "User: ET partner renamed")

        # deleted: archived (subscriptions kept), back when an action produces it again
        self.endpoint.write({"event_subscription": "selected", "event_type_ids": [(6, 0, event_type.ids)]})
        twin.unlink()
        self.assertEqual((event_type.active, event_type.action_ids), (False, self.env["ir.actions.server"]))
        self.assertEqual(self.endpoint.event_type_ids, event_type)
        again = self.make_action("ET partner changed", "name")
        self.assertEqual((event_type.active, event_type.action_ids), (True, again))

        # an action that stops being a webhook action leaves the catalogue
        again.state = "code"
        self.assertFalse(event_type.active)

    def test_non_webhook_actions_stay_out_and_the_test_event_is_built_in(self):
        self.env["ir.actions.server"].create({
            "name": "ET code", "model_id": self.partner_model.id, "state": "code", "code": "pass"})
        self.assertFalse(self.type_of("res.partner.ET code"))
        test = self.env.ref("integration_suite.event_type_webhook_test")
        self.assertEqual((test.code, test.source), ("webhook.test", "builtin"))
        self.assertEqual(json.loads(test.sample_payload)["_action"], "test")

    def test_full_sync_rebuilds_what_the_migration_needs(self):
        """``_sync_from_actions()`` without codes (install, migration) builds every action's type."""
        self.env.cr.execute("DELETE FROM integration_webhook_event_type WHERE source = 'action'")
        self.env.invalidate_all()
        self.EventType._sync_from_actions()
        self.assertEqual(self.type_of("res.partner.ET partner changed").action_ids, self.action)

    def test_sample_payload_is_what_the_action_sends(self):
        event_type = self.type_of("res.partner.ET partner changed")
        sample = json.loads(event_type.sample_payload)
        first = self.env["res.partner"].search([], limit=1)
        self.assertEqual(sample, {
            "_model": "res.partner", "_id": first.id, "_action": f"ET partner changed(#{self.action.id})",
            "id": first.id, "name": first.name, "email": first.email})
        # the same keys as a real delivery of the action
        delivery = self.trigger(self.action, self.partner)
        self.assertEqual(sorted(json.loads(delivery.payload)), sorted(sample))

    def test_description_editable_codes_not(self):
        event_type = self.type_of("res.partner.ET partner changed")
        user = new_test_user(self.env, login="et_user", groups="base.group_user")
        with self.assertRaises(AccessError):
            event_type.with_user(user).read(["name"])
        # an administrator describes an event type, but neither invents nor deletes one
        admin = self.env.ref("base.user_admin")
        with self.assertRaises(AccessError):
            self.EventType.with_user(admin).create({"code": "made.up", "name": "Made up"})
        with self.assertRaises(AccessError):
            event_type.with_user(admin).unlink()
        event_type.with_user(admin).description = "A contact changed: name and email."
        self.assertEqual(event_type.description, "A contact changed: name and email.")
        self.assertTrue(self.EventType.fields_get(["code"])["code"]["readonly"])

    # subscriptions ---------------------------------------------------------------------------------

    def test_subscriptions_filter_what_is_queued(self):
        other = self.make_action("ET partner other", "name")
        self.assertEqual(self.endpoint.event_subscription, "all", "existing endpoints receive everything")
        self.assertEqual(len(self.trigger(self.action, self.partner)), 1)
        self.assertEqual(len(self.trigger(other, self.partner)), 1)

        self.endpoint.write({"event_subscription": "selected",
                             "event_type_ids": [(6, 0, self.type_of("res.partner.ET partner other").ids)]})
        self.assertEqual(len(self.trigger(self.action, self.partner)), 1, "not subscribed: nothing more queued")
        self.assertEqual(len(self.trigger(other, self.partner)), 2)
        # the test event is always accepted
        self.assertEqual(self.Delivery.browse(self.endpoint.action_send_test()["res_id"]).event_type, "webhook.test")

        self.endpoint.event_subscription = "all"
        self.assertEqual(len(self.trigger(self.action, self.partner)), 2)

    # send test -------------------------------------------------------------------------------------

    def wizard(self, endpoint=None, user=None):
        action = (endpoint or self.endpoint).with_user(user or self.env.user).action_open_send_test()
        self.assertEqual((action["res_model"], action["target"]), ("integration.webhook.send.test", "new"))
        wizard = self.env[action["res_model"]].with_user(user or self.env.user)
        return wizard.with_context(**action["context"]).create({})

    def test_send_test_of_a_chosen_type_is_signed_and_received(self):
        self.receiver.expect_request(PATH, method="POST").respond_with_data("ok")
        self.endpoint.payload_format = "standard"
        wizard = self.wizard()
        self.assertEqual(wizard.event_type_id, self.env.ref("integration_suite.event_type_webhook_test"))
        event_type = self.type_of("res.partner.ET partner changed")
        self.assertIn(event_type, wizard.allowed_event_type_ids)
        wizard.event_type_id = event_type
        shown = json.loads(wizard.sample_payload)
        self.assertEqual((shown["type"], shown["data"]["_action"]),
                         (event_type.code, f"ET partner changed(#{self.action.id})"))

        delivery = self.Delivery.browse(wizard.action_send()["res_id"])
        self.assertEqual((delivery.endpoint_id, delivery.event_type, delivery.state),
                         (self.endpoint, event_type.code, "pending"))
        self.assertEqual(self.receiver.log, [], "sent by the worker, after commit")
        self.Delivery._worker_process_batch(10)
        self.assertEqual((delivery.state, delivery.last_status), ("delivered", 200))
        [(request, _response)] = self.receiver.log
        body = Webhook(self.endpoint.secret).verify(request.get_data(), dict(request.headers))
        self.assertEqual(body["type"], event_type.code)
        self.assertEqual(body["data"], shown["data"])
        self.assertEqual(request.headers["webhook-id"], delivery.webhook_id)

    def test_send_test_offers_only_the_subscriptions(self):
        subscribed = self.type_of("res.partner.ET partner changed")
        other = self.make_action("ET not subscribed", "name")
        self.endpoint.write({"event_subscription": "selected", "event_type_ids": [(6, 0, subscribed.ids)]})
        wizard = self.wizard()
        test = self.env.ref("integration_suite.event_type_webhook_test")
        self.assertEqual(wizard.allowed_event_type_ids, subscribed | test)
        # forced through the API anyway: refused, nothing queued
        wizard.event_type_id = self.type_of(f"res.partner.{other.name}")
        with self.assertRaises(UserError):
            wizard.action_send()
        self.assertFalse(self.Delivery.search([("endpoint_id", "=", self.endpoint.id)]))

    def test_send_test_needs_rights(self):
        user = new_test_user(self.env, login="et_plain", groups="base.group_user")
        portal = new_test_user(self.env, login="et_portal", groups="base.group_portal")
        for someone in (user, portal):
            with self.assertRaises(AccessError):
                self.endpoint.with_user(someone).action_open_send_test()
            with self.assertRaises(AccessError):
                self.env["integration.webhook.send.test"].with_user(someone).create(
                    {"endpoint_id": self.endpoint.id})
            with self.assertRaises(AccessError):
                self.endpoint.with_user(someone)._send_test_event(
                    self.env.ref("integration_suite.event_type_webhook_test"))
        self.assertFalse(self.Delivery.search([("endpoint_id", "=", self.endpoint.id)]))

    def test_send_test_refused_on_a_neutralized_copy(self):
        self.env["ir.config_parameter"].set_param("database.is_neutralized", "True")
        wizard = self.wizard()
        with self.assertRaises(UserError):
            wizard.action_send()

    # the endpoint's readable figures ---------------------------------------------------------------

    def test_retry_schedule_reads_as_delays(self):
        self.endpoint.retry_schedule = "0,5,300,1800,5400,7200,86400,90061"
        self.assertEqual(self.endpoint.retry_schedule_display,
                         "0 s, 5 s, 5 min, 30 min, 1 h 30 min, 2 h, 1 d, 1 d 1 h 1 min 1 s")


@tagged("post_install", "-at_install")
class TestEventTypeTour(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.receiver = start_receiver(cls)

    def test_send_test_tour_sends_the_chosen_type(self):
        self.receiver.expect_request(PATH, method="POST").respond_with_data("ok")
        endpoint = self.env["integration.webhook.endpoint"].create(
            {"name": "Tour event types", "url": self.receiver.url_for(PATH)})
        action = self.env["ir.actions.server"].create({
            "name": "Tour contact changed", "model_id": self.env.ref("base.model_res_partner").id,
            "state": "webhook", "webhook_endpoint_id": endpoint.id,
            "webhook_field_ids": [(6, 0, self.env["ir.model.fields"]._get("res.partner", "name").ids)],
        })
        self.start_tour("/odoo", "integration_suite_event_type_tour", login="admin")
        delivery = self.env["integration.webhook.delivery"].search([("endpoint_id", "=", endpoint.id)])
        self.assertEqual((len(delivery), delivery.event_type), (1, "res.partner.Tour contact changed"))
        self.env["integration.webhook.delivery"]._worker_process_batch(10)
        [(request, _response)] = self.receiver.log
        body = Webhook(endpoint.secret).verify(request.get_data(), dict(request.headers))
        self.assertEqual(body["_action"], f"Tour contact changed(#{action.id})")
        self.assertEqual(request.headers["webhook-id"], delivery.webhook_id)
