import json
from datetime import datetime, timedelta
from unittest import mock, skipIf, skipUnless

import requests

from odoo import http as odoo_http
from odoo.tests import tagged
from odoo.tools import config, mute_logger

from odoo.addons.base.models import res_users
from odoo.addons.base.models.res_users import KEY_CRYPT_CONTEXT

from .. import patches, series
from ..dispatch import is_readonly
from .common import IntegrationHttpCase

if not series.V19:  # importing it on 19.0 would replace 19.0's own JSON-2 dispatcher
    from ..controllers import json2 as json2_controller
ONLY_18 = skipIf(series.V19, "the addon's own JSON/2 dispatcher of 18.0: on 19.0 the door is 19.0's own")


@tagged("post_install", "-at_install")
class TestJson2Calls(IntegrationHttpCase):
    def test_context_get_is_the_login_check(self):
        for spelling in ("bearer", "Bearer", "BEARER"):
            res = self.post("/json/2/res.users/context_get", {},
                            headers={"Authorization": f"{spelling}   {self.user_key}"})
            self.assertEqual(res.status_code, 200, res.text)
            self.assertEqual(res.json()["uid"], self.user.id)
            self.assertNotIn("Set-Cookie", res.headers)

    def test_search_read_named_arguments(self):
        self.env["res.partner"].create({"name": "Deco JSON2", "is_company": True})
        res = self.call("res.partner", "search_read", {
            "context": {"lang": "en_US"},
            "domain": [["name", "ilike", "%deco json%"], ["is_company", "=", True]],
            "fields": ["name", "create_date"], "offset": 0,
        })
        self.assertEqual(res.status_code, 200, res.text)
        [row] = res.json()
        self.assertEqual(row["name"], "Deco JSON2")
        self.assertRegex(row["create_date"], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")

    def test_create_returns_list_and_write_returns_true(self):
        res = self.call("res.partner", "create", {"vals_list": [{"name": "Zoë Ünïcode"}]})
        self.assertEqual(res.status_code, 200, res.text)
        ids = res.json()
        self.assertIsInstance(ids, list)
        self.assertEqual(self.env["res.partner"].browse(ids).name, "Zoë Ünïcode")
        # Content-Length counts bytes: non-ASCII bodies arrive whole
        res = self.call("res.partner", "read", {"ids": ids[0], "fields": ["name"]})
        self.assertEqual(int(res.headers["Content-Length"]), len(res.content))
        self.assertEqual(res.json()[0]["name"], "Zoë Ünïcode")
        res = self.call("res.partner", "write", {"ids": ids, "vals": {"name": "Renamed"}})
        self.assertIs(res.json(), True)

    def test_context_replaces_the_user_context(self):
        self.admin.tz = "Europe/Brussels"
        fields = "fields" if series.V19 else "default_fields"  # default_get's argument, renamed in 19.0
        res = self.call("res.partner", "default_get", {fields: ["tz", "name"]})
        self.assertEqual(res.status_code, 200, res.text)
        self.assertFalse(res.json().get("tz"), "an omitted context is an empty context")
        res = self.call("res.partner", "default_get", {
            fields: ["tz", "name"], "context": {"tz": "Asia/Tokyo", "default_name": "Ctx"},
        })
        self.assertEqual(res.status_code, 200, res.text)
        self.assertEqual(res.json()["tz"], "Asia/Tokyo")
        self.assertEqual(res.json()["name"], "Ctx")

    def test_failing_call_rolls_back(self):
        with mute_logger("odoo.sql_db", "odoo.http"):
            res = self.call("res.partner", "create", {"vals_list": [
                {"name": "rolled back first"}, {"name": "second", "parent_id": 2 ** 31 - 1},
            ]})
        self.assertError(res, 404, "odoo.exceptions.MissingError")
        self.assertFalse(self.env["res.partner"].search([("name", "=", "rolled back first")]))

    def test_method_with_own_model_argument(self):
        # path placeholders never shadow a method's parameter called ``model``
        res = self.call("ir.model.data", "check_object_reference",
                        {"module": "base", "xml_id": "user_admin"})
        self.assertEqual(res.status_code, 200, res.text)
        self.assertEqual(res.json(), ["res.users", self.admin.id])

    @ONLY_18
    def test_readonly_flags(self):
        self.assertTrue(is_readonly(self.registry["res.partner"], "search_read"))
        self.assertFalse(is_readonly(self.registry["res.partner"], "write"))
        readonly = json2_controller.readonly_for_path
        self.assertTrue(readonly(self.registry, "/json/2/res.partner/search_read"))
        self.assertFalse(readonly(self.registry, "/json/2/res.partner/write"))
        self.assertTrue(readonly(self.registry, "/json/2/no.such.model/write"))


@tagged("post_install", "-at_install")
class TestJson2Errors(IntegrationHttpCase):
    def test_401_missing_and_bad_key(self):
        for headers in ({}, {"Authorization": "bearer not-a-key"}, {"Authorization": "Basic abc"}):
            res = self.post("/json/2/res.users/context_get", {}, headers=headers)
            self.assertError(res, 401, "werkzeug.exceptions.Unauthorized")
            self.assertEqual(res.headers["WWW-Authenticate"].strip().lower(), "bearer")

    def test_scoped_key_only_for_rpc(self):
        other = self.make_key(self.user, scope="someotherscope")
        self.assertError(self.call("res.users", "context_get", key=other), 401)
        rpc = self.make_key(self.user, scope="rpc")
        self.assertEqual(self.call("res.users", "context_get", key=rpc).status_code, 200)

    def test_400_bad_json_and_non_object(self):
        body = self.assertError(self.call("res.partner", "search", raw=b"{bad"), 400)
        self.assertIn("could not parse the body as json", body["message"])
        self.assertError(self.call("res.partner", "search", raw=b"\xff\xfe\x00garbage"), 400)
        if series.V19:  # 19.0's own door calls the method without the body's values (a 422)
            return
        for raw in (b"null", b"[1, 2]", b'"text"'):
            body = self.assertError(self.call("res.partner", "search", raw=raw), 400)
            self.assertIn("expecting a json object", body["message"])

    @ONLY_18  # 19.0's own door answers 500 (RecursionError)
    def test_400_deeply_nested(self):
        raw = ('{"domain": ' + "[" * 5000 + "]" * 5000 + "}").encode()
        self.assertError(self.call("res.partner", "search", raw=raw), 400)

    @ONLY_18
    def test_413_huge_body(self):
        with mock.patch.object(json2_controller, "MAX_BODY_SIZE", 1024):
            res = self.call("res.partner", "search", raw=json.dumps({"domain": [], "x": "a" * 4096}))
        self.assertError(res, 413)

    def test_415_wrong_content_type(self):
        res = self.call("res.partner", "search", raw=b"domain=[]",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertDoorError(res, 415, "werkzeug.exceptions.UnsupportedMediaType")
        res = self.call("res.partner", "search", raw=b"{}", headers={"Content-Type": "text/plain"})
        self.assertDoorError(res, 415)
        # charset parameter and an empty body are fine
        res = self.call("res.partner", "search_count", {"domain": []},
                        headers={"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(res.status_code, 200)
        res = self.post("/json/2/res.users/context_get", key=self.user_key, raw=b"",
                        headers={"Content-Type": "text/plain"})
        self.assertEqual(res.status_code, 200, res.text)

    def test_403_private_and_forbidden(self):
        # 19.0's own door checks the arguments of some of these first (a 422)
        for method in ("_read",) if series.V19 else ("_read", "init", "__init__", "mro", "clear_caches",
                                                     "is_transient"):
            self.assertError(self.call("res.partner", method), 403, "odoo.exceptions.AccessError")
        # a plain internal user cannot read settings
        res = self.call("ir.config_parameter", "search_read", {"domain": []}, key=self.user_key)
        body = self.assertError(res, 403, "odoo.exceptions.AccessError")
        if not series.V19:  # 19.0's own door answers the traceback to everyone
            self.assertEqual(body["debug"], "", "no traceback for non-administrators")

    def test_record_rules_apply(self):
        self.make_key(self.admin)  # someone else's key the user must not see
        res = self.call("res.users.apikeys", "search_read", {"domain": [], "fields": ["user_id"]},
                        key=self.user_key)
        self.assertEqual(res.status_code, 200, res.text)
        self.assertTrue(res.json())
        self.assertEqual({row["user_id"][0] for row in res.json()}, {self.user.id})

    def test_404_unknown_model_method_and_paths(self):
        self.assertError(self.call("no.such.model", "search"), 404, "werkzeug.exceptions.NotFound",
                         "the model 'no.such.model' does not exist")
        self.assertError(self.call("rés.pärtner", "search"), 404)
        self.assertError(self.call("res.partner", "no_such_method"), 404, None, "does not exist")
        self.assertError(self.call("res.partner", "_fields"), 403)
        for verb in ("GET", "PUT", "DELETE", "PATCH"):
            res = requests.request(verb, self.base_url() + "/json/2/res.partner/search",
                                   timeout=30, allow_redirects=False)
            self.assertError(res, 404, None, "Did you mean POST /json/2/<model>/<method>?")
        for path in ("/json/2", "/json/2/", "/json/2/a/b/c"):
            res = requests.post(self.base_url() + path, timeout=30, allow_redirects=False)
            self.assertError(res, 404, None, "Did you mean POST")

    def test_422_argument_errors(self):
        body = self.assertError(self.call("res.partner", "search", {}), 422)
        self.assertIn("missing a required argument: 'domain'", body["message"])
        self.assertError(self.call("res.partner", "search", {"domain": [], "bogus": 1}), 422,
                         None, "unexpected keyword argument 'bogus'")
        if series.V19:  # the rest is the addon's checks of 18.0's door; 19.0's own checks differ
            return
        self.assertError(self.call("res.partner", "search", {"domain": [], "ids": [1]}), 422,
                         None, "cannot call res.partner.search with ids")
        for ids in ("1", [1, "2"], {"a": 1}, True, 0, [0], -1, [3, -2], [False]):
            self.assertError(self.call("res.partner", "read", {"ids": ids}), 422, None, "ids must be")
        for name in ("self", "__model__", "__method__"):
            self.assertError(self.call("res.partner", "search", {"domain": [], name: 1}), 422,
                             "werkzeug.exceptions.UnprocessableEntity", repr(name))
        self.assertError(self.call("res.partner", "read", {"ids": [1], "context": "fr"}), 422)
        with mute_logger("odoo.http"):
            self.assertError(self.call("res.partner", "write", {"ids": [1], "vals": {"name": False}}), 422)

    @ONLY_18  # 19.0's own door answers the traceback to everyone
    def test_500_server_error_hides_traceback(self):
        with mute_logger("odoo.http"):
            res = self.call("res.partner", "search_read", {"domain": [["no_such_field", "=", 1]]},
                            key=self.user_key)
        body = self.assertError(res, 500, "builtins.ValueError")
        self.assertEqual(body["debug"], "")
        with mute_logger("odoo.http"):
            res = self.call("res.partner", "search_read", {"domain": [["no_such_field", "=", 1]]})
        self.assertIn("Traceback", self.assertError(res, 500)["debug"], "administrators get it")

    def test_404_missing_record(self):
        with mute_logger("odoo.http"):
            res = self.call("res.partner", "write", {"ids": [2 ** 31 - 2], "vals": {"name": "x"}})
        self.assertError(res, 404, "odoo.exceptions.MissingError")


@tagged("post_install", "-at_install")
@skipUnless(patches.server_wide(), "X-Odoo-Database needs the addon loaded server-wide (--load=...,integration_suite)")
class TestJson2Database(IntegrationHttpCase):
    def test_header_absent_empty_or_this_database(self):
        for value in (None, "", self.env.cr.dbname):
            headers = {} if value is None else {"X-Odoo-Database": value}
            res = self.call("res.users", "context_get", headers=headers)
            self.assertEqual(res.status_code, 200, (value, res.text))

    def test_sessionless_calls_without_the_header_reuse_one_listing(self):
        import odoo.service.db

        from ..patches import http as patched_http

        dbname = self.env.cr.dbname
        patched_http._listings.clear()
        with mock.patch.object(odoo.service.db, "list_dbs", return_value=[dbname]) as listing:
            for _call in range(3):
                self.assertEqual(self.call("res.users", "context_get").status_code, 200)
            self.assertEqual(listing.call_count, 1, "one listing for the three calls")
            odoo.service.db.exp_drop("no_such_database")  # what changes the set of databases forgets it
            self.assertEqual(self.call("res.users", "context_get").status_code, 200)
            self.assertEqual(listing.call_count, 3, "listed again after the change (once by exp_drop)")
            patched_http._listings[True] = (0.0, [dbname])  # expired
            self.assertEqual(self.call("res.users", "context_get").status_code, 200)
            self.assertEqual(listing.call_count, 4, "listed again once the listing expired")
            patched_http._listings.clear()
            listing.return_value = []  # what 18.0's list_dbs answers when listing fails
            for _call in range(2):
                self.call("res.users", "context_get")
            self.assertEqual(listing.call_count, 6, "a failed listing is not kept")
            self.assertNotIn(True, patched_http._listings)

    def test_header_call_is_stateless_and_lists_no_database(self):
        with mock.patch.object(odoo_http, "db_list", wraps=odoo_http.db_list) as listing:
            res = self.call("res.users", "context_get", headers={"X-Odoo-Database": self.env.cr.dbname})
            self.assertEqual(res.status_code, 200, res.text)
            self.assertEqual(listing.call_count, 0)
            self.assertNotIn("Set-Cookie", res.headers)
            self.call("res.users", "context_get")
            self.assertGreater(listing.call_count, 0, "without the header 18.0 lists databases")

    def test_header_unknown_or_filtered_database(self):
        if series.V19:
            self.skipTest("19.0's own X-Odoo-Database opens the registry of any name dbfilter lets through "
                          "(its answer for a missing database is a 500)")
        with self.assertNoLogs("odoo", "WARNING"), mock.patch.dict(config.options, {"dbfilter": ".*"}):
            # names dbfilter lets through: no registry tried, no traceback, never a connection URI
            for name in ("no_such_db_x", "postgresql://127.0.0.1/" + self.env.cr.dbname, "../x"):
                res = self.call("res.users", "context_get", headers={"X-Odoo-Database": name})
                self.assertDoorError(res, 404, "werkzeug.exceptions.NotFound", "does not exist")
        with mock.patch.dict(config.options, {"dbfilter": "^nothing-matches$"}):
            res = self.call("res.users", "context_get", headers={"X-Odoo-Database": self.env.cr.dbname})
        self.assertEqual(res.status_code, 404)

    def test_cookie_and_other_database_is_403(self):
        self.authenticate("admin", "admin")
        res = self.post("/json/2/res.users/context_get", {}, key=self.admin_key,
                        headers={"X-Odoo-Database": "another_db"}, session=self.opener)
        self.assertDoorError(res, 403, "werkzeug.exceptions.Forbidden", "Cannot use both")
        res = self.post("/json/2/res.users/context_get", {}, key=self.admin_key,
                        headers={"X-Odoo-Database": self.env.cr.dbname}, session=self.opener)
        self.assertEqual(res.status_code, 200, res.text)

    def test_session_without_key_needs_browser_headers(self):
        self.authenticate("admin", "admin")
        res = self.post("/json/2/res.users/context_get", {}, session=self.opener)
        self.assertError(res, 401, None, "Sec-headers")
        res = self.post("/json/2/res.users/context_get", {}, session=self.opener, key=self.user_key)
        self.assertError(res, 403, "odoo.exceptions.AccessDenied")


@tagged("post_install", "-at_install")
class TestJson2KeyCache(IntegrationHttpCase):
    def _count_verifications(self, calls, key):
        context = mock.Mock(wraps=KEY_CRYPT_CONTEXT)
        with mock.patch.object(res_users, "KEY_CRYPT_CONTEXT", context):
            codes = [self.call("res.users", "context_get", key=key).status_code for _ in range(calls)]
        return codes, context.verify.call_count

    def test_verified_once_per_process(self):
        self.env.registry.clear_cache()
        codes, verifications = self._count_verifications(3, self.user_key)
        self.assertEqual(codes, [200, 200, 200])
        self.assertEqual(verifications, 1)
        digests = self.env["res.users.apikeys"]._verified_key_cache()
        self.assertEqual(len(digests), 1)
        self.assertNotIn(self.user_key.encode(), b"".join(digests), "never the key itself")

    def _cached_then(self, sql, key):
        """Warm the cache with ``key``, change the database behind the ORM's back, call again."""
        for _attempt in range(2):
            self.assertEqual(self.call("res.users", "context_get", key=key).status_code, 200)
        self.env.registry.cache_invalidated.clear()
        self.env.flush_all()
        self.env.cr.execute(sql)
        self.env.invalidate_all()
        self.assertFalse(self.env.registry.cache_invalidated, "nothing signals the caches")
        return self.call("res.users", "context_get", key=key)

    def test_sql_removal_is_refused_at_once(self):
        key = self.make_key(self.user)
        res = self._cached_then(f"DELETE FROM res_users_apikeys WHERE user_id = {self.user.id}", key)
        self.assertError(res, 401)
        self.assertEqual(res.headers.get("WWW-Authenticate", "").strip().lower(), "bearer")

    def test_sql_archiving_of_the_user_is_refused_at_once(self):
        key = self.make_key(self.user)
        self.assertError(self._cached_then(f"UPDATE res_users SET active = false WHERE id = {self.user.id}", key), 401)

    def test_expiry_is_never_outlived(self):
        key = self.make_key(self.user, expiration=datetime.utcnow() + timedelta(days=1))
        Keys = type(self.env["res.users.apikeys"])
        self.assertEqual(self.call("res.users", "context_get", key=key).status_code, 200)
        with mock.patch.object(Keys, "_check_credentials", autospec=True,
                               side_effect=Keys._check_credentials) as native:
            self.assertEqual(self.call("res.users", "context_get", key=key).status_code, 200)
            self.assertEqual(native.call_count, 0, "pbkdf2 not paid again")
        sql = ("UPDATE res_users_apikeys SET expiration_date = now() AT TIME ZONE 'utc' - interval '1 second' "
               f"WHERE user_id = {self.user.id}")
        self.assertError(self._cached_then(sql, key), 401)

    def test_malformed_bearer_tokens_are_401(self):
        for token in ("\x00abc", "   ", "a" * 5000, "\tkey", "ké"):
            res = self.post("/json/2/res.users/context_get", {}, headers={"Authorization": f"bearer {token}"})
            body = self.assertError(res, 401)
            self.assertEqual(res.headers.get("WWW-Authenticate", "").strip().lower(), "bearer", (token[:10], body))
