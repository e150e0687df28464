"""Signing secrets shown again to administrators after Odoo's identity check, every reveal noted."""
import json

from odoo.tests import new_test_user, tagged

from .common import IntegrationHttpCase, make_webhook_rule


@tagged("post_install", "-at_install")
class TestSecretReveal(IntegrationHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.endpoint = cls.env["integration.webhook.endpoint"].create(
            {"name": "Reveal", "url": "https://example.com/hooks"})
        cls.rule = make_webhook_rule(cls.env, "record.write({'comment': 'x'})", webhook_auth_mode="standard_webhooks")
        cls.rule.action_new_webhook_secret()
        cls.admin.password = "admin-password"  # admin's own password is not known to every database
        cls.manager = new_test_user(cls.env, login="reveal_manager", password="manager-password",
                                    groups="base.group_user,base.group_erp_manager")

    def rpc(self, route, params):
        response = self.url_open(route, data=json.dumps({"jsonrpc": "2.0", "method": "call", "params": params}),
                                 headers={"Content-Type": "application/json"})
        response.raise_for_status()
        return response.json()

    def button(self, record, method, context=None):
        return self.rpc("/web/dataset/call_button", {
            "model": record._name, "method": method, "args": [record.ids],
            "kwargs": {"context": context} if context else {}})

    def confirm_identity(self, wizard_action, password):
        self.assertEqual(wizard_action["res_model"], "res.users.identitycheck")
        wizard = self.env["res.users.identitycheck"].browse(wizard_action["res_id"])
        self.rpc("/web/dataset/call_kw", {"model": wizard._name, "method": "write",
                                          "args": [wizard.ids, {"password": password}], "kwargs": {}})
        # 18.0 reads the wizard's field, 19.0 the context's password (as their dialogs send it)
        return self.button(wizard, "run_check", {"password": password})

    def reveal_notes(self, record):
        record.invalidate_recordset()
        return record.message_ids.filtered(lambda message: "revealed" in (message.body or ""))

    def check_reveal(self, record, method, expected_secret):
        self.authenticate("admin", "admin-password")
        asked = self.button(record, method)
        self.assertNotIn(expected_secret, json.dumps(asked), "no secret before the identity check")
        self.assertFalse(self.reveal_notes(record))

        wrong = self.confirm_identity(asked["result"], "not the password")
        self.assertIn("Incorrect Password", wrong["error"]["data"]["message"])
        self.assertNotIn(expected_secret, json.dumps(wrong))
        self.assertFalse(self.reveal_notes(record))

        shown = self.confirm_identity(self.button(record, method)["result"], "admin-password")["result"]
        self.assertEqual(shown["tag"], "display_notification")
        self.assertEqual(shown["params"]["message"], expected_secret)
        self.assertEqual(len(self.reveal_notes(record)), 1)
        self.assertIn(self.admin.name, self.reveal_notes(record).body)

        # within Odoo's ten minutes, the next reveal asks no password but is noted again
        again = self.button(record, method)["result"]
        self.assertEqual(again["params"]["message"], expected_secret)
        self.assertEqual(len(self.reveal_notes(record)), 2)

    def test_endpoint_secret_revealed_after_identity_check(self):
        self.check_reveal(self.endpoint, "action_reveal_secret", self.endpoint.secret)

    def test_rule_secrets_revealed_after_identity_check(self):
        self.check_reveal(self.rule, "action_reveal_webhook_secret", self.rule.webhook_secret)

    def test_rotation_shows_the_new_secret_after_identity_check(self):
        old = self.endpoint.secret
        self.authenticate("admin", "admin-password")
        asked = self.button(self.endpoint, "action_rotate_secret")["result"]
        self.endpoint.invalidate_recordset()
        self.assertEqual(self.endpoint.previous_secret, old, "rotated before the identity check")
        self.assertNotIn(self.endpoint.secret, json.dumps(asked))
        shown = self.confirm_identity(asked, "admin-password")["result"]
        self.assertEqual(shown["params"]["message"], self.endpoint.secret)

    def test_no_identity_check_offered_without_the_rights(self):
        """A non-administrator gets an access error, not a password prompt (nor a wizard row)."""
        wizards = self.env["res.users.identitycheck"].search_count([])
        self.authenticate("reveal_manager", "manager-password")
        for record, method in ((self.endpoint, "action_reveal_secret"), (self.rule, "action_reveal_webhook_secret")):
            with self.subTest(method=method):
                refused = self.button(record, method)
                self.assertEqual(refused["error"]["data"]["name"], "odoo.exceptions.AccessError")
                self.assertNotIn(self.endpoint.secret, json.dumps(refused))
        self.assertEqual(self.env["res.users.identitycheck"].search_count([]), wizards)
        self.assertFalse(self.reveal_notes(self.endpoint) | self.reveal_notes(self.rule))

    def test_json2_is_not_a_way_around_the_identity_check(self):
        """The API key's session never confirmed a password: the API answers the wizard, not the secret."""
        response = self.call("integration.webhook.endpoint", "action_reveal_secret", {"ids": self.endpoint.ids})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json()["res_model"], "res.users.identitycheck")
        self.assertNotIn(self.endpoint.secret, response.text)
