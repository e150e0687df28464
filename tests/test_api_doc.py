import requests

from odoo import Command
from odoo.tests import tagged
from odoo.tools import mute_logger

from .. import series
from .common import IntegrationHttpCase, require_test_tool


@tagged("post_install", "-at_install")
class TestApiDoc(IntegrationHttpCase):
    def get(self, path, key=None):
        return requests.get(self.base_url() + path, timeout=120,
                            headers={"Authorization": f"Bearer {key or self.user_key}"})

    def test_model_description_shape(self):
        for verb in ("GET", "POST"):
            res = requests.request(verb, self.base_url() + "/doc-bearer/res.partner.json", timeout=60,
                                   headers={"Authorization": f"bearer {self.user_key}"})
            self.assertEqual(res.status_code, 200, res.text)
        doc = res.json()
        self.assertEqual(list(doc), ["model", "name", "doc", "fields", "methods"])
        self.assertEqual(doc["model"], "res.partner")
        self.assertEqual(doc["fields"]["name"]["type"], "char")
        search_read = doc["methods"]["search_read"]
        self.assertEqual(list(search_read["parameters"])[:5], ["domain", "fields", "offset", "limit", "order"])
        if series.V19:  # 19.0's own document: the parameter's annotation and doc, no name
            self.assertEqual(search_read["parameters"]["offset"]["default"], 0)
        else:
            self.assertEqual(search_read["parameters"]["offset"], {"name": "offset", "default": 0})
        self.assertIn("readonly", search_read["api"])
        self.assertEqual(doc["methods"]["search"]["api"], ["model", "readonly"])
        self.assertEqual(doc["methods"]["create"]["api"], ["model"])
        self.assertEqual(doc["methods"]["write"].get("api", []), [], "19.0 leaves out an empty list")
        self.assertEqual(doc["methods"]["search_count"]["module"], "core" if series.V19 else "base")
        if not series.V19:  # 19.0's own document names the module that defines the method
            self.assertEqual(doc["methods"]["write"]["module"], "snailmail", "the last override's module")
        self.assertNotIn("_read", doc["methods"])
        self.assertNotIn("clear_caches", doc["methods"])
        # the ETag turns a repeat into a 304
        res2 = requests.get(self.base_url() + "/doc-bearer/res.partner.json", timeout=60, headers={
            "Authorization": f"bearer {self.user_key}", "If-None-Match": res.headers["ETag"]})
        self.assertEqual(res2.status_code, 304)

    def test_index_and_access(self):
        res = self.get("/doc-bearer/index.json")
        self.assertEqual(res.status_code, 200, res.text)
        index = res.json()
        self.assertIn("integration_suite", index["modules"])
        models = {m["model"]: m for m in index["models"]}
        self.assertIn("res.partner", models)
        self.assertNotIn("ir.config_parameter", models, "only models the user may read")
        self.assertIn("search_read", models["res.partner"]["methods"])
        self.assertError(self.get("/doc-bearer/no.such.model.json"), 404)
        with mute_logger("odoo.http"):
            self.assertError(self.get("/doc-bearer/ir.config_parameter.json"), 403)
        self.assertError(requests.get(self.base_url() + "/doc-bearer/res.partner.json", timeout=30), 401)

    def test_openapi_document_is_valid(self):
        res = self.get("/doc-bearer/openapi.json?models=res.partner,res.users")
        self.assertEqual(res.status_code, 200, res.text)
        doc = res.json()
        validate = require_test_tool("openapi_spec_validator", "openapi-spec-validator").validate
        validate(doc)  # raises on an invalid OpenAPI 3.1 document
        self.assertEqual(doc["openapi"], "3.1.0")
        operation = doc["paths"]["/json/2/res.partner/search_read"]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        self.assertIn("domain", schema["properties"])
        self.assertNotIn("ids", doc["paths"]["/json/2/res.partner/search"]["post"]["requestBody"]
                         ["content"]["application/json"]["schema"]["properties"])
        self.assertEqual(schema["required"], [])
        self.assertEqual(doc["paths"]["/json/2/res.partner/search"]["post"]["requestBody"]
                         ["content"]["application/json"]["schema"]["required"], ["domain"])
        self.assertFalse(any(path.startswith("/json/2/ir.config_parameter/") for path in doc["paths"]))
        # the full document also validates
        validate(self.get("/doc-bearer/openapi.json").json())

    def test_schemathesis_against_the_document(self):
        """Fuzz safe read methods: every answer is declared, JSON, and never leaks a traceback."""
        hypothesis = require_test_tool("hypothesis", "hypothesis")
        schemathesis_openapi = require_test_tool("schemathesis.openapi", "schemathesis")
        checks = require_test_tool("schemathesis.specs.openapi.checks", "schemathesis")
        doc = self.get("/doc-bearer/openapi.json?models=res.partner,res.country"
                       "&methods=search_count,search_read,read,name_search,fields_get").json()
        schema = schemathesis_openapi.from_dict(doc)
        headers = {"Authorization": f"bearer {self.user_key}"}
        seen = []
        for result in schema.get_all_operations():
            operation = result.ok()

            @hypothesis.settings(max_examples=15, deadline=None, database=None, derandomize=True,
                                 suppress_health_check=list(hypothesis.HealthCheck))
            @hypothesis.given(case=operation.as_strategy())
            def check(case):
                with mute_logger("odoo.http", "odoo.sql_db"):
                    response = case.call(base_url=self.base_url(), headers=headers)
                case.validate_response(response, checks=[
                    checks.status_code_conformance, checks.content_type_conformance,
                    checks.response_schema_conformance,
                ])
                if response.status_code >= 400 and not series.V19:  # 19.0's own door answers its traceback
                    self.assertEqual(response.json()["debug"], "")
                self.assertNotEqual(response.status_code, 401)
                seen.append(response.status_code)

            check()
        self.assertIn(200, seen)
        self.assertGreaterEqual(len(seen), 50)


@tagged("post_install", "-at_install")
class TestOdooClientLib(IntegrationHttpCase):
    """Odoo SA's own JSON-2 client (odoo-client-lib 2.x) against 18.0 + this addon."""

    @classmethod
    def setUpClass(cls):
        cls.odoolib = require_test_tool("odoolib", "odoo-client-lib")
        super().setUpClass()
        cls.user.write({series.GROUPS_FIELD: [Command.link(cls.env.ref("base.group_partner_manager").id)]})

    def connection(self):
        host, port = self.base_url().split("//")[1].split(":")
        return self.odoolib.get_connection(hostname=host, port=int(port), protocol="json2",
                                      database=self.env.cr.dbname, password=self.user_key)

    def test_named_and_positional_calls(self):
        connection = self.connection()
        self.assertEqual(connection.get_user_context()["uid"], self.user.id)
        partners = connection.get_model("res.partner")
        [new_id] = partners.create(vals_list=[{"name": "Client Lib Partner"}])
        # positional arguments are mapped to names through /doc-bearer
        found = partners.search([("name", "=", "Client Lib Partner")])
        self.assertEqual(found, [new_id])
        record = partners.read([new_id], ["name"])
        self.assertEqual(record["name"], "Client Lib Partner")
        self.assertTrue(partners.write([new_id], {"name": "Renamed by client"}))
        self.assertEqual(partners.search_count(domain=[("name", "=", "Renamed by client")]), 1)
        with self.assertRaises(ValueError):  # 422 is mapped to ValueError by the client
            partners.search(bogus=1)

    def test_bad_key_is_an_authentication_error(self):
        host, port = self.base_url().split("//")[1].split(":")
        connection = self.odoolib.get_connection(hostname=host, port=int(port), protocol="json2",
                                            database=self.env.cr.dbname, password="wrong")
        with self.assertRaises(require_test_tool("odoolib.tools", "odoo-client-lib").AuthenticationError):
            connection.get_model("res.partner").search_count(domain=[])
