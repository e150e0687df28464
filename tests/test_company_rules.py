"""Multi-company record rules with their company ``parent_of`` leaves expanded once, in cache."""
from odoo.osv import expression
from odoo.tests import new_test_user, tagged

from .common import IntegrationHttpCase


def leaves(domain):
    """Every leaf of ``domain``, those inside ``any`` subdomains included."""
    for leaf in domain:
        if isinstance(leaf, (list, tuple)) and len(leaf) == 3:
            yield tuple(leaf)
            if leaf[1] in ("any", "not any") and isinstance(leaf[2], list):
                yield from leaves(leaf[2])


@tagged("post_install", "-at_install")
class TestCompanyRules(IntegrationHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Company = cls.env["res.company"]  # noqa: N806
        cls.holding = Company.create({"name": "Holding"})
        cls.branch = Company.create({"name": "Branch", "parent_id": cls.holding.id})
        cls.sub_branch = Company.create({"name": "Sub-branch", "parent_id": cls.branch.id})
        cls.other = Company.create({"name": "Other"})
        cls.branch_user = new_test_user(
            cls.env, login="branch_user", groups="base.group_user",
            company_id=cls.branch.id, company_ids=[(6, 0, cls.branch.ids)],
        )
        cls.branch_key = cls.make_key(cls.branch_user)
        # customers (partner_share) are what the company rule filters
        cls.partners = {
            name: cls.env["res.partner"].create({"name": f"rule-{name}", "company_id": company.id})
            for name, company in (("holding", cls.holding), ("branch", cls.branch),
                                  ("sub_branch", cls.sub_branch), ("other", cls.other))
        }
        cls.partners["shared"] = cls.env["res.partner"].create({"name": "rule-shared", "company_id": False})

    def visible(self, user):
        return set(self.env["res.partner"].with_user(user).search([("name", "=like", "rule-%")]).mapped("name"))

    def test_rule_domain_has_the_ancestors_not_parent_of(self):
        domain = self.env["ir.rule"].with_user(self.branch_user)._compute_domain("res.partner", "read")
        found = list(leaves(domain))
        self.assertNotIn("parent_of", [operator for _path, operator, _value in found])
        self.assertIn(("company_id", "in", sorted((self.holding | self.branch).ids)), found)

    def test_same_records_as_the_orm_expansion(self):
        """The branch user sees the partners of its company and of the companies above it, as
        core's ``parent_of`` gives them; not those of a sub-branch or another company."""
        self.assertEqual(self.visible(self.branch_user), {"rule-holding", "rule-branch", "rule-shared"})
        raw = [("company_id", "parent_of", self.branch.ids)]
        self.assertEqual(
            set(self.env["res.partner"].search(expression.AND([raw, [("name", "=like", "rule-%")]])).mapped("name")),
            {"rule-holding", "rule-branch"},
        )

    def test_inherited_models_get_the_expansion_too(self):
        """``res.users`` carries the partner rule as an ``any`` subdomain (``_inherits``)."""
        domain = self.env["ir.rule"].with_user(self.branch_user)._compute_domain("res.users", "read")
        self.assertNotIn("parent_of", [operator for _path, operator, _value in leaves(domain)])

    def test_new_companies_and_company_changes_are_seen(self):
        """Creating a company clears the cache; a user's companies are part of the cache key."""
        self.assertEqual(self.visible(self.branch_user), {"rule-holding", "rule-branch", "rule-shared"})
        self.branch_user.company_ids = [(4, self.sub_branch.id)]
        self.assertEqual(self.visible(self.branch_user),
                         {"rule-holding", "rule-branch", "rule-sub_branch", "rule-shared"})
        late = self.env["res.company"].create({"name": "Late branch", "parent_id": self.other.id})
        self.branch_user.write({"company_ids": [(6, 0, late.ids)], "company_id": late.id})
        self.assertEqual(self.visible(self.branch_user), {"rule-other", "rule-shared"})

    def test_leaves_it_cannot_prove_are_left_to_the_orm(self):
        Rule = self.env["ir.rule"]  # noqa: N806
        partner = self.env["res.partner"]
        kept = [
            ("company_id", "parent_of", "Holding"),            # a name: the ORM searches it
            ("company_id", "parent_of", [self.branch.id, 10**9]),  # an id that is no company
            ("parent_id", "parent_of", [self.partners["branch"].id]),  # another hierarchy
            ("company_id.parent_id", "parent_of", self.branch.ids),  # a company's own parent field
        ]
        for leaf in kept:
            self.assertEqual(Rule._expand_company_parent_of(partner, [leaf]), [leaf])
        self.assertEqual(
            Rule._expand_company_parent_of(self.env["res.company"], [("id", "parent_of", self.sub_branch.id)]),
            [("id", "in", sorted((self.holding | self.branch | self.sub_branch).ids))],
        )
        self.assertEqual(Rule._expand_company_parent_of(partner, [("company_id", "parent_of", [False])]),
                         [("company_id", "in", [])])

    def test_a_warm_search_costs_one_query(self):
        """The rule's companies are not fetched again on every search: only the COUNT runs."""
        partners = self.env["res.partner"].with_user(self.branch_user)
        partners.search_count([])
        self.env.invalidate_all()
        with self.assertQueryCount(1):
            partners.search_count([])

    def test_json2_answers_from_the_expanded_rule(self):
        body = {"domain": [("name", "=like", "rule-%")], "fields": ["name"]}
        response = self.call("res.partner", "search_read", body, key=self.branch_key)
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual({row["name"] for row in response.json()},
                         {"rule-holding", "rule-branch", "rule-shared"})
