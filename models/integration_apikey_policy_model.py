from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class IntegrationApikeyPolicyModel(models.Model):
    """One model a restricted key may use, with its rights and extra methods named one by one.

    Read covers the methods Odoo marks read-only (``api.readonly``) and ``fields_get``; write covers
    ``write``, ``web_save`` on records, ``toggle_active``, ``action_archive`` / ``action_unarchive`` and
    public ``action_*`` / ``button_*`` methods; create covers ``create``, ``name_create``, ``copy`` and
    ``web_save`` without records; delete is ``unlink``. Any other method is refused unless named here.
    """

    _name = "integration.apikey.policy.model"
    _description = "API key restrictions: a model"
    _order = "policy_id, model_name, id"

    policy_id = fields.Many2one("integration.apikey.policy", required=True, ondelete="cascade", index=True)
    user_id = fields.Many2one(related="policy_id.user_id", store=True, index=True)
    model_id = fields.Many2one("ir.model", required=True, ondelete="cascade",
                               domain=[("transient", "=", False)])
    model_name = fields.Char(related="model_id.model", store=True, string="Technical Name")
    perm_read = fields.Boolean(string="Read", default=True)
    perm_write = fields.Boolean(string="Write")
    perm_create = fields.Boolean(string="Create")
    perm_unlink = fields.Boolean(string="Delete")
    extra_methods = fields.Char(help="Other public methods this key may call on the model, separated by commas "
                                     "(for instance message_post, action_confirm).")

    @api.constrains("extra_methods")
    def _check_extra_methods(self):
        for line in self:
            for name in (line.extra_methods or "").replace(",", " ").split():
                if name.startswith("_") or not name.isidentifier():
                    raise ValidationError(_("“%s” is not the name of a public method.", name))

    @api.model_create_multi
    def create(self, vals_list):
        self.env["integration.apikey.policy"]._check_administrator()
        lines = super().create(vals_list)
        lines.policy_id._bump_revision()
        return lines

    def write(self, vals):
        self.env["integration.apikey.policy"]._check_administrator()
        policies = self.policy_id
        result = super().write(vals)
        (policies | self.policy_id)._bump_revision()
        return result

    def unlink(self):
        self.env["integration.apikey.policy"]._check_administrator()
        policies = self.policy_id
        result = super().unlink()
        policies.exists()._bump_revision()
        return result
