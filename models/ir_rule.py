from odoo import api, models, tools
from odoo.tools import config


class IrRule(models.Model):
    _inherit = "ir.rule"

    @api.model
    @tools.conditional(
        "xml" not in config["dev_mode"],
        tools.ormcache("self.env.uid", "self.env.su", "model_name", "mode",
                       "tuple(self._compute_domain_context_values())"),
    )
    def _compute_domain(self, model_name, mode="read"):
        """Core's cached rule domain, with its company ``parent_of`` leaves already expanded.

        Multi-company rules such as ``('company_id', 'parent_of', company_ids)`` on partners are
        expanded by the ORM on every search: one ``res_company`` fetch and a sub-search per
        call, the largest part of a small API call. A company's ancestors never change in 18.0
        (``res.company.write`` refuses a new ``parent_id``, and creating a company clears this
        cache), so the expansion can live in the same cache as the domain it belongs to.
        """
        domain = super()._compute_domain(model_name, mode)
        if not domain:
            return domain
        return self._expand_company_parent_of(self.env[model_name], domain)

    def _expand_company_parent_of(self, model, domain):
        """``domain`` with each ``(path, 'parent_of', ids)`` ending on a company turned into
        ``(path, 'in', ancestor_ids)``; any other leaf, and any id that is not a company, is
        left to the ORM as it was."""
        expanded = []
        for leaf in domain:
            if isinstance(leaf, (list, tuple)) and len(leaf) == 3:
                path, operator, value = leaf
                if operator in ("any", "not any") and isinstance(value, list):
                    comodel = self._company_path_comodel(model, path, any_leaf=True)
                    if comodel is not None:
                        leaf = (path, operator, self._expand_company_parent_of(comodel, value))
                elif operator == "parent_of" and self._company_path_comodel(model, path) is not None:
                    ancestors = self._company_ancestor_ids(value)
                    if ancestors is not None:
                        leaf = (path, "in", ancestors)
            expanded.append(leaf)
        return expanded

    def _company_path_comodel(self, model, path, any_leaf=False):
        """For ``parent_of``: ``res.company`` when ``path`` ends on a company relation whose
        ``parent_of`` means "the companies above" (not a model's own parent field); for
        ``any``: the model the subdomain applies to. ``None`` for anything else."""
        if not isinstance(path, str):
            return None
        names = path.split(".")
        for index, name in enumerate(names):
            last = index == len(names) - 1
            if last and not any_leaf and name == "id":
                return model if model._name == "res.company" else None
            field = model._fields.get(name)
            if field is None or field.type not in ("many2one", "one2many", "many2many"):
                return None
            if last and not any_leaf:
                if field.type == "one2many" or field.comodel_name != "res.company" \
                        or model._name == "res.company":
                    return None
            model = self.env[field.comodel_name]
        return model

    def _company_ancestor_ids(self, value):
        """The ids of the companies ``value`` names and of all their parents, from their
        ``parent_path``; ``None`` (leave the leaf alone) for names or unknown ids."""
        ids = [value] if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(ids, (list, tuple)) or not all(isinstance(i, int) for i in ids):
            return None
        ids = [i for i in ids if i]
        if not ids:
            return []
        companies = self.env["res.company"].sudo().with_context(active_test=False).browse(ids)
        paths = companies.exists().mapped("parent_path")
        if len(paths) != len(set(ids)) or not all(paths):
            return None
        return sorted({int(part) for path in paths for part in path.split("/") if part})
