"""Incoming webhooks over real HTTP: sender checks, payload, exactly-once, all-or-nothing, log, limits."""
import base64
import hashlib
import hmac
import inspect
import json
import re
import threading
import time
import uuid
from unittest.mock import patch

import psycopg2.errors
import requests

from odoo import SUPERUSER_ID, api, sql_db
from odoo.tests import TransactionCase, new_test_user, tagged

from .. import series
from ..tools.webhook_signatures import sign_standard_webhooks
from .common import COUNT_RUNS, IntegrationHttpCase, make_webhook_rule

WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
HMAC_SECRET = "It's a Secret to Everybody"


@tagged("post_install", "-at_install")
class TestIncomingWebhooks(IntegrationHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "Webhook target"})
        cls.partner_model = cls.env.ref("base.model_res_partner")

    # ------------------------------------------------------------------ helpers
    def make_rule(self, *codes, **values):
        return make_webhook_rule(self.env, *codes, **values)

    def body(self, **extra):
        return json.dumps({"_model": "res.partner", "_id": self.partner.id, **extra}).encode()

    def hook(self, rule, data=None, headers=None, method="POST", params=None):
        data = self.body() if data is None else data
        return requests.request(method, f"{self.base_url()}/web/hook/{rule.webhook_uuid}", data=data,
                                headers={"Content-Type": "application/json", **(headers or {})},
                                params=params, timeout=60)

    def runs(self):
        self.partner.invalidate_recordset()
        return int(self.partner.ref or 0)

    def calls(self, rule):
        return self.env["integration.webhook.call"].search([("rule_id", "=", rule.id)])

    def assertRejected(self, response, status, reason=None):
        self.assertEqual(response.status_code, status, response.text)
        self.assertEqual(response.headers["Content-Type"], "application/json; charset=utf-8")
        body = response.json()
        self.assertEqual(body["status"], "error")
        if reason:
            self.assertIn(reason, body["error"])
        return body

    def assertOk(self, response):
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(response.json(), {"status": "ok"})

    # ------------------------------------------------------------------ native behaviour kept
    def test_native_rule_keeps_native_answer_and_logs_the_call(self):
        rule = self.make_rule()
        response = self.hook(rule)
        self.assertOk(response)
        self.assertEqual(self.runs(), 1)
        call = self.calls(rule)
        self.assertEqual(len(call), 1)
        self.assertEqual(call.request_id, response.headers["X-Request-Id"])
        self.assertEqual((call.state, call.http_status), ("done", 200))
        self.assertIn("_model", call.payload)

    def test_native_call_runs_as_the_public_user(self):
        """The Public user is taken by its cached id (``ir.http._auth_method_public``), as 18.0 runs it."""
        rule = self.make_rule()
        self.assertOk(self.hook(rule))
        self.partner.invalidate_recordset()
        self.assertEqual(self.partner.write_uid, self.env.ref("base.public_user"))

    def test_watched_fields_are_read_only_when_there_are_old_values(self):
        """Without old values (webhooks, creations, manual runs) every field counts as changed, in
        18.0 too; with them, the watched fields still decide."""
        rule = self.make_rule(trigger="on_write", trigger_field_ids=[
            (6, 0, self.env.ref("base.field_res_partner__ref").ids)])
        rule.invalidate_recordset()
        with self.assertQueryCount(0):
            self.assertTrue(rule._check_trigger_fields(self.partner))
        old = {self.partner.id: {"ref": self.partner.ref, "name": "before"}}
        self.assertFalse(rule.with_context(old_values=old)._check_trigger_fields(self.partner))
        old[self.partner.id]["ref"] = "before"
        self.assertTrue(rule.with_context(old_values=old)._check_trigger_fields(self.partner))

    def test_unknown_uuid_and_non_webhook_rule_are_404(self):
        response = requests.post(f"{self.base_url()}/web/hook/{uuid.uuid4()}", timeout=60)
        self.assertEqual((response.status_code, response.json()), (404, {"status": "error"}))
        rule = self.make_rule(trigger="on_create_or_write")
        response = self.hook(rule)
        self.assertEqual((response.status_code, response.json()), (404, {"status": "error"}))
        self.assertEqual(self.runs(), 0, "a non-webhook rule must not run through its uuid")
        self.assertTrue(response.headers["X-Request-Id"])

    def test_form_body_reaches_the_actions(self):
        rule = self.make_rule("record.write({'ref': payload['ref'] + payload['from_query']})")
        response = requests.post(
            f"{self.base_url()}/web/hook/{rule.webhook_uuid}", params={"from_query": "-q"},
            data={"_model": "res.partner", "_id": str(self.partner.id), "ref": "from-form"}, timeout=60)
        self.assertOk(response)
        self.partner.invalidate_recordset()
        self.assertEqual(self.partner.ref, "from-form-q")

    def test_query_payload_without_body_as_native(self):
        rule = self.make_rule()
        response = requests.get(f"{self.base_url()}/web/hook/{rule.webhook_uuid}",
                                params={"_model": "res.partner", "_id": self.partner.id}, timeout=60)
        self.assertOk(response)
        self.assertEqual(self.runs(), 1)

    # ------------------------------------------------------------------ Standard Webhooks
    def signed(self, body, msg_id=None, timestamp=None, secret=WHSEC):
        return sign_standard_webhooks(secret, msg_id or f"msg_{uuid.uuid4().hex}", timestamp or time.time(), body)

    def test_standard_webhooks(self):
        rule = self.make_rule(webhook_auth_mode="standard_webhooks", webhook_secret=WHSEC)
        body = self.body()
        self.assertOk(self.hook(rule, body, self.signed(body)))
        wrong = self.signed(body, secret="whsec_" + base64.b64encode(b"another secret key!!").decode())
        self.assertRejected(self.hook(rule, body, wrong), 401, "invalid signature")
        tampered = self.signed(body)
        self.assertRejected(self.hook(rule, self.body(extra=1), tampered), 401, "invalid signature")
        stale = self.signed(body, timestamp=time.time() - 600)
        self.assertRejected(self.hook(rule, body, stale), 401, "timestamp")
        self.assertRejected(self.hook(rule, body), 401, "missing")
        garbage = {**self.signed(body), "webhook-signature": "no-comma-here"}
        self.assertRejected(self.hook(rule, body, garbage), 401)
        self.assertEqual(self.runs(), 1)
        self.assertEqual(self.calls(rule).mapped("state").count("rejected"), 5)

    def rule_queries(self, call):
        """The queries ``call()`` runs on the rules' table."""
        queries, execute = [], sql_db.Cursor.execute

        def spy(cr, query, *args, **kwargs):
            queries.append(str(query))
            return execute(cr, query, *args, **kwargs)

        with patch.object(sql_db.Cursor, "execute", spy):
            call()
        return [query for query in queries if re.search(r'FROM "?base_automation\b', query)]

    def test_a_warm_call_checks_its_rule_in_one_query(self):
        """Each worker keeps what calls read of its rules (``_webhook_rules``): a warm call, of a
        "Secret URL only" rule or of a signed, schema-checked, deduplicated one, runs one query
        on the rules' table, which checks that the copy is current (18.0 reads the row twice)."""
        body = self.body()
        safe = self.make_rule(webhook_auth_mode="standard_webhooks", webhook_secret=WHSEC,
                              webhook_payload_schema=json.dumps({"type": "object"}),
                              webhook_dedupe_source="webhook_id", webhook_rate_limit=100)
        twin = self.make_rule()
        twin.webhook_uuid = safe.webhook_uuid  # set by hand on a later rule: the first one answers
        self.env.flush_all()  # the server reads the database, not this test's cache
        for rule, signed in [(self.make_rule(), False), (safe, True)]:
            self.assertOk(self.hook(rule, body, self.signed(body) if signed else None))  # fills the caches
            headers = self.signed(body) if signed else None
            with patch.object(type(self.registry), "clear_cache") as clear_cache:
                queries = self.rule_queries(
                    lambda rule=rule, headers=headers: self.assertOk(self.hook(rule, body, headers)))
            clear_cache.assert_not_called()
            kept = [query for query in queries if rule.webhook_uuid in query or f"({rule.id},)" in query]
            self.assertEqual(len(kept), 1, queries)
            self.assertIn("SELECT id, write_date FROM base_automation", queries[0])
        unknown = str(uuid.uuid4())
        queries = self.rule_queries(lambda: self.assertEqual(
            requests.post(f"{self.base_url()}/web/hook/{unknown}", timeout=60).status_code, 404))
        self.assertEqual(len(queries), 1, queries)
        self.assertIn(unknown, queries[0])
        self.assertEqual(self.runs(), 4)

    def test_a_change_no_cache_signal_announces_is_seen(self):
        """A rule changed by a process that signals no cache (``odoo shell``, a script): the next
        call finds its ``write_date`` moved and reloads the rules."""
        rule = self.make_rule()
        self.assertOk(self.hook(rule))
        for change, status in [("webhook_auth_mode = 'api_key'", 401), ("webhook_auth_mode = 'url'", 200),
                               ("active = false", 404)]:
            # what a commit of another process leaves: the row changed, this worker's caches kept
            # (this test's pending writes first: on 19.0 they stamp the transaction's own time)
            self.env.flush_all()
            self.env.cr.execute(f"UPDATE base_automation SET {change}, write_date = write_date + interval '1 second'"
                                " WHERE id = %s", [rule.id])
            rule.invalidate_recordset()
            self.assertEqual(self.hook(rule).status_code, status, change)

    def test_a_changed_rule_is_seen_by_the_next_call(self):
        """Whatever the ORM changes of an incoming rule clears every worker's copy of the rules
        (Odoo's cache signaling), even inside one transaction, where ``write_date`` stays put."""
        rule = self.make_rule()
        self.assertOk(self.hook(rule))
        getter = rule.record_getter
        for values, status in [
            ({"webhook_auth_mode": "api_key"}, 401),
            ({"webhook_auth_mode": "url", "webhook_max_body_size": 10}, 413),
            ({"webhook_max_body_size": 1024 * 1024}, 200),
            ({"active": False}, 404),
            ({"active": True}, 200),
            ({"record_getter": "model.browse(-1)"}, 500),  # no record: 18.0's error
            ({"record_getter": getter}, 200),
            ({"trigger": "on_create_or_write"}, 404),
            ({"trigger": "on_webhook"}, 200),
        ]:
            rule.write(values)
            self.env.flush_all()  # the server reads the database, not this test's cache
            self.assertEqual(self.hook(rule).status_code, status, values)
        old = rule.webhook_uuid
        rule.action_rotate_webhook_uuid()
        self.env.flush_all()
        self.assertOk(self.hook(rule))
        response = requests.post(f"{self.base_url()}/web/hook/{old}", data=self.body(), timeout=60)
        self.assertEqual(response.status_code, 404, "the rotated uuid still finds the rule")
        other = self.make_rule()  # created after this worker loaded the rules
        self.assertOk(self.hook(other))
        gone = rule.webhook_uuid
        rule.unlink()
        self.assertEqual(requests.post(f"{self.base_url()}/web/hook/{gone}", timeout=60).status_code, 404)
        self.assertEqual(self.runs(), 7)

    def test_standard_webhooks_rotation(self):
        new_secret = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
        rule = self.make_rule(webhook_auth_mode="standard_webhooks", webhook_secret=f"{WHSEC}\n{new_secret}")
        body = self.body()
        old = self.signed(body, msg_id="msg_1", timestamp=int(time.time()))
        other = self.signed(body, msg_id="msg_1", timestamp=int(old["webhook-timestamp"]),
                            secret="whsec_" + base64.b64encode(b"unknown-unknown-unknown!").decode())
        # the sender signs with an unknown and a known secret: accepted
        both = {**old, "webhook-signature": f"{other['webhook-signature']} {old['webhook-signature']}"}
        self.assertOk(self.hook(rule, body, both))
        # the receiver already knows the next secret
        self.assertOk(self.hook(rule, body, self.signed(body, secret=new_secret)))
        self.assertEqual(self.runs(), 2)

    # ------------------------------------------------------------------ HMAC presets
    def test_github_preset(self):
        rule = self.make_rule(webhook_auth_mode="hmac", webhook_hmac_preset="github", webhook_secret=HMAC_SECRET)
        body = self.body()
        # GitHub's documented example: HMAC-SHA256 hex of the raw body, "sha256=" prefix
        signature = "sha256=" + hmac.new(HMAC_SECRET.encode(), body, hashlib.sha256).hexdigest()
        self.assertOk(self.hook(rule, body, {"X-Hub-Signature-256": signature}))
        self.assertRejected(self.hook(rule, body, {"X-Hub-Signature-256": signature[:-2] + "00"}), 401, "invalid")
        self.assertRejected(self.hook(rule, body, {"X-Hub-Signature-256": signature[7:]}), 401, "invalid")
        self.assertRejected(self.hook(rule, body), 401, "missing")
        self.assertEqual(self.runs(), 1)
        headers = json.loads(self.calls(rule)[-1].headers)
        self.assertEqual(headers["X-Hub-Signature-256"], "[redacted]")
        self.assertFalse(self.env["integration.webhook.call"].search_count(
            [("rule_id", "=", rule.id), ("headers", "ilike", signature[7:])]), "the signature is never logged")

    def test_shopify_preset(self):
        rule = self.make_rule(webhook_auth_mode="hmac", webhook_hmac_preset="shopify", webhook_secret=HMAC_SECRET)
        body = self.body()
        signature = base64.b64encode(hmac.new(HMAC_SECRET.encode(), body, hashlib.sha256).digest()).decode()
        self.assertOk(self.hook(rule, body, {"X-Shopify-Hmac-Sha256": signature}))
        hex_instead = hmac.new(HMAC_SECRET.encode(), body, hashlib.sha256).hexdigest()
        self.assertRejected(self.hook(rule, body, {"X-Shopify-Hmac-Sha256": hex_instead}), 401)
        self.assertRejected(self.hook(rule, self.body(x=1), {"X-Shopify-Hmac-Sha256": signature}), 401)
        self.assertRejected(self.hook(rule, body), 401, "missing")
        self.assertEqual(self.runs(), 1)

    def stripe_header(self, body, timestamp=None, secret=HMAC_SECRET):
        timestamp = int(timestamp or time.time())
        signed = f"{timestamp}.".encode() + body
        return {"Stripe-Signature": f"t={timestamp},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"
                                    ",v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39"}

    def test_stripe_preset(self):
        rule = self.make_rule(webhook_auth_mode="hmac", webhook_hmac_preset="stripe", webhook_secret=HMAC_SECRET)
        body = self.body()
        self.assertOk(self.hook(rule, body, self.stripe_header(body)))
        self.assertRejected(self.hook(rule, body, self.stripe_header(body, secret="whsec_other")), 401, "invalid")
        self.assertRejected(self.hook(rule, body, self.stripe_header(body, time.time() - 3600)), 401, "timestamp")
        self.assertRejected(self.hook(rule, body, {"Stripe-Signature": "garbage"}), 401)
        self.assertRejected(self.hook(rule, body), 401, "missing")
        self.assertEqual(self.runs(), 1)

    def test_custom_hmac(self):
        rule = self.make_rule(webhook_auth_mode="hmac", webhook_hmac_preset="custom", webhook_hmac_header="X-Sig",
                              webhook_hmac_encoding="base64", webhook_hmac_prefix="v1=",
                              webhook_hmac_algorithm="sha512", webhook_secret=HMAC_SECRET)
        body = self.body()
        digest = base64.b64encode(hmac.new(HMAC_SECRET.encode(), body, hashlib.sha512).digest()).decode()
        self.assertOk(self.hook(rule, body, {"X-Sig": "v1=" + digest}))
        self.assertRejected(self.hook(rule, body, {"X-Sig": digest}), 401)
        self.assertRejected(self.hook(rule, body), 401, "missing")
        self.assertEqual(json.loads(self.calls(rule)[-1].headers).get("X-Sig"), "[redacted]")

    # ------------------------------------------------------------------ API key
    def test_api_key_runs_with_the_users_rights(self):
        rule = self.make_rule(webhook_auth_mode="api_key")
        editor = new_test_user(self.env, login="webhook_editor", groups="base.group_user,base.group_partner_manager")
        response = self.hook(rule, headers={"Authorization": f"bearer {self.make_key(editor)}"})
        self.assertOk(response)
        self.assertEqual(self.runs(), 1)
        self.assertEqual(self.partner.write_uid, editor, "actions run as the key's user, not public")
        call = self.calls(rule)
        self.assertEqual(call.user_id, editor)
        self.assertEqual(json.loads(call.headers)["Authorization"], "[redacted]")

        # an internal user without "Contact Creation" may not write partners
        response = self.hook(rule, headers={"Authorization": f"Bearer {self.user_key}"})
        self.assertRejected(response, 403)
        self.assertEqual(response.json(), {"status": "error"}, "no internals")
        self.assertEqual(self.runs(), 1, "an ACL denial must not become a sudo success")
        self.assertIn("AccessError", self.calls(rule)[0].error)

        self.assertRejected(self.hook(rule, headers={"Authorization": "bearer " + "0" * 40}), 401, "invalid")
        response = self.hook(rule)
        self.assertRejected(response, 401, "missing")
        self.assertIn("Bearer", response.headers["WWW-Authenticate"])
        self.assertEqual(self.runs(), 1)

    # ------------------------------------------------------------------ payload
    def test_schema_violation_is_422_with_paths(self):
        schema = {"type": "object", "required": ["_id", "amount"],
                  "properties": {"amount": {"type": "number"}, "lines": {"type": "array",
                                                                         "items": {"type": "integer"}}}}
        rule = self.make_rule(webhook_payload_schema=json.dumps(schema))
        body = self.assertRejected(self.hook(rule, self.body(amount="ten", lines=[1, "two"])), 422, "schema")
        self.assertEqual(sorted(error["path"] for error in body["errors"]), ["$.amount", "$.lines[1]"])
        body = self.assertRejected(self.hook(rule, self.body()), 422)
        self.assertEqual(body["errors"][0]["path"], "$")
        self.assertEqual(self.runs(), 0)
        self.assertOk(self.hook(rule, self.body(amount=10)))
        self.assertEqual(self.runs(), 1)

    def test_bad_input_is_a_clear_4xx(self):
        rule = self.make_rule()
        self.assertRejected(self.hook(rule, b'{"_model": "res.partner", '), 400, "invalid JSON")
        self.assertRejected(self.hook(rule, bytes(range(256)) * 8, {"Content-Type": "application/octet-stream"}),
                            400)
        self.assertRejected(self.hook(rule, b"[" * 100000 + b"]" * 100000), 400, "nested")
        self.assertRejected(self.hook(rule, json.dumps(self.nested(200)).encode()), 400, "nested")
        response = self.hook(rule, method="PUT")
        self.assertRejected(response, 405)
        self.assertIn("POST", response.headers["Allow"])
        self.assertEqual(self.runs(), 0)

    @staticmethod
    def nested(depth):
        value = {}
        for _level in range(depth):
            value = {"a": value}
        return value

    # ------------------------------------------------------------------ exactly once
    def test_sequential_duplicates_run_once(self):
        for source, headers, extra in [
            ("webhook_id", {"webhook-id": "msg_dup"}, {}),
            ("idempotency_key", {"Idempotency-Key": "idem-1"}, {}),
            ("json_pointer", {}, {"event": {"id": 42}}),
        ]:
            with self.subTest(source=source):
                rule = self.make_rule(webhook_dedupe_source=source, webhook_dedupe_pointer="/event/id")
                before = self.runs()
                body = self.body(**extra)
                self.assertOk(self.hook(rule, body, headers))
                response = self.hook(rule, body, headers)
                self.assertEqual((response.status_code, response.json()),
                                 (200, {"status": "ok", "duplicate": True}))
                self.assertEqual(self.runs(), before + 1)
                self.assertEqual(self.calls(rule).mapped("duplicate"), [True, False])
        rule = self.make_rule(webhook_dedupe_source="webhook_id")
        self.assertRejected(self.hook(rule), 400, "deduplication key")

    def test_failed_call_frees_its_dedupe_key(self):
        rule = self.make_rule(COUNT_RUNS, "payload.get('fail') and int('boom')", webhook_dedupe_source="webhook_id")
        headers = {"webhook-id": "msg_retry"}
        self.assertEqual(self.hook(rule, self.body(fail=True), headers).status_code, 500)
        self.assertOk(self.hook(rule, self.body(), headers))
        self.assertEqual(self.runs(), 1, "the sender's retry ran, the failed attempt left nothing")

    def test_concurrent_claims_run_once(self):
        """Two transactions claim one key at the same moment: the unique index lets one through."""
        db = self.env.cr.dbname
        with sql_db.db_connect(db).cursor() as setup:
            setup.execute(
                """INSERT INTO base_automation (name, model_id, trigger, webhook_uuid, active, webhook_auth_mode,
                                                webhook_dedupe_source, webhook_dedupe_retention_days,
                                                webhook_max_body_size)
                   VALUES ('{"en_US": "concurrent"}', %s, 'on_webhook', %s, true, 'url', 'webhook_id', 7, 1000)
                   RETURNING id""", [self.partner_model.id, str(uuid.uuid4())])
            rule_id = setup.fetchone()[0]

        def claim_b(rule_b, key, outcome):
            try:
                outcome["b"] = rule_b.env["integration.webhook.key"]._claim(rule_b, key)
            except psycopg2.errors.SerializationFailure:
                outcome["b"] = "retry"  # 18.0's `retrying` replays the request
                rule_b.env.cr.rollback()
                outcome["b_retry"] = rule_b.env["integration.webhook.key"]._claim(rule_b, key)

        try:
            for first_commits in (True, False):
                key = f"msg_{first_commits}"
                with sql_db.db_connect(db).cursor() as cr_a, sql_db.db_connect(db).cursor() as cr_b:
                    env_a = api.Environment(cr_a, SUPERUSER_ID, {})
                    env_b = api.Environment(cr_b, SUPERUSER_ID, {})
                    rule_b = env_b["base.automation"].browse(rule_id)
                    # B's snapshot starts before A commits
                    self.assertEqual(rule_b.webhook_dedupe_retention_days, 7)
                    outcome = {}
                    self.assertTrue(env_a["integration.webhook.key"]._claim(
                        env_a["base.automation"].browse(rule_id), key))
                    thread = threading.Thread(target=claim_b, args=(rule_b, key, outcome))
                    thread.start()
                    thread.join(1.0)
                    self.assertTrue(thread.is_alive(), "the second insert must wait for the first")
                    cr_a.commit() if first_commits else cr_a.rollback()
                    thread.join(30)
                    if first_commits:
                        self.assertEqual(outcome["b"], "retry")
                        self.assertFalse(outcome["b_retry"], "the second copy must see a duplicate")
                    else:
                        self.assertTrue(outcome["b"], "a rolled-back first call frees the key")
                    cr_b.rollback()
        finally:
            with sql_db.db_connect(db).cursor() as cleanup:
                cleanup.execute("DELETE FROM base_automation WHERE id = %s", [rule_id])

    # ------------------------------------------------------------------ all or nothing, log
    def test_failing_second_action_leaves_no_trace_and_is_logged(self):
        rule = self.make_rule("record.write({'ref': 'WRITTEN-BEFORE-ERROR'})",
                              "raise UserError('boom: internal detail')")
        response = self.hook(rule)
        self.assertEqual((response.status_code, response.json()), (500, {"status": "error"}))
        self.partner.invalidate_recordset()
        self.assertFalse(self.partner.ref, "the first action's write must be rolled back")
        call = self.calls(rule)
        self.assertEqual((call.state, call.http_status), ("failed", 500))
        self.assertEqual(call.request_id, response.headers["X-Request-Id"])
        self.assertIn("boom", call.error)

    def test_replay_and_dry_run(self):
        rule = self.make_rule()
        self.assertOk(self.hook(rule))
        call = self.calls(rule)
        call.action_dry_run()
        self.assertIn("res.partner: 0 created, 1 updated", call.dry_run_report)
        self.assertEqual(self.runs(), 1, "a dry run writes nothing")
        call.action_replay()
        self.assertEqual(self.runs(), 2)
        replay = self.calls(rule) - call
        self.assertEqual((replay.replay_of_id, replay.state), (call, "done"))

    # ------------------------------------------------------------------ limits
    def test_body_size_limit_is_413(self):
        rule = self.make_rule(webhook_max_body_size=200)
        self.assertRejected(self.hook(rule, self.body(pad="x" * 300)), 413)
        self.assertOk(self.hook(rule, self.body()))
        default = self.make_rule()
        self.assertRejected(self.hook(default, self.body(pad="x" * (1024 * 1024 + 1))), 413)
        self.assertEqual(self.calls(rule).mapped("http_status"), [200, 413])

    def test_rate_limit_is_429(self):
        rule = self.make_rule(webhook_rate_limit=2, webhook_rate_limit_period=60)
        self.assertOk(self.hook(rule))
        self.assertOk(self.hook(rule))
        response = self.hook(rule)
        self.assertRejected(response, 429, "rate limit")
        self.assertGreaterEqual(int(response.headers["Retry-After"]), 1)
        self.assertEqual(self.runs(), 2)

    def test_log_payload_is_capped(self):
        rule = self.make_rule(webhook_log_payload_size=50)
        self.assertOk(self.hook(rule, self.body(pad="y" * 500)))
        call = self.calls(rule)
        self.assertTrue(call.payload_truncated)
        self.assertLessEqual(len(call.payload.encode()), 50)

    # ------------------------------------------------------------------ async
    def test_async_answers_202_and_the_worker_runs_once(self):
        self.assertIn("integration.webhook.call", self.env["integration.worker"]._job_sources())
        rule = self.make_rule(webhook_async=True, webhook_dedupe_source="webhook_id")
        response = self.hook(rule, headers={"webhook-id": "msg_async"})
        self.assertEqual(response.status_code, 202, response.text)
        body = response.json()
        self.assertEqual(body["status"], "accepted")
        call = self.env["integration.webhook.call"].browse(body["id"])
        self.assertEqual((call.state, call.request_id), ("queued", response.headers["X-Request-Id"]))
        self.assertEqual(self.runs(), 0, "nothing runs before the worker")
        duplicate = self.hook(rule, headers={"webhook-id": "msg_async"})
        self.assertEqual(duplicate.json(), {"status": "ok", "duplicate": True})
        self.assertEqual(self.env["integration.webhook.call"]._worker_process_batch(10), 1)
        self.assertEqual(self.env["integration.webhook.call"]._worker_process_batch(10), 0)
        call.invalidate_recordset()
        self.assertEqual((call.state, call.attempts), ("done", 1))
        self.assertEqual(self.runs(), 1)

    def test_async_failure_is_recorded(self):
        rule = self.make_rule("int('boom')", webhook_async=True)
        response = self.hook(rule)
        self.assertEqual(response.status_code, 202)
        self.env["integration.webhook.call"]._worker_process_batch(10)
        call = self.env["integration.webhook.call"].browse(response.json()["id"])
        self.assertEqual(call.state, "failed")
        self.assertIn("boom", call.error)

    def test_async_failure_frees_the_dedupe_key_for_the_retry(self):
        rule = self.make_rule(COUNT_RUNS, "payload.get('fail') and int('boom')", webhook_async=True,
                              webhook_dedupe_source="webhook_id")
        headers = {"webhook-id": "msg_async_retry"}
        self.assertEqual(self.hook(rule, self.body(fail=True), headers).status_code, 202)
        self.env["integration.webhook.call"]._worker_process_batch(10)
        retry = self.hook(rule, self.body(), headers)
        self.assertEqual(retry.status_code, 202, "the sender's retry is not taken for a duplicate")
        self.env["integration.webhook.call"]._worker_process_batch(10)
        self.assertEqual(self.runs(), 1)
        self.assertEqual(self.hook(rule, self.body(), headers).json(), {"status": "ok", "duplicate": True})

    def test_async_api_key_call_runs_as_the_user_with_its_payload(self):
        rule = self.make_rule("record.write({'ref': payload['ref']})", webhook_async=True,
                              webhook_auth_mode="api_key")
        editor = new_test_user(self.env, login="webhook_async_editor",
                               groups="base.group_user,base.group_partner_manager")
        response = self.hook(rule, self.body(ref="from-async"), {"Authorization": f"bearer {self.make_key(editor)}"})
        self.assertEqual(response.status_code, 202, response.text)
        self.env["integration.webhook.call"]._worker_process_batch(10)
        self.partner.invalidate_recordset()
        self.assertEqual((self.partner.ref, self.partner.write_uid), ("from-async", editor))

    def test_form_payload_is_replayed(self):
        rule = self.make_rule("record.write({'ref': (record.ref or '') + payload['ref']})")
        response = requests.post(f"{self.base_url()}/web/hook/{rule.webhook_uuid}", timeout=60,
                                 data={"_model": "res.partner", "_id": str(self.partner.id), "ref": "F"})
        self.assertOk(response)
        self.calls(rule).action_replay()
        self.partner.invalidate_recordset()
        self.assertEqual(self.partner.ref, "FF")


@tagged("post_install", "-at_install")
class TestCopiedCoreMethods(TransactionCase):
    """``_webhook_execute_as`` repeats the series' ``_execute_webhook`` + ``_process`` without sudo: when
    a point release changes either, this fails on purpose, so that the copy is reviewed against it.
    (19.0's differ from 18.0's in reading ``env.context`` and stamping ``date_automation_last`` with
    the transaction's time, which the copy does on 19.0.)"""

    COPIED_FROM = {
        "18.0": {
            "_execute_webhook": "15cdad8124c23bd8b9d53d836099fc623bd38d817dc78b3749e3f84b4ae7bbe1",
            "_process": "f8063cbee8bdc168a5c2032d1616fa311965856ba902a682d6cb13dbc0db50e6",
        },
        "19.0": {
            "_execute_webhook": "15cdad8124c23bd8b9d53d836099fc623bd38d817dc78b3749e3f84b4ae7bbe1",
            "_process": "6ce92625c3a7c0365e6ab35d8bded24b857b32bb191e1fb13795b4973d32f03d",
        },
    }[series.SERIES]

    # the series' methods that a shortcut of the addon answers for in some cases (see each override)
    SHORTCUT_OF = {
        ("base_automation", "base.automation", "_check_trigger_fields"): {
            "18.0": "33d9544aa393d93562c69fbbc17c98dd7a7db07dc9aff0b0f3553f2400dc34d5",
            "19.0": "885433aa2a6a2615766535a03b4d895085ef701711f8635076fbb7b8ce88c739",
        }[series.SERIES],
        ("base", "ir.http", "_auth_method_public"):
            "921ad5d4698a3a3e93c120aa143ca4b3a06bd98d6d554f91b93e2c36b1b07944",
    }

    def test_the_core_methods_the_shortcuts_answer_for(self):
        for (module, model, name), digest in self.SHORTCUT_OF.items():
            with self.subTest(method=name):
                core = next(cls for cls in type(self.env[model]).mro()
                            if getattr(cls, "_module", None) == module and name in vars(cls))
                function = getattr(vars(core)[name], "__func__", vars(core)[name])
                source = inspect.getsource(function)
                self.assertEqual(hashlib.sha256(source.encode()).hexdigest(), digest,
                                 f"{series.SERIES}'s {model}.{name} changed: review the addon's override against it")

    def test_the_core_methods_are_those_the_copy_was_made_from(self):
        core = next(cls for cls in type(self.env["base.automation"]).mro()
                    if getattr(cls, "_module", None) == "base_automation" and "_process" in vars(cls))
        for name, digest in self.COPIED_FROM.items():
            with self.subTest(method=name):
                source = inspect.getsource(vars(core)[name])
                self.assertEqual(hashlib.sha256(source.encode()).hexdigest(), digest,
                                 f"{series.SERIES}'s base.automation.{name} changed: review _webhook_execute_as "
                                 "against it")
