from odoo import _, api, fields, models
from odoo.exceptions import AccessError, ValidationError

from .. import series
from ..dispatch.restrictions import parse_networks

MODEL_ACCESS = [
    ("read", "Read"),
    ("write", "Read and write"),
    ("create", "Read, write and create"),
    ("full", "Read, write, create and delete"),
]
PERMISSIONS_BY_ACCESS = {
    "read": ("read",),
    "write": ("read", "write"),
    "create": ("read", "write", "create"),
    "full": ("read", "write", "create", "unlink"),
}


@series.sql_constraints
class IntegrationApikeyPolicy(models.Model):
    """The restrictions of one API key: they narrow what the key's user may do, never widen it.

    A key without a restricted policy behaves exactly as in 18.0. Every door reads the policy's
    ``revision`` with the key-validity query of each call, so a change applies to the next call
    of every worker and server. The owner sets restrictions when creating the key; afterwards only
    administrators change them (a leaked key must not be able to lift its own restrictions).
    """

    _name = "integration.apikey.policy"
    _description = "API key restrictions"
    _inherit = ["mail.thread", "mail.activity.mixin"]  # the owner's reminder that the key expires
    _order = "id desc"
    _rec_name = "name"

    key_id = fields.Many2one("res.users.apikeys", string="API Key", required=True, readonly=True,
                             ondelete="cascade", index=True)
    name = fields.Char(related="key_id.name", string="Key")
    user_id = fields.Many2one("res.users", related="key_id.user_id", store=True, index=True, string="User")
    expiration_date = fields.Datetime(related="key_id.expiration_date")
    read_only = fields.Boolean(
        string="Read-only",
        help="Only read methods (search, read, search_read, read_group, ...), in a read-only database "
             "transaction: PostgreSQL refuses any write, whatever the method does underneath.")
    allowed_addresses = fields.Text(
        string="Allowed Source Addresses",
        help="IP addresses and CIDR blocks (IPv4, IPv6), one per line or separated by commas. Empty: any "
             "address. The address is the one Odoo sees: the client's with proxy_mode behind a proxy "
             "that sets X-Forwarded-For and X-Forwarded-Host, else the connection's.")
    rate_limit = fields.Integer(
        string="Rate Limit (calls/minute)",
        help="0: no limit. Counted in the database across workers and servers: the key may send its "
             "whole quota at once, then one call per 60/limit seconds (at most limit × (1 + T/60) calls "
             "in T seconds; above 600 calls a minute, a tenth of a second's worth is claimed at a time). "
             "Over it, calls get 429 with Retry-After and RateLimit headers.")
    line_ids = fields.One2many("integration.apikey.policy.model", "policy_id", string="Models",
                               help="Empty: any model the user may use. Otherwise only these models, "
                                    "with these rights.")
    restricted = fields.Boolean(compute="_compute_restricted", store=True)
    revision = fields.Integer(readonly=True, default=1, copy=False,
                              help="Raised by every change: what every process's cached copy is checked against.")
    expiry_reminded = fields.Boolean(readonly=True, copy=False)
    summary = fields.Char(compute="_compute_summary")

    _sql_constraints = [
        ("key_unique", "UNIQUE(key_id)", "An API key has one set of restrictions."),
        ("rate_limit_positive", "CHECK(rate_limit >= 0)", "The rate limit cannot be negative."),
    ]

    @api.depends("read_only", "allowed_addresses", "rate_limit", "line_ids")
    def _compute_restricted(self):
        for policy in self:
            policy.restricted = bool(policy.read_only or (policy.allowed_addresses or "").strip()
                                     or policy.rate_limit or policy.line_ids)

    @api.depends("read_only", "allowed_addresses", "rate_limit", "line_ids.model_name")
    def _compute_summary(self):
        for policy in self:
            parts = []
            if policy.read_only:
                parts.append(_("read-only"))
            if policy.line_ids:
                parts.append(", ".join(policy.line_ids.mapped("model_name")))
            if (policy.allowed_addresses or "").strip():
                parts.append(" ".join((policy.allowed_addresses or "").replace(",", " ").split()))
            if policy.rate_limit:
                parts.append(_("%s/min", policy.rate_limit))
            policy.summary = " · ".join(parts) or False

    @api.constrains("allowed_addresses")
    def _check_allowed_addresses(self):
        for policy in self:
            try:
                parse_networks(policy.allowed_addresses)
            except ValueError as exc:
                raise ValidationError(_("Allowed source addresses: %s", exc)) from None

    @api.model_create_multi
    def create(self, vals_list):
        self._check_administrator()
        policies = super().create(vals_list)
        policies._bump_revision()
        return policies

    def write(self, vals):
        if set(vals) - {"expiry_reminded", "activity_ids"}:
            self._check_administrator()
        result = super().write(vals)
        self._bump_revision()
        return result

    def unlink(self):
        self._check_administrator()
        keys = tuple(self.key_id.ids)
        result = super().unlink()
        if keys:
            self.env.cr.execute("UPDATE res_users_apikeys SET integration_revision = NULL, "
                                "integration_read_only = NULL WHERE id IN %s", [keys])
            self.env.registry.clear_cache()
        return result

    def _check_administrator(self):
        """Restrictions are set by administrators (the owner's wizard creates them as superuser)."""
        if not self.env.su and not self.env.is_system():
            raise AccessError(_("Only administrators can change the restrictions of an API key."))

    def _bump_revision(self):
        """A new revision: every process reads the restrictions again (written first: they are read with SQL)."""
        if self.ids:
            self.env["integration.apikey.policy.model"].flush_model()
            self.flush_model()
            self.env.cr.execute("UPDATE integration_apikey_policy SET revision = revision + 1 WHERE id IN %s",
                                [tuple(self.ids)])
            self.invalidate_recordset(["revision"])
            # what the key-validity query of every call reads (the key's own row: no join)
            self.env.cr.execute("""
                UPDATE res_users_apikeys k
                   SET integration_revision = CASE WHEN p.restricted THEN p.revision END,
                       integration_read_only = p.restricted AND p.read_only
                  FROM integration_apikey_policy p
                 WHERE p.key_id = k.id AND p.id IN %s""", [tuple(self.ids)])
            self.env["res.users.apikeys"].invalidate_model(["integration_revision", "integration_read_only"])
            self.env.registry.clear_cache()  # the legacy doors' cached revisions, in every worker

    @api.model
    def _lines_from_access(self, models_, access, methods):
        """One2many commands: ``models_`` (ir.model) with the rights of ``access`` and extra ``methods``."""
        permissions = PERMISSIONS_BY_ACCESS[access or "read"]
        return [fields.Command.create({
            "model_id": model.id, **{f"perm_{p}": p in permissions for p in ("read", "write", "create", "unlink")},
            "extra_methods": methods or False,
        }) for model in models_]

    @api.model
    def _remind_expiring_keys(self, days=7):
        """Each key expiring within ``days`` tells its owner once (an activity on its restrictions)."""
        keys = self.env["res.users.apikeys"].sudo().search([
            ("expiration_date", "!=", False),
            ("expiration_date", "<=", fields.Datetime.add(fields.Datetime.now(), days=days)),
            ("expiration_date", ">", fields.Datetime.now()),
        ])
        policies = self.sudo().search([("key_id", "in", keys.ids)])
        known = {policy.key_id.id: policy for policy in policies}
        for key in keys:
            policy = known.get(key.id) or self.sudo().create({"key_id": key.id})
            if policy.expiry_reminded or not key.user_id.active:
                continue
            policy.activity_schedule(
                "mail.mail_activity_data_todo",
                date_deadline=fields.Date.to_date(key.expiration_date),
                summary=_("Your API key “%s” expires soon", key.name),
                note=_("The API key “%(name)s” expires on %(date)s. Create a new key in Preferences › "
                       "Account Security and give it to the integration before then.",
                       name=key.name, date=fields.Datetime.to_string(key.expiration_date)),
                user_id=key.user_id.id,
            )
            policy.expiry_reminded = True
