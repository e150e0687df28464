import hashlib

from odoo import api, fields, models

from .. import series

MAX_KEY_LENGTH = 200


@series.sql_constraints
class IntegrationWebhookKey(models.Model):
    """Dedupe keys already run by an incoming-webhook rule.

    The unique index, not a read-then-write, decides which of two copies
    arriving at the same moment runs: the second insert waits for the first
    transaction and then conflicts (or, under REPEATABLE READ, fails with a
    serialization error that the framework retries and that then conflicts).
    A key is claimed in the actions' savepoint, so a failed call frees it for
    the sender's retry; an asynchronous call claims it when it is queued and
    releases it when the worker records its failure.
    """

    _name = "integration.webhook.key"
    _description = "Incoming webhook dedupe key"
    _log_access = False

    rule_id = fields.Many2one("base.automation", required=True, ondelete="cascade", index=True)
    key = fields.Char(required=True)
    expires_at = fields.Datetime(required=True, index=True)

    _sql_constraints = [
        ("rule_key_unique", "UNIQUE(rule_id, key)", "A dedupe key is recorded once per rule."),
    ]

    @api.model
    def _claim(self, rule, key):
        """Record ``key`` for ``rule``; ``False`` if it is already there and not expired."""
        if not key:
            return True
        key = self._stored_form(key)
        self.env.cr.execute(
            """INSERT INTO integration_webhook_key (rule_id, key, expires_at)
               VALUES (%(rule)s, %(key)s, (now() AT TIME ZONE 'UTC') + make_interval(days => %(days)s))
               ON CONFLICT (rule_id, key) DO UPDATE SET expires_at = EXCLUDED.expires_at
                WHERE integration_webhook_key.expires_at < (now() AT TIME ZONE 'UTC')
               RETURNING id""",
            {"rule": rule.id, "key": key, "days": max(rule.webhook_dedupe_retention_days, 1)},
        )
        return bool(self.env.cr.fetchone())

    @api.model
    def _release(self, rule, key):
        """Forget ``key`` for ``rule``: the call that claimed it failed, the sender may retry."""
        if key:
            self.search([("rule_id", "=", rule.id), ("key", "=", self._stored_form(key))]).unlink()

    @api.model
    def _stored_form(self, key):
        return "sha256:" + hashlib.sha256(key.encode()).hexdigest() if len(key) > MAX_KEY_LENGTH else key

    @api.autovacuum
    def _gc_expired(self):
        self.env.cr.execute("DELETE FROM integration_webhook_key WHERE expires_at < (now() AT TIME ZONE 'UTC')")
