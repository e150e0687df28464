"""Restricted API keys over real HTTP: models and methods, read-only, addresses, rates, last use (issue 21)."""
import hashlib
import time
import xmlrpc.client
from datetime import timedelta
from types import SimpleNamespace
from unittest import mock

import requests

from odoo import Command, api, fields, sql_db
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import config, mute_logger

from odoo.addons.base.models.res_users import INDEX_SIZE

from .. import series
from ..dispatch import is_readonly, public_method_names, restrictions
from ..dispatch import methods as dispatch_methods
from ..dispatch.restrictions import READ_METHODS, claim_size, method_class
from .common import IntegrationHttpCase, make_webhook_rule

LOGGER = "odoo.addons.integration_suite.dispatch.restrictions"


@tagged("post_install", "-at_install")
class RestrictedKeyCase(IntegrationHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Policy = cls.env["integration.apikey.policy"]
        cls.bot = new_test_user(cls.env, login="restricted_bot",
                                groups=f"base.group_user,base.group_partner_manager,{series.DOC_GROUP}")
        cls.partner = cls.env["res.partner"].create({"name": "Restricted Customer", "email": "c@example.com"})

    def restricted_key(self, user=None, lines=(), **values):
        """A new key of ``user`` (the bot) with ``values`` and ``lines`` = [(model, "rwcu", "extra methods")]."""
        user = user or self.bot
        key = self.make_key(user)
        key_id = self.key_id(user, key)
        self.Policy.create({"key_id": key_id, **values, "line_ids": [fields.Command.create({
            "model_id": self.env["ir.model"]._get_id(model), "perm_read": "r" in perms, "perm_write": "w" in perms,
            "perm_create": "c" in perms, "perm_unlink": "u" in perms, "extra_methods": methods or False,
        }) for model, perms, methods in lines]})
        return key

    def key_id(self, user, key):
        self.env.cr.execute("SELECT id FROM res_users_apikeys WHERE user_id = %s AND index = %s ORDER BY id DESC",
                            [user.id, key[:INDEX_SIZE]])
        return self.env.cr.fetchone()[0]

    def refused(self, response, message):
        self.assertError(response, 403, "odoo.exceptions.AccessError", message)


class TestModelsAndMethods(RestrictedKeyCase):
    def test_a_key_without_restrictions_is_its_user(self):
        key = self.make_key(self.bot)
        self.assertEqual(self.call("res.users", "search_count", {"domain": []}, key=key).status_code, 200)
        self.assertEqual(self.call("res.partner", "write", {"ids": [self.partner.id], "vals": {"ref": "x"}},
                                   key=key).status_code, 200)
        self.assertNotIn("RateLimit", self.call("res.partner", "search_count", {"domain": []}, key=key).headers)

    @mute_logger(LOGGER)
    def test_models_and_rights(self):
        key = self.restricted_key(lines=[("res.partner", "rw", "")])
        ok = self.call("res.partner", "search_read", {"domain": [["id", "=", self.partner.id]], "fields": ["name"]},
                       key=key)
        self.assertEqual(ok.json(), [{"id": self.partner.id, "name": "Restricted Customer"}])
        self.assertEqual(self.call("res.partner", "write", {"ids": [self.partner.id], "vals": {"ref": "w"}},
                                   key=key).json(), True)
        self.refused(self.call("res.partner", "create", {"vals_list": [{"name": "new"}]}, key=key),
                     "may not create res.partner")
        self.refused(self.call("res.partner", "unlink", {"ids": [self.partner.id]}, key=key), "may not delete")
        # web_save creates without ids and writes with them
        self.refused(self.call("res.partner", "web_save", {"vals": {"name": "n"}, "specification": {}}, key=key),
                     "may not create res.partner")
        self.assertEqual(self.call("res.partner", "web_save", {"ids": [self.partner.id], "vals": {"ref": "ws"},
                                                               "specification": {"ref": {}}}, key=key).json(),
                         [{"id": self.partner.id, "ref": "ws"}])
        self.refused(self.call("res.users", "search_read", {"domain": [], "fields": ["login"]}, key=key),
                     "res.users is not among the key's models")
        self.assertTrue(self.partner.exists())

    @mute_logger(LOGGER)
    def test_unknown_methods_only_when_named(self):
        key = self.restricted_key(lines=[("res.partner", "rwcu", "")])
        # a public method that is neither read, write, create nor delete ("call of an unlisted method")
        self.refused(self.call("res.partner", "message_subscribe", {"ids": [self.partner.id],
                                                                      "partner_ids": [self.bot.partner_id.id]},
                               key=key), "must be named among the key's extra methods")
        self.assertNotIn(self.bot.partner_id, self.partner.message_partner_ids)
        named = self.restricted_key(lines=[("res.partner", "r", "message_subscribe")])
        self.assertEqual(self.call("res.partner", "message_subscribe", {
            "ids": [self.partner.id], "partner_ids": [self.bot.partner_id.id]}, key=named).status_code, 200)
        self.partner.invalidate_recordset()
        self.assertIn(self.bot.partner_id, self.partner.message_partner_ids)

    @mute_logger(LOGGER)
    def test_other_models_through_relational_arguments(self):
        key = self.restricted_key(lines=[("res.partner", "rwc", "")])
        user = self.bot.partner_id
        # reading another model's fields through a nested specification, a domain path, an `any`
        self.refused(self.call("res.partner", "web_read", {"ids": [user.id], "specification": {
            "user_ids": {"fields": {"login": {}}}}}, key=key), "would read res.users")
        self.refused(self.call("res.partner", "search_read", {"domain": [["user_ids.login", "=", "admin"]],
                                                               "fields": ["name"]}, key=key), "would read res.users")
        self.refused(self.call("res.partner", "search_count", {"domain": [["user_ids", "any", [["login", "=", "a"]]]]},
                               key=key), "would read res.users")
        # comparing ids reads nothing of the other model
        self.assertEqual(self.call("res.partner", "search_count", {"domain": [["user_ids", "in", [self.bot.id]]]},
                                   key=key).json(), 1)
        # writing another model through x2many commands
        bank = {"acc_number": "BE71096123456769"}
        self.refused(self.call("res.partner", "write", {"ids": [self.partner.id], "vals": {
            "bank_ids": [[0, 0, bank]]}}, key=key), "would create res.partner.bank")
        self.refused(self.call("res.partner", "create", {"vals_list": [{"name": "n", "bank_ids": [[0, 0, bank]]}]},
                               key=key), "would create res.partner.bank")
        self.refused(self.call("res.partner", "web_save", {"ids": [self.partner.id], "vals": {
            "user_ids": [[1, self.bot.id, {"name": "renamed"}]]}, "specification": {}}, key=key),
            "would write res.users")
        self.assertFalse(self.partner.bank_ids)
        self.assertNotEqual(self.bot.name, "renamed")

    @mute_logger(LOGGER)
    def test_the_key_cannot_lift_its_own_restrictions(self):
        key = self.restricted_key(lines=[("res.partner", "rwcu", "")])
        policy = self.Policy.search([("user_id", "=", self.bot.id)], limit=1)
        self.refused(self.call("integration.apikey.policy", "write", {"ids": policy.ids, "vals": {"line_ids": [[5]]}},
                               key=key), "is not among the key's models")
        # and the user, whatever the door, cannot change them either
        with self.assertRaises(AccessError):
            policy.with_user(self.bot).write({"read_only": False})
        with self.assertRaises(AccessError):
            policy.line_ids.with_user(self.bot).unlink()
        self.assertEqual(policy.with_user(self.bot).read(["read_only"])[0]["read_only"], False)  # may read its own

    @mute_logger(LOGGER)
    def test_a_change_applies_to_the_next_call(self):
        key = self.restricted_key(lines=[("res.partner", "r", "")])
        self.assertEqual(self.call("res.partner", "search_count", {"domain": []}, key=key).status_code, 200)
        policy = self.Policy.search([("user_id", "=", self.bot.id)], limit=1)
        policy.line_ids.model_id = self.env.ref("base.model_res_country")
        self.refused(self.call("res.partner", "search_count", {"domain": []}, key=key), "res.partner is not among")
        policy.line_ids.unlink()
        self.assertFalse(policy.restricted)
        self.assertEqual(self.call("res.users", "search_count", {"domain": []}, key=key).status_code, 200)

    def test_models_built_on_api_keys_are_unharmed(self):
        """auth_totp's trusted devices inherit the API keys' fields: their table has the columns too."""
        if "auth_totp.device" not in self.env:
            self.skipTest("auth_totp is not installed")
        Devices = self.env["auth_totp.device"].with_user(self.bot).sudo()
        Devices._generate("browser", "a trusted browser", fields.Datetime.now() + timedelta(days=30))
        device = Devices.search([("user_id", "=", self.bot.id)])
        self.assertEqual(device.read()[0]["name"], "a trusted browser")  # every stored field, columns included
        self.assertFalse(device.integration_restrictions)
        with self.assertRaises(AccessError):
            device.with_user(self.bot).action_integration_restrictions()

    def test_method_classes_are_explicit(self):
        self.assertEqual(method_class("write", True), "write")
        self.assertEqual(method_class("action_archive", True), "write")
        self.assertEqual(method_class("web_save", True), "write")
        self.assertEqual(method_class("web_save", False), "create")
        self.assertEqual(method_class("copy", True), "create")
        self.assertEqual(method_class("unlink", True), "unlink")
        self.assertIsNone(method_class("message_post", True))
        with self.assertRaises(ValidationError):
            self.Policy.create({"key_id": self.key_id(self.bot, self.make_key(self.bot)),
                                "allowed_addresses": "10.0.0.0/8, not-an-address"})


class TestReadOnly(RestrictedKeyCase):
    def fingerprint(self, *tables):
        digest = hashlib.sha256()
        for table in tables:
            self.env.cr.execute(f"SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) FROM {table} t")  # noqa: S608
            digest.update(str(self.env.cr.fetchone()[0]).encode())
        return digest.hexdigest()

    def writing_methods(self, model):
        model = self.env[model]
        return [name for name in public_method_names(model)
                if not (is_readonly(type(model), name) or name in READ_METHODS)]

    @mute_logger(LOGGER, "odoo.http", "odoo.addons.integration_suite.controllers.legacy_rpc")
    def test_every_writing_method_is_refused_over_each_door(self):
        key = self.restricted_key(read_only=True)
        tables = ["res_partner", "mail_message", "mail_followers", "res_users", "res_partner_bank"]
        models = ["res.partner"] + (["sale.order"] if "sale.order" in self.env else [])
        self.env.flush_all()
        before = self.fingerprint(*tables)
        tried = 0
        proxy = xmlrpc.client.ServerProxy(self.base_url() + "/xmlrpc/2/object", allow_none=True)
        for model in models:
            record = self.partner if model == "res.partner" else self.env[model].search([], limit=1)
            for name in self.writing_methods(model):
                response = self.call(model, name, {"ids": record.ids}, key=key)
                self.assertEqual(response.status_code, 403, f"{model}.{name}: {response.text}")
                with self.assertRaises(xmlrpc.client.Fault, msg=f"{model}.{name} over XML-RPC") as caught:
                    proxy.execute_kw(self.env.cr.dbname, self.bot.id, key, model, name, [record.ids])
                self.assertIn("read-only", caught.exception.faultString)
                answer = requests.post(self.base_url() + "/jsonrpc", json={"jsonrpc": "2.0", "id": 1, "params": {
                    "service": "object", "method": "execute_kw",
                    "args": [self.env.cr.dbname, self.bot.id, key, model, name, [record.ids]]}}, timeout=60).json()
                self.assertIn("read-only", answer["error"]["data"]["message"], f"{model}.{name} over JSON-RPC")
                tried += 1
        self.assertGreater(tried, 20)
        self.env.invalidate_all()
        self.assertEqual(self.fingerprint(*tables), before, "nothing changed")
        # and reading works on every door
        self.assertEqual(self.call("res.partner", "read", {"ids": self.partner.ids, "fields": ["name"]},
                                   key=key).status_code, 200)
        self.assertEqual(proxy.execute_kw(self.env.cr.dbname, self.bot.id, key, "res.partner", "search_count", [[]]),
                         self.env["res.partner"].with_user(self.bot).search_count([]))

    @mute_logger(LOGGER, "odoo.http", "odoo.addons.integration_suite.controllers.legacy_rpc")
    def test_postgresql_refuses_a_write_underneath_a_read_method(self):
        key = self.restricted_key(read_only=True)
        partner_class = type(self.env["res.partner"])
        original = partner_class.search_count

        @api.model
        @api.readonly
        def search_count_that_writes(self, domain, limit=None):
            self.env.cr.execute("UPDATE res_partner SET ref = 'written' WHERE id = %s", [self.env.user.partner_id.id])
            return original(self, domain, limit=limit)

        # (the dispatch layer keeps the functions it resolved per class: forgotten for the patch)
        with mock.patch.object(partner_class, "search_count", search_count_that_writes), \
                mock.patch.dict(dispatch_methods._PUBLIC, {}, clear=True):
            self.refused(self.call("res.partner", "search_count", {"domain": []}, key=key),
                         "the key is read-only and the call tried to write")
            with self.assertRaises(xmlrpc.client.Fault) as caught:
                xmlrpc.client.ServerProxy(self.base_url() + "/xmlrpc/2/object", allow_none=True).execute_kw(
                    self.env.cr.dbname, self.bot.id, key, "res.partner", "search_count", [[]])
            self.assertIn("tried to write", caught.exception.faultString)
            # a key without restrictions is not affected
            plain = self.make_key(self.bot)
            self.assertEqual(self.call("res.partner", "search_count", {"domain": []}, key=plain).status_code, 200)
        self.bot.partner_id.invalidate_recordset()
        self.assertEqual(self.bot.partner_id.ref, "written")  # only by the unrestricted key
        self.assertEqual(self.call("res.partner", "search_count", {"domain": []}, key=self.make_key(self.bot))
                         .status_code, 200, "the test's transaction is still writable")


class TestAddressesAndRates(RestrictedKeyCase):
    @mute_logger(LOGGER)
    def test_source_addresses(self):
        key = self.restricted_key(allowed_addresses="10.0.0.0/8\n2001:db8::/32")
        self.refused(self.call("res.partner", "search_count", {"domain": []}, key=key),
                     "calls from 127.0.0.1 are not allowed")
        # a spoofed X-Forwarded-For counts only behind a proxy Odoo trusts (proxy_mode)
        spoofed = {"X-Forwarded-For": "10.1.2.3", "X-Forwarded-Host": "example.com"}
        self.refused(self.call("res.partner", "search_count", {"domain": []}, key=key, headers=spoofed),
                     "calls from 127.0.0.1")
        with mock.patch.dict(config.options, {"proxy_mode": True}):
            self.assertEqual(self.call("res.partner", "search_count", {"domain": []}, key=key,
                                       headers=spoofed).status_code, 200)
            self.assertEqual(self.call("res.partner", "search_count", {"domain": []}, key=key, headers={
                "X-Forwarded-For": "2001:db8::5", "X-Forwarded-Host": "example.com"}).status_code, 200)
        local = self.restricted_key(allowed_addresses="127.0.0.1")
        self.assertEqual(self.call("res.partner", "search_count", {"domain": []}, key=local).status_code, 200)

    @mute_logger(LOGGER)
    def test_rate_limit_answers_429_with_the_ietf_headers(self):
        key = self.restricted_key(rate_limit=3)
        answers = [self.call("res.partner", "search_count", {"domain": []}, key=key) for _ in range(4)]
        self.assertEqual([a.status_code for a in answers], [200, 200, 200, 429])
        self.assertEqual(answers[0].headers["RateLimit-Policy"], '"api-key";q=3;w=60')
        self.assertRegex(answers[0].headers["RateLimit"], r'^"api-key";r=2;t=(19|20)$')
        self.assertRegex(answers[2].headers["RateLimit"], r'^"api-key";r=0;t=(59|60)$')
        body = self.assertError(answers[3], 429, "werkzeug.exceptions.TooManyRequests", "rate limit of 3 calls")
        self.assertIn(int(answers[3].headers["Retry-After"]), range(18, 21))
        self.assertEqual(answers[3].headers["RateLimit-Policy"], '"api-key";q=3;w=60')
        self.assertIsNotNone(body)
        # the legacy doors share the key's quota and answer 429 with the same headers
        with self.assertRaises(xmlrpc.client.ProtocolError) as caught:
            xmlrpc.client.ServerProxy(self.base_url() + "/xmlrpc/2/object").execute_kw(
                self.env.cr.dbname, self.bot.id, key, "res.partner", "search_count", [[]])
        self.assertEqual(caught.exception.errcode, 429)
        self.assertIn("Retry-After", caught.exception.headers)
        answer = requests.post(self.base_url() + "/jsonrpc", json={"jsonrpc": "2.0", "id": 1, "params": {
            "service": "object", "method": "execute_kw",
            "args": [self.env.cr.dbname, self.bot.id, key, "res.partner", "search_count", [[]]]}}, timeout=60)
        self.assertEqual(answer.status_code, 429)
        self.assertIn("rate limit", answer.json()["error"]["data"]["message"])
        self.assertIn("RateLimit", answer.headers)
        # another key of the same user has its own quota
        other = self.restricted_key(rate_limit=3)
        self.assertEqual(self.call("res.partner", "search_count", {"domain": []}, key=other).status_code, 200)


    @mute_logger(LOGGER)
    def test_a_changed_limit_applies_to_the_next_call(self):
        # two calls a minute: the two calls made stay within the window however slow the machine
        key = self.restricted_key(rate_limit=2)
        policy = self.Policy.search([("key_id", "=", self.key_id(self.bot, key))])
        count = {"domain": []}
        self.assertIn("q=2", self.call("res.partner", "search_count", count, key=key).headers["RateLimit-Policy"])
        self.assertIn("q=2", self.call("res.partner", "search_count", count, key=key).headers["RateLimit-Policy"])
        policy.rate_limit = 0  # (each process counts a key early when it last saw it limited: not any more)
        self.assertNotIn("RateLimit", self.call("res.partner", "search_count", count, key=key).headers)
        # the calls of the last minute count under the new limit: 2 made, 1 allowed
        policy.rate_limit = 1
        answer = self.call("res.partner", "search_count", count, key=key)
        self.assertEqual(answer.status_code, 429)
        self.assertEqual(answer.headers["RateLimit-Policy"], '"api-key";q=1;w=60')
        policy.rate_limit = 1000
        self.assertEqual(self.call("res.partner", "search_count", count, key=key).status_code, 200)


    def rate_row(self, key_id):
        """``(tat, step)`` of the key as committed by the limiter (its own connection: a fresh snapshot here)."""
        with sql_db.db_connect(self.env.cr.dbname).cursor() as cr:
            cr.execute("SELECT tat, step FROM integration_apikey_rate WHERE key_id = %s", [key_id])
            return cr.fetchone()

    def test_a_fast_key_claims_a_tenth_of_a_second_at_a_time(self):
        """Counted by the claims the limiter makes, not by the clock: a slow machine changes nothing."""
        self.assertEqual((claim_size(60), claim_size(600), claim_size(601), claim_size(6000)), (1, 1, 2, 10))
        limiter = restrictions.rate_limiter
        claims = []

        def spy(db, key_id, step, size):
            granted = real_claim(db, key_id, step, size)
            claims.append((key_id, size, granted[0]))
            return granted

        real_claim = limiter._claim
        count = {"domain": []}
        key = self.restricted_key(rate_limit=6000)  # 100 calls a second: 10 claimed at once
        key_id = self.key_id(self.bot, key)
        # claimed calls stay usable for a minute here (1 s in service): nine calls fit in it on any machine
        with mock.patch.object(limiter, "_claim", spy), mock.patch.object(restrictions, "CREDIT_SECONDS", 60.0):
            started = time.time()
            self.assertEqual(self.call("res.partner", "search_count", count, key=key).status_code, 200)
            finished = time.time()
            self.assertEqual(claims, [(key_id, 10, 10)], "one claim of ten calls")
            tat, step = self.rate_row(key_id)
            self.assertAlmostEqual(step, 0.01)
            # the row moved a tenth of a second past the moment of the claim (the database's clock)
            self.assertGreaterEqual(tat, started + 0.1 - 0.01)
            self.assertLessEqual(tat, finished + 0.1 + 0.01)
            answers = [self.call("res.partner", "search_count", count, key=key) for _ in range(9)]
            self.assertEqual({answer.status_code for answer in answers}, {200})
            self.assertEqual(len(claims), 1, "nine more calls from the claim, no statement")
            self.assertEqual(self.rate_row(key_id)[0], tat)
            self.call("res.partner", "search_count", count, key=key)
            self.assertEqual(len(claims), 2, "the eleventh call claimed again")
            self.assertGreater(self.rate_row(key_id)[0], tat)
            # a slow key is counted call by call
            slow = self.restricted_key(rate_limit=600)
            slow_id = self.key_id(self.bot, slow)
            for _ in range(3):
                self.call("res.partner", "search_count", count, key=slow)
            self.assertEqual(claims[2:], [(slow_id, 1, 1)] * 3)


class TestOtherDoors(RestrictedKeyCase):
    @mute_logger(LOGGER, "odoo.addons.integration_suite.controllers.legacy_rpc")
    def test_legacy_doors(self):
        key = self.restricted_key(lines=[("res.partner", "r", "")])
        proxy = xmlrpc.client.ServerProxy(self.base_url() + "/xmlrpc/2/object", allow_none=True)
        db = self.env.cr.dbname
        self.assertEqual(proxy.execute_kw(db, self.bot.id, key, "res.partner", "search_count",
                                          [[["id", "=", self.partner.id]]]), 1)
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            proxy.execute_kw(db, self.bot.id, key, "res.partner", "write", [[self.partner.id], {"ref": "legacy"}])
        self.assertIn("may not write res.partner", caught.exception.faultString)
        with self.assertRaises(xmlrpc.client.Fault):
            proxy.execute(db, self.bot.id, key, "res.users", "search", [])
        with self.assertRaises(xmlrpc.client.Fault) as caught:  # positional arguments are checked like named ones
            proxy.execute_kw(db, self.bot.id, key, "res.partner", "search", [[["user_ids.login", "=", "admin"]]])
        self.assertIn("would read res.users", caught.exception.faultString)
        self.assertNotEqual(self.partner.ref, "legacy")
        # the address restriction applies to the login too
        far = self.restricted_key(allowed_addresses="192.0.2.0/24")
        common = xmlrpc.client.ServerProxy(self.base_url() + "/xmlrpc/2/common")
        with self.assertRaises(xmlrpc.client.Fault):
            common.authenticate(db, self.bot.login, far, {})
        self.assertEqual(common.authenticate(db, self.bot.login, key, {}), self.bot.id)
        # restrictions added to a key in use apply to its next legacy call
        plain = self.make_key(self.bot)
        self.assertEqual(proxy.execute_kw(db, self.bot.id, plain, "res.users", "search_count", [[]]),
                         self.env["res.users"].with_user(self.bot).search_count([]))
        self.Policy.create({"key_id": self.key_id(self.bot, plain), "read_only": True})
        with self.assertRaises(xmlrpc.client.Fault):
            proxy.execute_kw(db, self.bot.id, plain, "res.partner", "write", [[self.partner.id], {"ref": "x"}])
        # a password is not a key: nothing changes for it
        self.assertEqual(proxy.execute_kw(db, self.bot.id, "restricted_bot", "res.users", "search_count", [[]]),
                         self.env["res.users"].with_user(self.bot).search_count([]))

    @mute_logger(LOGGER, "odoo.addons.integration_suite.models.base_automation")
    def test_incoming_webhook_in_api_key_mode(self):
        rule = make_webhook_rule(self.env, webhook_auth_mode="api_key")
        url = f"/web/hook/{rule.webhook_uuid}"

        def hook(key, **headers):
            return self.post(url, {"_id": self.partner.id, "_model": "res.partner"},
                             headers={"Authorization": f"Bearer {key}", **headers})

        reader = self.restricted_key(read_only=True)
        self.assertEqual(hook(reader).status_code, 403)
        wrong_model = self.restricted_key(lines=[("res.country", "rw", "")])
        self.assertEqual(hook(wrong_model).status_code, 403)
        reads_partners = self.restricted_key(lines=[("res.partner", "r", "")])
        self.assertEqual(hook(reads_partners).status_code, 403)
        far = self.restricted_key(allowed_addresses="192.0.2.1")
        self.assertEqual(hook(far).status_code, 403)
        limited = self.restricted_key(lines=[("res.partner", "w", "")], rate_limit=1)
        first, second = hook(limited), hook(limited)
        self.assertEqual(first.status_code, 200, first.text)
        self.assertIn("RateLimit", first.headers)
        self.assertEqual(second.status_code, 429)
        self.assertIn("Retry-After", second.headers)
        self.assertIn("RateLimit-Policy", second.headers)
        calls = self.env["integration.webhook.call"].search([("rule_id", "=", rule.id)])
        self.assertEqual(sorted(calls.mapped("http_status")), [200, 403, 403, 403, 403, 429])

    @mute_logger(LOGGER)
    def test_doc_lists_only_what_the_key_may_call(self):
        key = self.restricted_key(lines=[("res.partner", "r", "message_subscribe")])
        index = requests.get(self.base_url() + "/doc-bearer/index.json",
                             headers={"Authorization": f"Bearer {key}"}, timeout=60).json()
        [partner] = index["models"]
        self.assertEqual(partner["model"], "res.partner")
        self.assertIn("search_read", partner["methods"])
        self.assertIn("message_subscribe", partner["methods"])
        self.assertNotIn("write", partner["methods"])
        self.assertNotIn("unlink", partner["methods"])
        openapi = requests.get(self.base_url() + "/doc-bearer/openapi.json",
                               headers={"Authorization": f"Bearer {key}"}, timeout=60).json()
        self.assertTrue(openapi["paths"])
        self.assertTrue(all(path.startswith("/json/2/res.partner/") for path in openapi["paths"]))
        self.assertNotIn("/json/2/res.partner/write", openapi["paths"])
        other = requests.get(self.base_url() + "/doc-bearer/res.users.json",
                             headers={"Authorization": f"Bearer {key}"}, timeout=60)
        self.assertEqual(other.status_code, 403)
        # an unrestricted key of the same user still sees everything its user may read
        full = requests.get(self.base_url() + "/doc-bearer/index.json",
                            headers={"Authorization": f"Bearer {self.make_key(self.bot)}"}, timeout=60).json()
        self.assertGreater(len(full["models"]), 1)

    @mute_logger(LOGGER, "odoo.http")
    def test_metrics(self):
        self.bot.write({series.GROUPS_FIELD: [Command.link(self.env.ref("integration_suite.group_metrics").id)]})

        def scrape(key):
            return requests.get(self.base_url() + "/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=60)

        self.assertEqual(scrape(self.restricted_key(read_only=True, allowed_addresses="127.0.0.1")).status_code, 200)
        self.assertEqual(scrape(self.restricted_key(lines=[("res.partner", "r", "")])).status_code, 403)
        self.assertEqual(scrape(self.restricted_key(allowed_addresses="192.0.2.1")).status_code, 403)


class TestLastUse(RestrictedKeyCase):
    def test_last_use_per_door_in_batches(self):
        Usage = self.env["integration.api.usage"]
        key = self.make_key(self.bot)
        key_record = self.env["res.users.apikeys"].browse(self.key_id(self.bot, key))
        self.env["integration.legacy.client"]._flush_traffic()
        self.assertFalse(key_record.integration_last_used)
        for _ in range(3):
            self.call("res.partner", "search_count", {"domain": []}, key=key)
        xmlrpc.client.ServerProxy(self.base_url() + "/xmlrpc/2/object").execute_kw(
            self.env.cr.dbname, self.bot.id, key, "res.partner", "search_count", [[]])
        self.assertFalse(Usage.search([("api_key_id", "=", key_record.id)]), "nothing written per call")
        self.env["integration.legacy.client"]._flush_traffic()
        key_record.invalidate_recordset()
        self.assertEqual(key_record.integration_usage, "JSON/2 3 · XML-RPC 1")
        self.assertEqual(key_record.integration_last_address, "127.0.0.1")
        self.assertGreater(key_record.integration_last_used, fields.Datetime.now() - timedelta(minutes=5))
        # the migration figure still counts per user and door
        self.assertEqual(sum(Usage.search([("user_id", "=", self.bot.id), ("door", "=", "json2")])
                             .mapped("call_count")), 3)

    def test_unused_keys_are_listed(self):
        Keys = self.env["res.users.apikeys"]
        used, idle = self.make_key(self.bot), self.make_key(self.bot)
        used_id, idle_id = self.key_id(self.bot, used), self.key_id(self.bot, idle)
        self.env.cr.execute("UPDATE res_users_apikeys SET create_date = now() - interval '200 days' WHERE id IN %s",
                            [(used_id, idle_id)])
        self.call("res.partner", "search_count", {"domain": []}, key=used)
        self.env["integration.legacy.client"]._flush_traffic()
        unused = Keys.search([("integration_unused", "=", True)])
        self.assertIn(idle_id, unused.ids)
        self.assertNotIn(used_id, unused.ids)
        self.env["ir.config_parameter"].set_param("integration_suite.apikey_unused_days", "365")
        self.assertNotIn(idle_id, Keys.search([("integration_unused", "=", True)]).ids)

    def test_an_expiring_key_tells_its_owner_once(self):
        soon = fields.Datetime.now() + timedelta(days=3)
        self.make_key(self.bot, expiration=soon)
        later = self.make_key(self.bot, expiration=fields.Datetime.now() + timedelta(days=30))
        self.Policy._remind_expiring_keys()
        self.Policy._remind_expiring_keys()
        activities = self.env["mail.activity"].search([("res_model", "=", "integration.apikey.policy"),
                                                       ("user_id", "=", self.bot.id)])
        self.assertEqual(len(activities), 1)
        self.assertIn("expires", activities.summary)
        self.assertFalse(self.Policy.search([("key_id", "=", self.key_id(self.bot, later))]))
        self.assertFalse(activities.res_id and self.Policy.browse(activities.res_id).restricted,
                         "a reminder does not restrict the key")
        # the owner can open the reminder's record
        self.Policy.browse(activities.res_id).with_user(self.bot).read(["name", "expiration_date"])


class TestCreation(RestrictedKeyCase):
    def make_key_as(self, user, **values):
        """The owner's *New API Key* wizard, its identity checked a minute ago (18.0's ``check_identity``)."""
        wizard = self.env["res.users.apikeys.description"].with_user(user).create({"name": "wizard key",
                                                                                  "duration": "7", **values})
        checked = SimpleNamespace(session={"identity-check-last": time.time() - 60},
                                  httprequest=SimpleNamespace(environ={"REMOTE_ADDR": "127.0.0.1"}))
        with mock.patch("odoo.addons.base.models.res_users.request", checked):
            action = wizard.make_key()
        return action["context"]["default_key"]

    def test_the_owner_restricts_the_key_when_creating_it(self):
        key = self.make_key_as(
            self.bot, integration_model_ids=[fields.Command.set([self.env.ref("base.model_res_partner").id])],
            integration_model_access="write", integration_allowed_addresses="127.0.0.1, 10.0.0.0/8",
            integration_rate_limit=120)
        policy = self.Policy.search([("key_id", "=", self.key_id(self.bot, key))])
        self.assertEqual(policy.line_ids.model_name, "res.partner")
        self.assertEqual(policy.line_ids.read(["perm_read", "perm_write", "perm_create", "perm_unlink"])[0],
                         {"id": policy.line_ids.id, "perm_read": True, "perm_write": True, "perm_create": False,
                          "perm_unlink": False})
        self.assertEqual(policy.summary, "res.partner · 127.0.0.1 10.0.0.0/8 · 120/min")
        key_record = self.env["res.users.apikeys"].browse(policy.key_id.id)
        self.assertEqual(key_record.integration_restrictions, policy.summary)
        self.assertEqual(self.call("res.partner", "search_count", {"domain": []}, key=key).status_code, 200)
        with mute_logger(LOGGER):
            self.assertEqual(self.call("res.users", "search_count", {"domain": []}, key=key).status_code, 403)

    def test_read_only_wins_over_the_model_access(self):
        key = self.make_key_as(
            self.bot, integration_read_only=True, integration_model_access="full",
            integration_model_ids=[fields.Command.set([self.env.ref("base.model_res_partner").id])])
        policy = self.Policy.search([("key_id", "=", self.key_id(self.bot, key))])
        self.assertTrue(policy.read_only)
        self.assertFalse(policy.line_ids.perm_write)

    def test_without_restrictions_no_record(self):
        key = self.make_key_as(self.bot)
        self.assertFalse(self.Policy.search([("key_id", "=", self.key_id(self.bot, key))]))

    def test_wrong_addresses_are_refused(self):
        with self.assertRaises(ValidationError):
            self.env["res.users.apikeys.description"].with_user(self.bot).create({
                "name": "bad", "duration": "7", "integration_allowed_addresses": "300.1.2.3"})


@tagged("post_install", "-at_install")
class TestRestrictedKeyTour(RestrictedKeyCase):
    def test_the_owner_creates_a_restricted_key_in_the_browser(self):
        self.start_tour("/odoo?debug=1", "integration_suite_restricted_key_tour", login="admin")
        key = self.env["res.users.apikeys"].search([("name", "=", "tour dashboard"), ("user_id", "=", self.admin.id)])
        policy = key.integration_policy_id
        self.assertTrue(policy.read_only)
        self.assertEqual(policy.line_ids.model_name, "res.partner")
        self.assertEqual((policy.allowed_addresses, policy.rate_limit), ("127.0.0.1, ::1", 120))
        self.assertEqual(key.integration_restrictions, "read-only · res.partner · 127.0.0.1 ::1 · 120/min")
