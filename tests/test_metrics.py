"""GET /metrics over real HTTP: access, per-process histograms of API and webhook calls, database gauges."""
import requests
from prometheus_client.parser import text_string_to_metric_families

from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from ..tools import api_metrics
from .common import IntegrationHttpCase, make_webhook_rule


@tagged("post_install", "-at_install")
class TestMetrics(IntegrationHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.scraper = new_test_user(cls.env, login="prometheus",
                                    groups="base.group_portal,integration_suite.group_metrics")
        cls.scraper_key = cls.make_key(cls.scraper)

    def scrape(self, key=None):
        res = requests.get(self.base_url() + "/metrics", timeout=60,
                           headers={"Authorization": f"bearer {key or self.scraper_key}"})
        self.assertEqual(res.status_code, 200, res.text)
        self.assertTrue(res.headers["Content-Type"].startswith("text/plain; version="))
        return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
                for family in text_string_to_metric_families(res.text) for sample in family.samples}

    def value(self, samples, name, **labels):
        labels.setdefault("db", self.env.cr.dbname)
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def test_access_needs_a_key_of_the_metrics_group(self):
        self.assertEqual(requests.get(self.base_url() + "/metrics", timeout=60).status_code, 401)
        with mute_logger("odoo.http"):
            res = requests.get(self.base_url() + "/metrics", headers={"Authorization": f"bearer {self.user_key}"},
                               timeout=60)
        self.assertEqual(res.status_code, 403)
        self.scrape()

    def test_api_calls_by_door_model_method_and_status(self):
        count = "integration_api_call_duration_seconds_count"
        before = self.scrape()
        self.call("res.partner", "search_count", {"domain": []})
        self.call("res.partner", "search_count", {"domain": []})
        with mute_logger("odoo.http"):
            self.call("res.partner", "search_count", {"no_such_argument": 1})
            self.call("no.such.model", "read", {})
        requests.post(self.base_url() + "/jsonrpc", timeout=60, json={"jsonrpc": "2.0", "method": "call", "params": {
            "service": "object", "method": "execute_kw",
            "args": [self.env.cr.dbname, self.admin.id, self.admin_key, "res.partner", "search_count", [[]]]}})
        after = self.scrape()

        def delta(**labels):
            return self.value(after, count, **labels) - self.value(before, count, **labels)

        self.assertEqual(delta(door="json2", model="res.partner", method="search_count", status="200"), 2)
        self.assertEqual(delta(door="json2", model="res.partner", method="search_count", status="422"), 1)
        self.assertEqual(delta(door="json2", model="_other", method="_other", status="404"), 1,
                         "names that do not exist never become label values")
        self.assertEqual(delta(door="jsonrpc", model="res.partner", method="search_count", status="ok"), 1)
        bucket = self.value(after, "integration_api_call_duration_seconds_bucket", door="json2", model="res.partner",
                            method="search_count", status="200", le="+Inf")
        self.assertEqual(bucket, self.value(after, count, door="json2", model="res.partner", method="search_count",
                                            status="200"))

    def test_only_the_scraped_database(self):
        api_metrics.observe_api("another_database", "json2", "res.partner", "read", 200, 0.01)
        self.assertFalse([key for key in self.scrape() if ("db", "another_database") in key[1]])

    def test_database_gauges_and_incoming_calls(self):
        self.env["ir.config_parameter"].set_param("integration_suite.webhook_allow_private", "True")
        endpoint = self.env["integration.webhook.endpoint"].create({"name": "Metrics receiver",
                                                                    "url": "http://127.0.0.1:9/hook"})
        Delivery = self.env["integration.webhook.delivery"]
        for record_id in (1, 2, 3):
            Delivery._enqueue(endpoint, {"_id": record_id}, "res.partner", record_id, "res.partner.test")
        rule = make_webhook_rule(self.env, name="Metrics rule")
        before = self.scrape()
        self.assertEqual(requests.post(rule.url, json={"_model": "res.partner", "_id": self.admin.partner_id.id},
                                       timeout=60).status_code, 200)
        after = self.scrape()
        self.assertEqual(self.value(after, "integration_webhook_deliveries", endpoint="Metrics receiver",
                                    state="pending"), 3)
        self.assertEqual(self.value(after, "integration_webhook_queue_depth", endpoint="Metrics receiver"), 3)
        self.assertGreaterEqual(self.value(after, "integration_webhook_oldest_due_age_seconds",
                                           endpoint="Metrics receiver"), 0)
        self.assertIn(("integration_webhook_oldest_due_age_seconds",
                       (("db", self.env.cr.dbname), ("endpoint", "Metrics receiver"))), after)
        self.assertEqual(self.value(after, "integration_webhook_delivery_attempts", endpoint="Metrics receiver"), 0)
        self.assertEqual(self.value(after, "integration_webhook_incoming_calls", rule="Metrics rule", state="done"), 1)
        count = "integration_webhook_incoming_duration_seconds_count"
        self.assertEqual(self.value(after, count, rule="Metrics rule", status="200")
                         - self.value(before, count, rule="Metrics rule", status="200"), 1)
