from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class IntegrationLegacyRetirement(models.Model):
    """"Legacy API refused from <date>" for a user, or for one of the user's API keys.

    From that day the user's (or the key's) ``/xmlrpc``, ``/xmlrpc/2`` and ``/jsonrpc`` calls get
    the protocol's error naming the JSON/2 endpoint to call instead; JSON/2 keeps working. Every
    process caches the list and is told to drop it when a retirement changes.
    """

    _name = "integration.legacy.retirement"
    _description = "Legacy API retirement"
    _order = "refused_from desc, id desc"
    _rec_name = "user_id"

    user_id = fields.Many2one("res.users", required=True, ondelete="cascade", index=True)
    api_key_id = fields.Many2one(
        "res.users.apikeys", string="Only This API Key", ondelete="cascade",
        domain="[('user_id', '=', user_id)]",
        help="Empty: the user's password and every API key are refused the legacy API.")
    refused_from = fields.Date(required=True, default=fields.Date.context_today,
                               help="Legacy calls are refused from this day on (UTC).")
    note = fields.Char(help="Why, or which integration this is.")

    def init(self):
        # a user, or one of their keys, is retired once (api_key_id may be empty)
        self.env.cr.execute("""
            CREATE UNIQUE INDEX IF NOT EXISTS integration_legacy_retirement_user_key_idx
                ON integration_legacy_retirement (user_id, COALESCE(api_key_id, 0))""")

    @api.constrains("user_id", "api_key_id")
    def _check_key_user(self):
        for retirement in self:
            if retirement.api_key_id and retirement.api_key_id.sudo().user_id != retirement.user_id:
                raise ValidationError(_("The API key must belong to the retired user."))

    @api.model
    def _refusals(self):
        """``{uid: {key id or None: refused from}}`` of every retirement."""
        self.env.cr.execute("SELECT user_id, api_key_id, refused_from FROM integration_legacy_retirement")
        refusals = {}
        for uid, key_id, day in self.env.cr.fetchall():
            refusals.setdefault(uid, {})[key_id] = day
        return refusals

    @api.model
    def _retire(self, pairs):
        """Retire each ``(user, API key or empty)`` of ``pairs`` from today (an earlier date is kept)."""
        today = fields.Date.context_today(self)
        for user, key in pairs:
            key_id = key.id if key else False
            existing = self.search([("user_id", "=", user.id), ("api_key_id", "=", key_id)])
            if not existing:
                self.create({"user_id": user.id, "api_key_id": key_id, "refused_from": today})
            elif existing.refused_from > today:
                existing.refused_from = today
        return True

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        self.env.registry.clear_cache()  # every worker reads the retirements again
        return records

    def write(self, vals):
        result = super().write(vals)
        self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result
