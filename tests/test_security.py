"""The holes an outside audit found (issue 10), each closed and kept closed over real HTTP."""
import inspect
import json
import socket
import uuid
import xmlrpc.client
from unittest import skipIf

import requests

from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .. import dispatch, series
from .common import COUNT_RUNS, IntegrationHttpCase, make_webhook_rule

ADDON = "integration_suite"

# arguments that make each parameter name a plausible call (anything else gets None)
ARGUMENTS = {
    "vals": {"name": "changed by an audit"},
    "vals_list": [{"name": "created by an audit"}],
    "values": {"name": "changed by an audit"},
}

# the tables whose content a refused call must leave as it was
WATCHED_TABLES = (
    "base_automation", "ir_act_server", "res_users", "res_users_apikeys", "integration_webhook_endpoint",
    "integration_webhook_delivery", "integration_webhook_call", "integration_webhook_key",
)


def addon_public_methods(env):
    """``{model: [method, ...]}`` of every remotely callable method the addon adds or overrides."""
    found = {}
    for name in sorted(env.registry):
        model = env[name]
        own = {
            attr for klass in type(model).mro() if getattr(klass, "_module", None) == ADDON
            for attr in klass.__dict__
        }
        methods = sorted(own & set(dispatch.public_method_names(model)))
        if methods:
            found[name] = methods
    return found


def _call_body(env, model_name, method, ids):
    func = dispatch.get_public_method(env[model_name], method)
    body = {} if dispatch.is_model_method(func) else {"ids": ids}
    for index, (pname, param) in enumerate(inspect.signature(func).parameters.items()):
        if index == 0 or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or param.default is not param.empty:
            continue
        body[pname] = ARGUMENTS.get(pname)
    return body


@tagged("post_install", "-at_install")
class TestRemoteMethodsCheckRights(IntegrationHttpCase):
    """Every public method of the addon, called by a portal user and a plain user, is refused."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal = new_test_user(cls.env, login="audit_portal", groups="base.group_portal")
        cls.portal_key = cls.make_key(cls.portal)
        cls.rule = make_webhook_rule(cls.env, COUNT_RUNS, webhook_auth_mode="standard_webhooks",
                                     webhook_secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")

    def _fingerprint(self):
        self.env.flush_all()
        prints = {}
        for table in WATCHED_TABLES:
            self.env.cr.execute(f"SELECT md5(coalesce(string_agg(t::text, ',' ORDER BY t.id), '')) FROM {table} t")
            prints[table] = self.env.cr.fetchone()[0]
        return prints

    def _existing_ids(self, model_name):
        """A record the callers must not touch (the admin's, or any), else a made-up id."""
        model = self.env[model_name].sudo().with_context(active_test=False)
        if model._abstract:
            return [1]
        domain = [("user_id", "=", self.admin.id)] if "user_id" in model._fields else []
        record = model.search(domain, limit=1) or model.search([], limit=1)
        return record.ids or [1]

    def test_every_public_method_is_refused(self):
        methods = addon_public_methods(self.env)
        # the audit's finding and the other buttons must be in the list: the walk really finds them
        self.assertIn("action_new_webhook_secret", methods["base.automation"])
        self.assertIn("action_rotate_secret", methods["integration.webhook.endpoint"])
        before = self._fingerprint()
        answers = {}
        for model_name, names in methods.items():
            ids = self._existing_ids(model_name)
            for method in names:
                body = _call_body(self.env, model_name, method, ids)
                for who, key in (("portal", self.portal_key), ("user", self.user_key)):
                    with mute_logger("odoo.http", "odoo.addons.base.models.ir_model", "odoo.models"):
                        res = self.call(model_name, method, body, key=key)
                    answers[f"{who} {model_name}.{method}"] = res.status_code
        refused = {name: status for name, status in answers.items() if status in (403, 404)}
        self.assertEqual({name: status for name, status in answers.items() if name not in refused}, {},
                         "calls that were not refused with 403/404")
        self.assertEqual(self._fingerprint(), before, "a refused call changed the database")
        # a missing id is refused the same way as an existing one: rules cannot be enumerated
        missing = self.call("base.automation", "action_new_webhook_secret", {"ids": [2 ** 31 - 2]},
                            key=self.user_key)
        self.assertEqual(missing.status_code, 403, missing.text)

    def test_secret_minting_is_refused_on_every_door(self):
        secret_before = self.rule.webhook_secret
        rpc = requests.post(f"{self.base_url()}/jsonrpc", json={
            "jsonrpc": "2.0", "method": "call", "id": 1, "params": {
                "service": "object", "method": "execute_kw",
                "args": [self.env.cr.dbname, self.portal.id, self.portal_key, "base.automation",
                         "action_new_webhook_secret", [[self.rule.id]]]}}, timeout=60)
        self.assertIn("error", rpc.json(), rpc.text)
        self.assertNotIn("whsec_", rpc.text)
        self.authenticate("audit_portal", "audit_portal")
        with mute_logger("odoo.http"):
            web = self.url_open("/web/dataset/call_kw/base.automation/action_new_webhook_secret", data=json.dumps({
                "jsonrpc": "2.0", "method": "call", "id": 1, "params": {
                    "model": "base.automation", "method": "action_new_webhook_secret",
                    "args": [[self.rule.id]], "kwargs": {}}}), headers={"Content-Type": "application/json"})
        self.assertIn("AccessError", web.text)
        self.assertNotIn("whsec_", web.text)
        self.rule.invalidate_recordset()
        self.assertEqual(self.rule.webhook_secret, secret_before)
        # administrators still can
        res = self.call("base.automation", "action_new_webhook_secret", {"ids": [self.rule.id]})
        self.assertEqual(res.status_code, 200, res.text)
        self.assertIn("whsec_", res.json()["params"]["message"])


@tagged("post_install", "-at_install")
class TestChunkedBodies(IntegrationHttpCase):
    """A chunked body is read up to the door's cap, never to its end."""

    def _chunked(self, path, total, headers=None):
        sent = [0]
        chunk = b"x" * (1024 * 1024)

        def body():
            while sent[0] < total:
                sent[0] += len(chunk)
                yield chunk

        try:
            res = requests.post(self.base_url() + path, data=body(), timeout=120,
                                headers={"Content-Type": "application/json", **(headers or {})})
        except requests.ConnectionError:
            res = None  # the server stopped reading and closed: also a refusal
        return res, sent[0]

    def _assert_refused_early(self, path, cap, status, headers=None):
        total = cap + 32 * 1024 * 1024
        res, sent = self._chunked(path, total, headers)
        self.assertLess(sent, total, f"{path}: the whole {total} byte chunked body was read")
        if res is not None:
            self.assertEqual(res.status_code, status, res.text[:500])

    @skipIf(series.V19, "19.0's own JSON-2 door reads the whole body: the addon's cap is 18.0's door's")
    def test_json2_with_a_key_stops_at_the_cap(self):
        from ..controllers.json2 import MAX_BODY_SIZE  # noqa: PLC0415 - 18.0 only

        self._assert_refused_early("/json/2/res.partner/search", MAX_BODY_SIZE, 413,
                                   {"Authorization": f"bearer {self.admin_key}"})

    def test_json2_without_a_key_reads_nothing(self):
        self._assert_refused_early("/json/2/res.partner/search", 64 * 1024 * 1024, 401)

    def test_incoming_webhook_stops_at_the_rule_cap(self):
        rule = make_webhook_rule(self.env, COUNT_RUNS, webhook_max_body_size=1024)
        self._assert_refused_early(f"/web/hook/{rule.webhook_uuid}", 1024, 413)
        self._assert_refused_early(f"/web/hook/{uuid.uuid4()}", 1024, 404)
        self.assertEqual(self.env["integration.webhook.call"].search([("rule_id", "=", rule.id)]).http_status, 413)


@tagged("post_install", "-at_install")
class TestBrokenFraming(IntegrationHttpCase):
    """A chunked body whose chunk size is not hexadecimal is the client's error: every door answers
    400 in its own error shape and nothing is logged as an error (18.0: a 500 and a traceback)."""

    def _send(self, path, headers=()):
        host, port = self.base_url().split("//")[1].split(":")
        head = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", "Content-Type: application/json",
                "Transfer-Encoding: chunked", "Connection: close", *headers]
        with socket.create_connection((host, int(port)), timeout=60) as sock:
            sock.sendall(("\r\n".join(head) + "\r\n\r\nzz\r\n{}\r\n0\r\n\r\n").encode())
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        status_line, _, rest = answer.partition(b"\r\n")
        return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]

    def test_every_door_answers_400_in_its_own_shape(self):
        rule = make_webhook_rule(self.env, COUNT_RUNS)
        key = (f"Authorization: bearer {self.admin_key}",)
        with self.assertNoLogs("odoo", "ERROR"):
            if not series.V19:  # 19.0's json2 routes read no chunked body (their methods see no argument)
                status, body = self._send("/json/2/res.partner/search_count", key)
                self.assertEqual(status, 400, body)
                self.assertEqual(json.loads(body)["name"], "werkzeug.exceptions.BadRequest")
                self.assertIn("malformed", json.loads(body)["message"])
                status, body = self._send("/doc-bearer/openapi.json", key)
                self.assertEqual((status, json.loads(body)["name"]), (400, "werkzeug.exceptions.BadRequest"), body)
            status, body = self._send(f"/web/hook/{rule.webhook_uuid}")
            self.assertEqual((status, json.loads(body)["status"]), (400, "error"), body)
            status, body = self._send("/xmlrpc/2/object")
            self.assertEqual(status, 400, body)
            with self.assertRaisesRegex(xmlrpc.client.Fault, "malformed"):
                xmlrpc.client.loads(body)
            status, body = self._send("/jsonrpc")
            self.assertEqual(status, 400, body)
            self.assertIn("malformed", json.loads(body)["error"]["data"]["message"])
        self.assertFalse(self.env["integration.webhook.call"].search([("rule_id", "=", rule.id)]), "nothing ran")


@tagged("post_install", "-at_install")
class TestIncomingEdges(IntegrationHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "Audit target"})
        cls.rule = make_webhook_rule(cls.env, COUNT_RUNS)

    def hook(self, path_uuid, data=b"", method="POST", headers=None):
        return requests.request(method, f"{self.base_url()}/web/hook/{path_uuid}", data=data, timeout=60,
                                headers={"Content-Type": "application/json", **(headers or {})})

    def payload(self, **extra):
        return json.dumps({"_model": "res.partner", "_id": self.partner.id, **extra}).encode()

    def runs(self):
        self.partner.invalidate_recordset()
        return int(self.partner.ref or 0)

    def calls(self):
        return self.env["integration.webhook.call"].search([("rule_id", "=", self.rule.id)], order="id")

    def assertJson(self, response, status):
        self.assertEqual(response.status_code, status, response.text[:300])
        self.assertEqual(response.headers["Content-Type"], "application/json; charset=utf-8")
        self.assertTrue(response.headers.get("X-Request-Id"))
        return response.json()

    def test_archived_rule_is_404_and_runs_nothing(self):
        self.assertEqual(self.hook(self.rule.webhook_uuid, self.payload()).status_code, 200)
        self.rule.active = False
        self.assertEqual(self.assertJson(self.hook(self.rule.webhook_uuid, self.payload()), 404), {"status": "error"})
        self.assertEqual(self.runs(), 1, "the archived rule ran")

    def test_lone_surrogate_is_a_logged_400(self):
        response = self.hook(self.rule.webhook_uuid, b'{"_model": "res.partner", "_id": %d, "note": "\\ud800"}'
                             % self.partner.id)
        body = self.assertJson(response, 400)
        self.assertIn("Unicode", body["error"])
        call = self.calls()[-1:]
        self.assertEqual((call.http_status, call.state, call.request_id),
                         (400, "rejected", response.headers["X-Request-Id"]))
        self.assertEqual(self.runs(), 0)

    def test_logged_headers_are_capped(self):
        headers = {f"X-Pad-{index}": "v" * 700 for index in range(85)}
        headers["X-Huge"] = "h" * 50_000
        with mute_logger("odoo.addons.integration_suite.models.base_automation"):
            self.hook(self.rule.webhook_uuid, b"not json", headers=headers)
        logged = json.loads(self.calls()[-1:].headers)
        self.assertLessEqual(len(logged), 51)
        self.assertIn("more headers not logged", logged["..."])
        self.assertLess(len(json.dumps(logged)), 64 * 1024)

    def test_refused_verbs_get_json_405_with_an_honest_allow(self):
        for verb in ("PUT", "PATCH", "DELETE", "TRACE", "PROPFIND", "BREW"):
            response = self.hook(self.rule.webhook_uuid, method=verb)
            self.assertEqual(self.assertJson(response, 405)["error"], "method not allowed", verb)
            allowed = [item.strip() for item in response.headers["Allow"].split(",")]
            for method in allowed:  # every verb Allow names is one the door accepts
                self.assertNotEqual(self.hook(self.rule.webhook_uuid, self.payload(), method=method).status_code,
                                    405, method)
        self.assertNotIn(405, self.calls().mapped("http_status"), "refused verbs run nothing and log nothing")

    def test_malformed_uuids_are_404(self):
        for path_uuid in ("%00abc", "a" * 5000, "..%2F..%2Fetc", "%C0%AF", "x y"):
            response = self.hook(path_uuid, self.payload())
            self.assertEqual((path_uuid[:10], response.status_code), (path_uuid[:10], 404))
            self.assertJson(response, 404)
        self.assertEqual(self.runs(), 0)


@tagged("post_install", "-at_install")
class TestDocBearerEdges(IntegrationHttpCase):
    def get(self, path, key):
        return requests.get(self.base_url() + path, timeout=300, headers={"Authorization": f"bearer {key}"})

    def test_index_lists_only_fields_the_user_may_read(self):
        index = self.get("/doc-bearer/index.json", self.user_key).json()
        hidden = {}
        for entry in index["models"]:
            readable = self.env[entry["model"]].with_user(self.user).fields_get(attributes=["type"])
            extra = set(entry["fields"]) - set(readable)
            if extra:
                hidden[entry["model"]] = sorted(extra)
        self.assertEqual(hidden, {}, "fields listed that the user's fields_get hides")
        users = next(entry for entry in index["models"] if entry["model"] == "res.users")
        restricted = [name for name, field in self.env["res.users"]._fields.items()
                      if not series.field_readable(self.env["res.users"].with_user(self.user), field)]
        self.assertTrue(restricted, "res.users has fields a plain user may not read (groups)")
        self.assertFalse(set(restricted) & set(users["fields"]))

    def test_every_readable_model_is_described_for_a_user_and_an_administrator(self):
        from ..dispatch import introspection

        for user in (self.user, self.admin):
            env = self.env(user=user)
            failures = {}
            for model in introspection.readable_models(env):
                try:
                    introspection.model_description(model)
                except Exception as exc:  # noqa: BLE001 - collected and reported below
                    failures[model._name] = repr(exc)
            self.assertEqual(failures, {}, user.login)
        for key in (self.user_key, self.admin_key):
            res = self.get("/doc-bearer/res.users.json", key)
            self.assertEqual(res.status_code, 200, res.text[:300])

    def test_openapi_is_rendered_once_per_groups(self):
        from unittest import mock

        from ..dispatch import introspection

        self.env["ir.http"]._doc_cache().clear()
        with mock.patch.object(introspection, "openapi_document", wraps=introspection.openapi_document) as build:
            first = self.get("/doc-bearer/openapi.json", self.user_key)
            second = self.get("/doc-bearer/openapi.json", self.user_key)
            self.assertEqual(build.call_count, 1, "the second call was served from the cache")
            admin = self.get("/doc-bearer/openapi.json", self.admin_key)
            self.assertEqual(build.call_count, 2, "other groups, other document")
        self.assertEqual(first.content, second.content)
        self.assertIn("/json/2/res.partner/search_read", first.json()["paths"])
        self.assertNotIn("/json/2/ir.config_parameter/get_param", first.json()["paths"])
        self.assertIn("/json/2/ir.config_parameter/get_param", admin.json()["paths"])


# what PostgreSQL raises on a concurrent update under REPEATABLE READ; Odoo retries the request
SERIALIZATION_FAILURE = "DO $$BEGIN RAISE EXCEPTION 'concurrent update' USING ERRCODE = 'serialization_failure'; END$$"


@tagged("post_install", "-at_install")
class TestRetriedRequests(IntegrationHttpCase):
    def test_a_call_retried_after_a_concurrency_error_keeps_its_body(self):
        """18.0 retries a request whose transaction hit a serialization failure: the body read
        by the first attempt must still be there for the second (it was read from the socket)."""
        from unittest import mock

        from ..models.base_automation import BaseAutomation

        partner = self.env["res.partner"].create({"name": "Retried"})
        rule = make_webhook_rule(self.env, COUNT_RUNS)
        original = BaseAutomation._webhook_execute
        attempts = []

        def flaky(rule, payload, user=None):
            attempts.append(payload)
            if len(attempts) == 1:
                rule.env.cr.execute(SERIALIZATION_FAILURE)
            return original(rule, payload, user)

        with mock.patch.object(BaseAutomation, "_webhook_execute", flaky), \
                mute_logger("odoo.service.model", "odoo.sql_db"):
            response = requests.post(f"{self.base_url()}/web/hook/{rule.webhook_uuid}", timeout=60,
                                     json={"_model": "res.partner", "_id": partner.id})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(len(attempts), 2)
        self.assertEqual(attempts[1], {"_model": "res.partner", "_id": partner.id})
        partner.invalidate_recordset()
        self.assertEqual(partner.ref, "1")

    @skipIf(series.V19, "the addon's JSON/2 dispatcher of 18.0; an unrestricted key's call is 19.0's own there")
    def test_a_json2_call_retried_after_a_concurrency_error_keeps_its_body(self):
        from unittest import mock

        from ..dispatch import methods

        original = methods.call
        bodies = []

        def flaky(env, model_name, method_name, ids=(), kwargs=None, context=None, **options):
            bodies.append(kwargs)
            if len(bodies) == 1:
                env.cr.execute(SERIALIZATION_FAILURE)
            return original(env, model_name, method_name, ids=ids, kwargs=kwargs, context=context, **options)

        with mock.patch.object(dispatch, "call", flaky), mute_logger("odoo.service.model", "odoo.sql_db"):
            res = self.call("res.partner", "search_count", {"domain": [["id", "=", self.admin.partner_id.id]]})
        self.assertEqual(res.status_code, 200, res.text)
        self.assertEqual(res.json(), 1)
        self.assertEqual(bodies[0], bodies[1])
