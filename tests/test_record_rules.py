"""Record rules evaluate exactly as in 18.0: the addon adds nothing to how Odoo decides access."""
import inspect

from odoo.tests import new_test_user, tagged

from .common import IntegrationHttpCase

# the models through which Odoo decides who sees what
SECURITY_MODELS = ("ir.rule", "ir.model.access", "res.groups")


@tagged("post_install", "-at_install")
class TestRecordRules(IntegrationHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Company = cls.env["res.company"]  # noqa: N806
        cls.holding = Company.create({"name": "Holding"})
        cls.branch = Company.create({"name": "Branch", "parent_id": cls.holding.id})
        cls.sub_branch = Company.create({"name": "Sub-branch", "parent_id": cls.branch.id})
        cls.branch_user = new_test_user(
            cls.env, login="branch_user", groups="base.group_user",
            company_id=cls.branch.id, company_ids=[(6, 0, cls.branch.ids)],
        )
        cls.branch_key = cls.make_key(cls.branch_user)
        cls.partners = {
            name: cls.env["res.partner"].create({"name": f"rule-{name}", "company_id": company.id})
            for name, company in (("holding", cls.holding), ("branch", cls.branch),
                                  ("sub_branch", cls.sub_branch))
        }
        cls.partners["shared"] = cls.env["res.partner"].create({"name": "rule-shared", "company_id": False})

    def test_no_addon_code_in_the_security_models(self):
        """No class of the addon stands in the registry classes that evaluate rules and rights."""
        for name in SECURITY_MODELS:
            modules = {cls.__module__ for cls in type(self.env[name]).mro()}
            self.assertFalse({m for m in modules if m.startswith("odoo.addons.integration_suite")}, name)

    def test_rule_domains_are_built_by_18_0(self):
        """The cached domain is core's own function's answer, ``parent_of`` leaves as 18.0 writes them."""
        rules = self.env["ir.rule"].with_user(self.branch_user)
        compute = type(rules)._compute_domain
        self.assertEqual(inspect.getmodule(compute).__name__, "odoo.addons.base.models.ir_rule")
        domain = rules._compute_domain("res.partner", "read")
        self.assertIn(("company_id", "parent_of", self.branch.ids),
                      [tuple(leaf) if isinstance(leaf, list) else leaf for leaf in domain])

    def test_json2_answers_what_the_orm_answers(self):
        """A JSON/2 search_read returns exactly the records the ORM gives the same user, the
        company's ancestors resolved by 18.0 itself."""
        domain = [("name", "=like", "rule-%")]
        expected = self.env["res.partner"].with_user(self.branch_user).search(domain)
        self.assertEqual(set(expected.mapped("name")), {"rule-holding", "rule-branch", "rule-shared"})
        response = self.call("res.partner", "search_read", {"domain": domain, "fields": ["name"]},
                             key=self.branch_key)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(sorted(row["id"] for row in response.json()), sorted(expected.ids))
