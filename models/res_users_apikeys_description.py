from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from odoo.addons.base.models.res_users import INDEX_SIZE

from ..dispatch.restrictions import parse_networks
from .integration_apikey_policy import MODEL_ACCESS


class ResUsersApikeysDescription(models.TransientModel):
    """*New API Key*: the owner restricts the key when creating it (administrators refine it later)."""

    _inherit = "res.users.apikeys.description"

    integration_read_only = fields.Boolean(
        string="Read-only", help="Only read methods, in a read-only database transaction.")
    integration_model_ids = fields.Many2many(
        "ir.model", string="Only These Models", domain=[("transient", "=", False)],
        help="Empty: any model you may use.")
    integration_model_access = fields.Selection(MODEL_ACCESS, string="On These Models", default="read")
    integration_extra_methods = fields.Char(
        string="Extra Methods", help="Other public methods the key may call on these models, separated by commas.")
    integration_allowed_addresses = fields.Char(
        string="Only From", help="IP addresses and CIDR blocks, separated by commas. Empty: any address.")
    integration_rate_limit = fields.Integer(string="At Most (calls/minute)", help="0: no limit.")

    @api.constrains("integration_allowed_addresses", "integration_rate_limit")
    def _check_integration_restrictions(self):
        for wizard in self:
            try:
                parse_networks(wizard.integration_allowed_addresses)
            except ValueError as exc:
                raise ValidationError(_("Allowed source addresses: %s", exc)) from None
            if wizard.integration_rate_limit < 0:
                raise ValidationError(_("The rate limit cannot be negative."))

    def _integration_policy_values(self):
        self.ensure_one()
        values = {
            "read_only": self.integration_read_only,
            "allowed_addresses": (self.integration_allowed_addresses or "").strip() or False,
            "rate_limit": self.integration_rate_limit,
            "line_ids": self.env["integration.apikey.policy"]._lines_from_access(
                self.integration_model_ids, "read" if self.integration_read_only else self.integration_model_access,
                self.integration_extra_methods),
        }
        restricted = values["read_only"] or values["allowed_addresses"] or values["rate_limit"] or values["line_ids"]
        return values if restricted else None

    def make_key(self):
        values = self._integration_policy_values()
        action = super().make_key()  # may be the identity check first: then called again after it
        key = (action or {}).get("context", {}).get("default_key")
        if key and values:
            self.env.cr.execute("SELECT id FROM res_users_apikeys WHERE user_id = %s AND index = %s "
                                "ORDER BY id DESC LIMIT 1", [self.env.uid, key[:INDEX_SIZE]])
            key_id = self.env.cr.fetchone()[0]
            self.env["integration.apikey.policy"].sudo().create({"key_id": key_id, **values})
        return action
