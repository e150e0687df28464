"""The legacy doors over real HTTP: inventory, deprecation headers, JSON/2 equivalents, retirement."""
import json
import os
import subprocess
import xmlrpc.client
from datetime import date, timedelta
from unittest import mock

import requests

from odoo.exceptions import AccessError
from odoo.service.common import RPC_VERSION_1
from odoo.tests import tagged
from odoo.tools import json_default, mute_logger

from .. import series
from ..series.rpc import dumps as xmlrpc_dumps
from .common import IntegrationHttpCase, require_test_tool

UA = "legacy-inventory-test/1.0"


@tagged("post_install", "-at_install")
class LegacyApiCase(IntegrationHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].set_param("integration_suite.legacy_deprecation_date", "2025-10-01")
        cls.Client = cls.env["integration.legacy.client"]

    def setUp(self):
        super().setUp()
        # counts of earlier tests of this process are still in memory: written, then forgotten with the test
        self.Client._flush_traffic()
        self.Client.search([]).unlink()
        self.env["integration.api.usage"].search([]).unlink()

    def jsonrpc(self, service, method, *args, user_agent=UA):
        res = requests.post(self.base_url() + "/jsonrpc", json={
            "jsonrpc": "2.0", "method": "call", "id": 7,
            "params": {"service": service, "method": method, "args": list(args)},
        }, headers={"User-Agent": user_agent}, timeout=60)
        self.assertEqual(res.status_code, 200, res.text)
        return res

    def execute_kw(self, uid, secret, model, method, args, kwargs=None, **options):
        body = self.jsonrpc("object", "execute_kw", self.env.cr.dbname, uid, secret, model, method, args,
                            kwargs or {}, **options).json()
        if "error" in body:
            raise AssertionError(body["error"])
        return body["result"]

    def xmlrpc_proxy(self, door="/xmlrpc/2/object"):
        return xmlrpc.client.ServerProxy(self.base_url() + door, allow_none=True)

    def clients(self, **domain):
        self.Client._flush_traffic()
        return self.Client.search([(name, "=", value) for name, value in domain.items()])


class TestLegacyInventory(LegacyApiCase):
    def test_calls_are_counted_per_client_and_written_in_batches(self):
        db = self.env.cr.dbname
        self.execute_kw(self.admin.id, self.admin_key, "res.partner", "search_count", [[]])
        self.execute_kw(self.admin.id, self.admin_key, "res.partner", "search_count", [[["id", "<", 0]]])
        self.execute_kw(self.user.id, "json2_user", "res.partner", "read", [[self.admin.partner_id.id], ["name"]])
        self.xmlrpc_proxy().execute_kw(db, self.user.id, "json2_user", "res.partner", "search",
                                       [[["id", "=", self.admin.partner_id.id]]], {"limit": 1})
        self.assertEqual(self.Client.search_count([]), 0, "nothing is written per call")

        [key_client] = self.clients(user_id=self.admin.id)
        self.assertEqual(key_client.call_count, 2)
        self.assertEqual(key_client.error_count, 0)
        self.assertEqual((key_client.auth_kind, key_client.door, key_client.service, key_client.rpc_method),
                         ("apikey", "/jsonrpc", "object", "execute_kw"))
        self.assertTrue(key_client.api_key_id, "the API key used is named")
        self.assertEqual(key_client.api_key_id.user_id, self.admin)
        self.assertEqual((key_client.model_name, key_client.method, key_client.positional, key_client.keywords),
                         ("res.partner", "search_count", 1, ""))
        self.assertEqual(key_client.remote_addr, "127.0.0.1")
        self.assertEqual(key_client.user_agent, UA)
        self.assertLessEqual(key_client.first_seen, key_client.last_seen)
        self.assertEqual(json.loads(key_client.sample_args), {"args": [[["id", "<", 0]]], "kwargs": {}},
                         "the latest call's arguments are kept")
        self.assertFalse(key_client.password_auth)

        password_clients = self.clients(user_id=self.user.id)
        self.assertEqual(len(password_clients), 2, "one row per door and call shape")
        self.assertEqual(set(password_clients.mapped("auth_kind")), {"password"})
        self.assertTrue(all(password_clients.mapped("password_auth")))
        xml = password_clients.filtered(lambda c: c.door == "/xmlrpc/2")
        self.assertEqual((xml.method, xml.positional, xml.keywords), ("search", 1, "limit"))
        self.assertIn("Python-xmlrpc", xml.user_agent)
        self.assertIn("password", xml.json2_note)
        self.assertEqual(self.Client.search_count([("password_auth", "=", True)]), 2)

        # the daily usage the migration figure is computed from
        usage = self.env["integration.api.usage"].search([("day", "=", date.today())])
        self.assertEqual(sum(usage.filtered(lambda u: u.door == "jsonrpc").mapped("call_count")), 3)
        self.assertEqual(sum(usage.filtered(lambda u: u.door == "xmlrpc").mapped("call_count")), 1)
        self.call("res.partner", "search_count", {"domain": []})
        self.call("res.partner", "search_count", {"domain": []}, key=self.user_key)
        self.Client._flush_traffic()
        self.assertAlmostEqual(self.env["integration.api.usage"]._json2_share(), 100.0 * 2 / 6)

    def test_a_flush_adds_to_existing_rows(self):
        for _round in range(2):
            self.execute_kw(self.admin.id, self.admin_key, "res.partner", "search_count", [[]])
            self.Client._flush_traffic()
        self.assertEqual(self.clients(user_id=self.admin.id).call_count, 2)

    def test_failed_calls_count_as_errors_and_bad_credentials_not_at_all(self):
        with mute_logger("odoo.http"):
            body = self.jsonrpc("object", "execute_kw", self.env.cr.dbname, self.admin.id, self.admin_key,
                                "res.partner", "no_such_method", [[]]).json()
            self.assertIn("error", body)
            body = self.jsonrpc("object", "execute_kw", self.env.cr.dbname, self.admin.id, "wrong password",
                                "res.partner", "search_count", [[]]).json()
            self.assertEqual(body["error"]["data"]["name"], "odoo.exceptions.AccessDenied")
        [client] = self.clients(user_id=self.admin.id)
        self.assertEqual((client.method, client.call_count, client.error_count), ("no_such_method", 1, 1))

    def test_login_is_counted_without_keeping_the_password(self):
        uid = self.jsonrpc("common", "login", self.env.cr.dbname, "json2_user", "json2_user").json()["result"]
        self.assertEqual(uid, self.user.id)
        self.jsonrpc("common", "version")  # unauthenticated: not a client of anyone
        [client] = self.clients()
        self.assertEqual((client.user_id, client.service, client.rpc_method, client.auth_kind),
                         (self.user, "common", "login", "password"))
        self.assertFalse(client.sample_args)
        self.assertFalse(client.json2_curl)
        self.assertIn("context_get", client.json2_note)


class TestDeprecationHeaders(LegacyApiCase):
    def assertDeprecated(self, response, sunset=None):
        headers = response.headers
        self.assertEqual(headers["Deprecation"], "@1759276800")  # 2025-10-01T00:00:00Z
        self.assertIn('rel="deprecation"', headers["Link"])
        self.assertIn("migrating-from-xml-rpc-json-rpc", headers["Link"])
        if sunset:
            self.assertEqual(headers["Sunset"], sunset)
        else:
            self.assertNotIn("Sunset", headers)

    def test_bodies_are_unchanged_and_headers_added(self):
        body = xmlrpc.client.dumps((), "version").encode()
        for door in ("/xmlrpc/common", "/xmlrpc/2/common"):
            res = requests.post(self.base_url() + door, data=body, headers={"Content-Type": "text/xml"}, timeout=60)
            self.assertEqual(res.status_code, 200)
            self.assertEqual(res.content, xmlrpc_dumps((RPC_VERSION_1,)).encode())
            self.assertDeprecated(res)
        res = self.jsonrpc("common", "version")
        self.assertEqual(res.content, json.dumps({"jsonrpc": "2.0", "id": 7, "result": RPC_VERSION_1},
                                                 ensure_ascii=False, default=json_default).encode())
        self.assertDeprecated(res)

        self.env["ir.config_parameter"].set_param("integration_suite.legacy_sunset_date", "2026-12-31")
        res = self.jsonrpc("object", "execute_kw", self.env.cr.dbname, self.admin.id, self.admin_key,
                           "res.partner", "read", [[self.admin.partner_id.id], ["name"]])
        self.assertEqual(res.json()["result"], [{"id": self.admin.partner_id.id, "name": self.admin.partner_id.name}])
        self.assertDeprecated(res, sunset="Thu, 31 Dec 2026 00:00:00 GMT")
        # error answers carry them too: an XML-RPC fault and a JSON-RPC error
        with mute_logger("odoo.http"):
            res = self.jsonrpc("object", "execute_kw", self.env.cr.dbname, self.admin.id, "wrong", "res.partner",
                               "read", [[1]])
        self.assertEqual(res.json()["error"]["data"]["name"], "odoo.exceptions.AccessDenied")
        self.assertDeprecated(res, sunset="Thu, 31 Dec 2026 00:00:00 GMT")
        fault = xmlrpc.client.dumps((self.env.cr.dbname, self.admin.id, "wrong", "res.partner", "read", [[1]], {}),
                                    "execute_kw").encode()
        res = requests.post(self.base_url() + "/xmlrpc/2/object", data=fault, timeout=60)
        self.assertIn(b"<name>faultCode</name>", res.content)
        self.assertDeprecated(res, sunset="Thu, 31 Dec 2026 00:00:00 GMT")

    def test_clients_still_work(self):
        partner = self.admin.partner_id
        for protocol in ("xmlrpc", "jsonrpc"):
            connection = require_test_tool("odoolib", "odoo-client-lib").get_connection(
                hostname="127.0.0.1", port=int(self.base_url().rsplit(":", 1)[1]), protocol=protocol,
                database=self.env.cr.dbname, login="json2_user", password="json2_user")
            rows = connection.get_model("res.partner").search_read([("id", "=", partner.id)], ["name"])
            self.assertEqual(rows, [{"id": partner.id, "name": partner.name}])
        proxy = self.xmlrpc_proxy()
        self.assertEqual(proxy.execute_kw(self.env.cr.dbname, self.user.id, self.user_key, "res.partner",
                                          "name_search", [partner.name], {"limit": 1}),
                         [[partner.id, partner.display_name]])
        self.assertEqual(self.xmlrpc_proxy("/xmlrpc/2/common").version()["server_serie"], series.SERIES)


class TestJson2Equivalents(LegacyApiCase):
    """For real legacy calls, the JSON/2 call the screen generates gives the same result."""

    def setUp(self):
        super().setUp()
        Partner = self.env["res.partner"]
        self.a, self.b, self.c = (Partner.create({"name": f"Legacy Corp {name}", "is_company": name != "C",
                                                  "email": f"{name.lower()}@legacy.example.com"})
                                  for name in "ABC")
        self.env.flush_all()

    def state(self):
        self.env.invalidate_all()
        return [(p.name, p.email) for p in self.env["res.partner"].search([("name", "like", "Legacy Corp")],
                                                                          order="name")]

    def run_python(self, client):
        namespace = {}
        with mock.patch.dict(os.environ, {"ODOO_API_KEY": self.admin_key}):
            exec(compile(client.json2_python, "json2_python", "exec"), namespace)  # noqa: S102 - the generated snippet
        return namespace["result"]

    def run_curl(self, client):
        done = subprocess.run(["bash", "-c", client.json2_curl.split("\n", 1)[1]], capture_output=True, text=True,
                              env={**os.environ, "ODOO_API_KEY": self.admin_key}, timeout=60, check=True)
        return json.loads(done.stdout)

    def compare(self, method, args, kwargs=None, legacy=None, runner=None, check=None):
        """Run the legacy call, undo it, run the generated JSON/2 call: same answer, same effect."""
        kwargs = kwargs or {}
        self.env.flush_all()
        self.env.cr.execute("SAVEPOINT corpus")
        legacy_result = (legacy or self.execute_kw)(self.admin.id, self.admin_key, "res.partner", method, args,
                                                    kwargs)
        legacy_state = self.state()
        self.env.cr.execute("ROLLBACK TO SAVEPOINT corpus")
        self.env.invalidate_all()
        [client] = self.clients(method=method, positional=len(args), keywords=",".join(sorted(kwargs)))
        self.assertEqual(client.json2_path, f"/json/2/res.partner/{method}")
        json2_result = (runner or self.run_python)(client)
        self.assertEqual(self.state(), legacy_state, f"{method}: the same effect")
        (check or self.assertEqual)(json2_result, legacy_result)
        return client

    def test_corpus(self):
        domain = [["name", "like", "Legacy Corp"]]
        a, c = self.a.id, self.c.id
        corpus = [
            ("search_read", [domain, ["name", "is_company"]], {"order": "id"}),
            ("search_read", [], {"domain": domain, "fields": ["email"], "limit": 2, "order": "name desc",
                                 "context": {"lang": "en_US"}}),
            ("read", [[a, c], ["name", "email"]], {}),
            ("read", [[a]], {"fields": ["name"]}),
            ("write", [[a], {"name": "Legacy Corp A2"}], {}),
            ("unlink", [[c]], {}),
            ("name_search", ["Legacy Corp", [["is_company", "=", True]]], {"limit": 5}),
            ("read_group", [domain, ["is_company"], ["is_company"]], {"lazy": False}),
            ("fields_get", [["name", "email"]], {"attributes": ["string", "type"]}),
            ("search_count", [domain], {}),
        ]
        for method, args, kwargs in corpus:
            with self.subTest(method=method, args=args, kwargs=kwargs):
                self.compare(method, args, kwargs)

    def test_create_answers_a_list(self):
        client = self.compare("create", [{"name": "Legacy Corp New", "email": "new@legacy.example.com"}],
                              check=lambda json2, legacy: self.assertEqual(len(json2), 1) or self.assertIsInstance(
                                  legacy, int))
        self.assertIn("list of ids", client.json2_note)
        self.assertEqual(json.loads(client.json2_body)["vals_list"][0]["name"], "Legacy Corp New")

    def test_xmlrpc_and_curl(self):
        def over_xmlrpc(uid, secret, model, method, args, kwargs):
            return self.xmlrpc_proxy().execute_kw(self.env.cr.dbname, uid, secret, model, method, args, kwargs)

        self.compare("search_read", [[["name", "like", "Legacy Corp"]]], {"fields": ["name"], "order": "id"},
                     legacy=over_xmlrpc, runner=self.run_curl)
        self.compare("read", [[self.b.id], ["name", "create_date"]], legacy=over_xmlrpc)


class TestLegacyRetirement(LegacyApiCase):
    def retire(self, user, key=None, day=None):
        keys = self.env["res.users.apikeys"].sudo().search([("user_id", "=", user.id)], order="id")
        return self.env["integration.legacy.retirement"].create({
            "user_id": user.id, "api_key_id": keys[key].id if key is not None else False,
            "refused_from": day or date.today()})

    def legacy_search(self, secret, door="/xmlrpc/2/object", uid=None):
        return self.xmlrpc_proxy(door).execute_kw(self.env.cr.dbname, uid or self.user.id, secret, "res.partner",
                                                  "search_read", [[]], {"limit": 1, "fields": ["name"]})

    def test_retired_user_gets_protocol_errors_naming_json2(self):
        self.legacy_search("json2_user")
        self.retire(self.user)
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            self.legacy_search("json2_user")
        self.assertEqual(caught.exception.faultCode, 3)  # /xmlrpc/2's AccessDenied
        self.assertIn("/json/2/res.partner/search_read", caught.exception.faultString)
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            self.legacy_search(self.user_key, door="/xmlrpc/object")
        self.assertEqual(caught.exception.faultCode, "AccessDenied")  # /xmlrpc's string codes
        self.assertIn("/json/2/res.partner/search_read", caught.exception.faultString)
        error = self.jsonrpc("object", "execute_kw", self.env.cr.dbname, self.user.id, self.user_key,
                             "res.partner", "read", [[1]]).json()["error"]
        self.assertEqual(error["data"]["name"], "odoo.exceptions.AccessDenied")
        self.assertIn("/json/2/res.partner/read", error["data"]["message"])
        # a wrong password is still 18.0's plain refusal, and JSON/2 keeps working for the user
        with self.assertRaises(xmlrpc.client.Fault) as caught:
            self.legacy_search("wrong password")
        self.assertNotIn("json/2", caught.exception.faultString)
        self.assertEqual(self.call("res.partner", "search_count", {"domain": []}, key=self.user_key).status_code,
                         200)
        self.assertTrue(self.legacy_search(self.admin_key, uid=self.admin.id), "other users keep the legacy API")
        refused = self.clients(user_id=self.user.id).filtered("refused_count")
        self.assertEqual(sum(refused.mapped("refused_count")), 3)
        self.assertEqual(set(refused.mapped("refused_from")), {date.today()})

    def test_future_date_and_single_key(self):
        second_key = self.make_key(self.user)
        retirement = self.retire(self.user, day=date.today() + timedelta(days=1))
        self.assertTrue(self.legacy_search(self.user_key), "refused only from the given day")
        retirement.write({"refused_from": date.today(), "api_key_id": self.env["res.users.apikeys"].sudo().search(
            [("user_id", "=", self.user.id)], order="id", limit=1).id})
        with self.assertRaises(xmlrpc.client.Fault):
            self.legacy_search(self.user_key)
        self.assertTrue(self.legacy_search(second_key), "the user's other key keeps the legacy API")
        self.assertTrue(self.legacy_search("json2_user"), "and so does the password")

    def test_retire_from_the_client_screen(self):
        self.legacy_search(self.user_key)
        [client] = self.clients(user_id=self.user.id)
        client.action_retire_key()
        self.assertEqual(self.env["integration.legacy.retirement"].search([("user_id", "=", self.user.id)]).api_key_id,
                         client.api_key_id)
        client.action_retire_user()
        self.assertEqual(len(self.env["integration.legacy.retirement"].search([("user_id", "=", self.user.id)])), 2)
        with self.assertRaises(xmlrpc.client.Fault):
            self.legacy_search("json2_user")
        # only administrators see the screen or retire anyone
        with self.assertRaises(AccessError):
            client.with_user(self.user).action_retire_user()
