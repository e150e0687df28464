"""Helpers shared by the HTTP tests: real requests against the test server."""
import importlib
import json
from contextlib import contextmanager
from unittest import SkipTest

import requests

from odoo.tests import HttpCase, new_test_user

from .. import series

# an action that counts its runs in the record's ``ref``
COUNT_RUNS = "record.write({'ref': str(int(record.ref or 0) + 1)})"


def make_webhook_rule(env, *codes, **values):
    """An "On webhook" rule on partners running the code actions ``codes`` (default: COUNT_RUNS) in order."""
    model = env.ref("base.model_res_partner")
    rule = env["base.automation"].create({"name": "Incoming", "model_id": model.id, "trigger": "on_webhook", **values})
    for sequence, code in enumerate(codes or (COUNT_RUNS,)):
        env["ir.actions.server"].create({
            "name": f"action {sequence}", "model_id": model.id, "state": "code", "code": code, "sequence": sequence,
            "base_automation_id": rule.id, "usage": "base_automation",
        })
    return rule


def require_test_tool(module, distribution):
    """The test-only library ``module`` (``distribution`` in test-requirements.txt), else SkipTest.

    Someone else's ``odoo --test-enable`` run (Odoo.sh, runbot, a customer's CI) installs the
    addon's requirements.txt only: the tests that need a test tool skip there, naming it.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise SkipTest(f"needs the test tool {distribution} (test-requirements.txt)") from None


def http_server():
    """pytest-httpserver's ``HTTPServer`` on 127.0.0.1, not started."""
    return require_test_tool("pytest_httpserver", "pytest-httpserver").HTTPServer(host="127.0.0.1", threaded=True)


def start_receiver(case_class):
    """A real HTTP receiver on 127.0.0.1 for a test class, with the SSRF guard open to loopback."""
    receiver = http_server()
    receiver.start()
    case_class.addClassCleanup(receiver.stop)
    case_class.env["ir.config_parameter"].set_param("integration_suite.webhook_allow_private", "True")
    return receiver


class PlainRequestsCase(HttpCase):
    """An HTTP test case whose tests call the server with plain clients (``requests``, xmlrpc, a
    receiver's callbacks), as integrations do.

    19.0's test server serves only requests that carry the test's cookie, and only while the test
    releases its registry lock (``allow_requests``, around each of its own opener's requests): here
    the whole test allows every request, and the inner ``allow_requests`` of the opener and the
    tours are no-ops (releasing the lock twice would leave it held for the rest of the test).
    """

    def setUp(self):
        super().setUp()
        if series.V19:
            requests_allowed = super().allow_requests(all_requests=True)
            requests_allowed.__enter__()
            self._integration_requests_allowed = True
            self.addCleanup(requests_allowed.__exit__, None, None, None)
            self.addCleanup(setattr, self, "_integration_requests_allowed", False)

    @contextmanager
    def allow_requests(self, browser=None, all_requests=False):
        if getattr(self, "_integration_requests_allowed", False):
            yield
            return
        with super().allow_requests(browser=browser, all_requests=all_requests):
            yield


class IntegrationHttpCase(PlainRequestsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = cls.env.ref("base.user_admin")
        cls.admin_key = cls.make_key(cls.admin)
        # an internal user who may read /doc-bearer (18.0: every internal user; 19.0: api_doc's group)
        cls.user = new_test_user(cls.env, login="json2_user", groups=f"base.group_user,{series.DOC_GROUP}")
        cls.user_key = cls.make_key(cls.user)

    @classmethod
    def make_key(cls, user, scope=None, expiration=None):
        return cls.env["res.users.apikeys"].with_user(user).sudo()._generate(scope, "test", expiration)

    def post(self, path, body=None, key=None, headers=None, raw=None, session=None):
        """POST ``body`` as JSON (or ``raw`` bytes) without any cookie unless ``session``."""
        sent = {"Content-Type": "application/json"}
        if key:
            sent["Authorization"] = f"bearer {key}"
        sent.update(headers or {})
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return (session or requests.Session()).post(
            self.base_url() + path, data=data, headers=sent, timeout=60, allow_redirects=False
        )

    def call(self, model, method, body=None, key=None, **kwargs):
        return self.post(f"/json/2/{model}/{method}", body, key=key or self.admin_key, **kwargs)

    def assertDoorError(self, response, status, name=None, message=None):
        """``assertError`` on 18.0; on 19.0 the status alone: 19.0's own door answers some errors
        raised before it (database selection, content type) with werkzeug's HTML page."""
        if series.V19:
            self.assertEqual(response.status_code, status, response.text)
            return None
        return self.assertError(response, status, name, message)

    def assertError(self, response, status, name=None, message=None):
        self.assertEqual(response.status_code, status, response.text)
        self.assertEqual(response.headers["Content-Type"], "application/json; charset=utf-8")
        body = response.json()
        self.assertEqual(list(body), ["name", "message", "arguments", "context", "debug"])
        if name:
            self.assertEqual(body["name"], name)
        if message:
            self.assertIn(message, body["message"])
        return body
