"""The Integrations dashboard (activity report), the self-explaining forms and the demo echo receiver."""
import json
import shutil
import subprocess
import time
from datetime import datetime, timedelta
from unittest import skipUnless

import requests

from odoo import fields
from odoo.tests import TransactionCase, new_test_user, tagged

from ..tools import webhook_delivery as wd
from ..tools.webhook_signatures import sign_standard_webhooks
from .common import IntegrationHttpCase, make_webhook_rule

ECHO = "/integration_suite/demo/echo"
HAS_SHELL_TOOLS = all(shutil.which(tool) for tool in ("bash", "curl", "openssl"))


def percentile_cont(values, fraction):
    """PostgreSQL's ``percentile_cont``: linear interpolation between the two nearest ranks."""
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def make_rule(env, **values):
    """An incoming webhook rule on partners whose action counts its runs in ``ref``."""
    return make_webhook_rule(env, **{"name": "Dashboard rule", **values})


@tagged("post_install", "-at_install")
class TestActivityReport(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Report = cls.env["integration.activity.report"]
        Endpoint = cls.env["integration.webhook.endpoint"]
        cls.fast = Endpoint.create({"name": "Fast", "url": "https://fast.example.com/hook"})
        cls.slow = Endpoint.create({"name": "Slow", "url": "https://slow.example.com/hook"})
        cls.rule = make_rule(cls.env)
        cls.fast_durations = [10.0, 12.0, 14.0, 16.0, 18.0, 200.0]
        states = ["delivered", "delivered", "delivered", "delivered", "failed", "dead"]
        cls.deliveries = cls.env["integration.webhook.delivery"].create([
            {"endpoint_id": cls.fast.id, "payload": "{}", "state": state, "duration_ms": duration}
            for state, duration in zip(states, cls.fast_durations, strict=True)
        ] + [
            {"endpoint_id": cls.slow.id, "payload": "{}", "state": "pending"},
            {"endpoint_id": cls.slow.id, "payload": "{}", "state": "cancelled"},
            {"endpoint_id": cls.slow.id, "payload": "{}", "state": "delivered", "duration_ms": 900.0},
        ])
        cls.calls = cls.env["integration.webhook.call"].create([
            {"rule_id": cls.rule.id, "request_id": f"dash-{state}", "state": state, "http_status": status,
             "duration_ms": duration}
            for state, status, duration in [("done", 200, 5.0), ("duplicate", 200, 3.0), ("rejected", 401, 1.0),
                                            ("failed", 500, 40.0), ("queued", 202, 2.0)]
        ])
        # two days apart, to check the per-day grouping of the graph
        cls.env.flush_all()
        old = datetime(2025, 3, 10, 12, 0)
        cls.env.cr.execute("UPDATE integration_webhook_delivery SET create_date = %s WHERE id IN %s",
                           [old, tuple(cls.deliveries[:2].ids)])

    def domain(self):
        return ["|", ("endpoint_id", "in", (self.fast | self.slow).ids), ("rule_id", "=", self.rule.id)]

    def test_rows_one_per_delivery_and_call(self):
        rows = self.Report.search(self.domain())
        self.assertEqual(len(rows), len(self.deliveries) + len(self.calls))
        self.assertEqual(len(rows.filtered(lambda row: row.kind == "outgoing")), 9)
        by_state = {(row.kind, row.state): row.outcome for row in rows}
        self.assertEqual(by_state[("outgoing", "delivered")], "done")
        self.assertEqual(by_state[("outgoing", "failed")], "error")
        self.assertEqual(by_state[("outgoing", "dead")], "error")
        self.assertEqual(by_state[("outgoing", "pending")], "pending")
        self.assertEqual(by_state[("outgoing", "cancelled")], "skipped")
        self.assertEqual(by_state[("incoming", "duplicate")], "done")
        self.assertEqual(by_state[("incoming", "rejected")], "error")
        self.assertEqual(by_state[("incoming", "queued")], "pending")
        call_row = rows.filtered(lambda row: row.kind == "incoming" and row.state == "rejected")
        self.assertEqual((call_row.rule_id, call_row.name, call_row.http_status), (self.rule, "Dashboard rule", 401))

    def test_failure_rate_and_p95_per_endpoint(self):
        groups = {
            name: (count, rate, p95, avg)
            for name, count, rate, p95, avg in self.Report._read_group(
                self.domain(), ["name"], ["nbr:sum", "failure_rate:avg", "latency_p95:p95", "duration_ms:avg"])
        }
        count, rate, p95, avg = groups["Fast"]
        self.assertEqual(count, 6)
        self.assertAlmostEqual(rate, 100 * 2 / 6)
        self.assertAlmostEqual(p95, percentile_cont(self.fast_durations, 0.95))
        self.assertAlmostEqual(p95, 154.5)  # neither the average nor the maximum
        self.assertAlmostEqual(avg, sum(self.fast_durations) / 6)
        # pending and cancelled deliveries count as events but not in the failure rate
        self.assertEqual(groups["Slow"][:3], (3, 0.0, 900.0))
        # rejected and failed calls are failures; duplicates succeeded; queued ones are left out
        self.assertAlmostEqual(groups["Dashboard rule"][1], 50.0)

    def test_per_day_and_outcome_for_the_graph(self):
        per_day = {
            (day.date(), outcome): count
            for day, outcome, count in self.Report.with_context(tz="UTC")._read_group(
                [("endpoint_id", "=", self.fast.id)], ["date:day", "outcome"], ["__count"])
        }
        today = self.deliveries[2].create_date.date()
        self.assertEqual(per_day, {
            (datetime(2025, 3, 10).date(), "done"): 2,
            (today, "done"): 2,
            (today, "error"): 2,
        })

    def test_p95_is_the_measure_the_views_ask_for(self):
        """Pivot and graph request ``<field>:<aggregator>`` from fields_get: p95 must come back."""
        description = self.Report.fields_get(["latency_p95", "failure_rate"], ["aggregator"])
        self.assertEqual(description["latency_p95"]["aggregator"], "p95")
        self.assertEqual(description["failure_rate"]["aggregator"], "avg")
        [group] = self.Report.read_group([("endpoint_id", "=", self.fast.id)], ["latency_p95"], [])
        self.assertAlmostEqual(group["latency_p95"], 154.5)
        with self.assertRaises(ValueError):
            self.Report._read_group([], [], ["name:p95"])

    def test_read_only_for_administrators_only(self):
        admin = self.env.ref("base.user_admin")
        self.assertTrue(self.Report.with_user(admin).has_access("read"))
        self.assertFalse(self.Report.with_user(admin).has_access("write"))
        user = new_test_user(self.env, login="dash_user", groups="base.group_user")
        self.assertFalse(self.Report.with_user(user).has_access("read"))


@tagged("post_install", "-at_install")
class TestSelfExplainingForms(TransactionCase):
    def test_rule_sample_payload_follows_the_schema(self):
        rule = make_rule(self.env, webhook_payload_schema=json.dumps({
            "type": "object",
            "properties": {
                "event": {"enum": ["order.paid", "order.refunded"]},
                "order": {"type": "object", "properties": {"id": {"type": "integer", "minimum": 7},
                                                           "at": {"type": "string", "format": "date-time"}}},
                "tags": {"type": "array", "items": {"type": "string", "examples": ["vip"]}},
            },
        }))
        self.assertEqual(json.loads(rule.webhook_sample_payload), {
            "event": "order.paid", "order": {"id": 7, "at": "2025-01-31T12:00:00Z"}, "tags": ["vip"]})

    def test_rule_sample_payload_without_schema_targets_a_record(self):
        rule = make_rule(self.env)
        sample = json.loads(rule.webhook_sample_payload)
        self.assertEqual(sample["_model"], "res.partner")
        self.assertTrue(self.env["res.partner"].browse(sample["_id"]).exists())
        self.assertFalse(self.env["base.automation"].new({"trigger": "on_create"}).webhook_curl_example)

    def test_curl_example_per_mode_never_shows_the_secret(self):
        secret = wd.new_secret()
        expected = {
            ("standard_webhooks", "github"): 'webhook-signature: v1,$SIG"',
            ("hmac", "github"): '-H "X-Hub-Signature-256: sha256=$SIG"',
            ("hmac", "shopify"): '-H "X-Shopify-Hmac-Sha256: $SIG"',
            ("hmac", "stripe"): '-H "Stripe-Signature: t=$TS,v1=$SIG"',
            ("api_key", "github"): '-H "Authorization: bearer $KEY"',
            ("url", "github"): '-H "Content-Type: application/json"',
        }
        rule = make_rule(self.env, webhook_secret=secret)
        for (mode, preset), header in expected.items():
            rule.write({"webhook_auth_mode": mode, "webhook_hmac_preset": preset})
            example = rule.webhook_curl_example
            self.assertIn(header, example, mode)
            self.assertIn(rule.url, example)
            self.assertNotIn(secret, example)
            self.assertNotIn(secret.removeprefix("whsec_"), example)
            if mode == "url":  # the secret URL is the credential: nothing to sign, no key
                self.assertNotIn("$SIG", example)
                self.assertNotIn("Authorization", example)
        rule.write({"webhook_auth_mode": "hmac", "webhook_hmac_preset": "custom", "webhook_hmac_header": "X-Sig",
                    "webhook_hmac_encoding": "base64", "webhook_hmac_algorithm": "sha512",
                    "webhook_dedupe_source": "idempotency_key"})
        self.assertIn("openssl dgst -sha512", rule.webhook_curl_example)
        self.assertIn('-H "X-Sig: $SIG"', rule.webhook_curl_example)
        self.assertIn("Idempotency-Key", rule.webhook_curl_example)

    def test_new_secret_is_added_first_and_shown_once(self):
        rule = make_rule(self.env, webhook_auth_mode="standard_webhooks", webhook_secret="whsec_old")
        action = rule.action_new_webhook_secret()
        new = action["params"]["message"]
        self.assertTrue(new.startswith("whsec_"))
        self.assertEqual(rule.webhook_secret, f"{new}\nwhsec_old")

    def test_endpoint_sample_payload_is_what_its_action_sends(self):
        partner = self.env["res.partner"].search([], limit=1)
        action = self.env["ir.actions.server"].create({
            "name": "Sample", "model_id": self.env.ref("base.model_res_partner").id, "state": "webhook",
            "webhook_url": "https://sample.example.com/in",
            "webhook_field_ids": [(6, 0, self.env["ir.model.fields"]._get("res.partner", "name").ids)],
        })
        endpoint = action.webhook_endpoint_id
        self.assertEqual(json.loads(endpoint.sample_payload), {
            "_model": "res.partner", "_id": partner.id, "_action": f"Sample(#{action.id})",
            "id": partner.id, "name": partner.name})
        endpoint.payload_format = "standard"
        sample = json.loads(endpoint.sample_payload)
        self.assertEqual((sample["type"], sample["data"]["_id"]), ("res.partner.Sample", partner.id))
        bare = self.env["integration.webhook.endpoint"].create({"name": "Bare", "url": "https://b.example.com"})
        self.assertEqual(json.loads(bare.sample_payload)["_action"], "test")

    def test_endpoint_verification_snippet_runs(self):
        """The receiver snippet, with the real secret pasted in, accepts our signature and refuses others."""
        endpoint = self.env["integration.webhook.endpoint"].create(
            {"name": "Receiver", "url": "https://receiver.example.com/hooks/odoo", "payload_format": "standard"})
        snippet = endpoint.verification_snippet
        self.assertIn("/hooks/odoo", snippet)
        self.assertIn('Webhook("whsec_...")', snippet)
        self.assertNotIn(endpoint.secret, snippet)
        processed = []
        namespace = {"already_processed": lambda _id: False,
                     "process": lambda *args: processed.append(args[:2])}
        exec(snippet.replace("whsec_...", endpoint.secret), namespace)  # pylint: disable=exec-used
        body = json.dumps({"type": "res.partner.x", "timestamp": "2025-01-01T00:00:00Z",
                           "data": {"_model": "res.partner", "_id": 3}})
        now = int(time.time())
        headers = {"webhook-id": "msg_1", "webhook-timestamp": str(now),
                   "webhook-signature": wd.signature_header(endpoint._signing_secrets(), "msg_1", now, body)}
        self.assertEqual(namespace["handle"](body.encode(), headers), 200)
        self.assertEqual(processed, [("res.partner", 3)])
        self.assertEqual(namespace["handle"](body.encode() + b" ", headers), 401)


@tagged("post_install", "-at_install")
class TestFormsOverHttp(IntegrationHttpCase):
    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].set_param("web.base.url", self.base_url())
        self.partner = self.env["res.partner"].create({"name": "Curl target"})

    def run_example(self, rule, **placeholders):
        """Run the rule's curl example with bash, the placeholders replaced as a user would."""
        self.env.flush_all()
        script = rule.webhook_curl_example
        for placeholder, value in placeholders.items():
            self.assertIn(placeholder, script)
            script = script.replace(placeholder, value)
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False)
        self.assertEqual(done.returncode, 0, done.stderr)
        return json.loads(done.stdout)

    @skipUnless(HAS_SHELL_TOOLS, "bash, curl and openssl are needed to run the curl examples")
    def test_curl_examples_are_accepted(self):
        secret = wd.new_secret()
        schema = json.dumps({"type": "object", "properties": {
            "_model": {"const": "res.partner"}, "_id": {"const": self.partner.id}}})
        cases = [
            ({"webhook_auth_mode": "standard_webhooks"}, {"'whsec_...'": f"'{secret}'"}),
            ({"webhook_auth_mode": "hmac", "webhook_hmac_preset": "github"}, {"SECRET='...'": f"SECRET='{secret}'"}),
            ({"webhook_auth_mode": "hmac", "webhook_hmac_preset": "shopify"}, {"SECRET='...'": f"SECRET='{secret}'"}),
            ({"webhook_auth_mode": "hmac", "webhook_hmac_preset": "stripe"}, {"SECRET='...'": f"SECRET='{secret}'"}),
            ({"webhook_auth_mode": "api_key", "webhook_dedupe_source": "idempotency_key"},
             {"KEY='...'": f"KEY='{self.admin_key}'"}),
        ]
        for values, placeholders in cases:
            rule = make_rule(self.env, webhook_secret=secret, webhook_payload_schema=schema, **values)
            self.assertEqual(self.run_example(rule, **placeholders)["status"], "ok", values)
            call = self.env["integration.webhook.call"].search([("rule_id", "=", rule.id)])
            self.assertEqual(call.state, "done", values)
        self.partner.invalidate_recordset()
        self.assertEqual(self.partner.ref, str(len(cases)))
        # the unedited example (placeholder secret) is refused
        rule = make_rule(self.env, webhook_secret=secret, webhook_payload_schema=schema,
                         webhook_auth_mode="hmac", webhook_hmac_preset="github")
        self.assertEqual(self.run_example(rule)["error"], "invalid signature")


@tagged("post_install", "-at_install")
class TestDemoEcho(IntegrationHttpCase):
    def setUp(self):
        super().setUp()
        self.module = self.env["ir.module.module"].search([("name", "=", "integration_suite")])

    def echo(self, body, headers=None):
        self.env.flush_all()  # the server reads the database, not this test's cache
        return requests.post(self.base_url() + ECHO, data=body, timeout=60,
                             headers={"Content-Type": "application/json", **(headers or {})})

    def test_echo_answers_only_on_a_demo_database(self):
        self.module.demo = True
        endpoint = self.env["integration.webhook.endpoint"].create(
            {"name": "Echo", "url": self.base_url() + ECHO})
        body = json.dumps({"hello": "world"}).encode()
        signed = sign_standard_webhooks(endpoint._signing_secrets()[0], "msg_echo", time.time(), body)
        response = self.echo(body, signed)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json(), {"received": True, "webhook_id": "msg_echo", "signature": "valid",
                                           "echo": {"hello": "world"}})
        self.assertEqual(self.echo(body, {**signed, "webhook-id": "msg_other"}).json()["signature"],
                         "invalid signature")
        self.module.demo = False
        self.assertEqual(self.echo(body, signed).status_code, 404)

    def test_demo_endpoint_delivers_to_the_echo(self):
        """On a demo database the demo endpoint works out of the box: Send test ends up delivered."""
        endpoint = self.env.ref("integration_suite.demo_webhook_endpoint", raise_if_not_found=False)
        if not endpoint:
            self.skipTest("installed without demo data")
        self.assertTrue(self.module.demo)
        self.assertTrue(endpoint.action_ids, "the demo automation sends to the demo endpoint")
        # demo data allows loopback; other tests may have removed the parameter since
        self.env["ir.config_parameter"].set_param("integration_suite.webhook_allow_private", "True")
        endpoint.url = self.base_url() + ECHO  # the test server's port, not the install-time base URL
        delivery = self.env["integration.webhook.delivery"].browse(endpoint.action_send_test()["res_id"])
        delivery.next_attempt_at = fields.Datetime.now() - timedelta(seconds=1)
        self.env["integration.webhook.delivery"]._worker_process_batch(50)
        self.assertEqual(delivery.state, "delivered", delivery.error)
        answer = json.loads(delivery.response_excerpt)
        self.assertEqual((answer["signature"], answer["webhook_id"]), ("valid", delivery.webhook_id))
        # and the dashboard has history of every kind
        outcomes = set(self.env["integration.activity.report"].search([]).mapped("outcome"))
        self.assertLessEqual({"done", "error"}, outcomes)


@tagged("post_install", "-at_install")
class TestIntegrationsApp(TransactionCase):
    def test_an_app_of_the_home_menu_for_administrators_only(self):
        app = self.env.ref("integration_suite.menu_integrations")
        menus = self.env["ir.ui.menu"]
        admin = self.env.ref("base.user_admin")
        self.assertIn(app.id, menus.with_user(admin).load_menus(debug=False)["root"]["children"])
        user = new_test_user(self.env, login="integrations_app_user", groups="base.group_user")
        self.assertNotIn(app.id, menus.with_user(user).load_menus(debug=False)["root"]["children"])

    def test_each_entry_is_named_as_the_screen_it_opens(self):
        app = self.env.ref("integration_suite.menu_integrations")
        entries = self.env["ir.ui.menu"].search([("id", "child_of", app.id), ("action", "!=", False)])
        self.assertGreaterEqual(len(entries), 9)
        for entry in entries:  # "Dashboard" opens the "Integrations Dashboard"
            self.assertIn(entry.name, entry.action.name)
