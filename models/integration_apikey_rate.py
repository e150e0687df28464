from odoo import api, fields, models

from .. import series


@series.sql_constraints
class IntegrationApikeyRate(models.Model):
    """Where each rate-limited key stands (GCRA's theoretical arrival time), shared by all workers.

    Written only by ``dispatch.restrictions.RateLimiter`` on its own autocommit connection, one
    statement per call; UNLOGGED: nothing to replay after a crash (a limit restarts empty).
    """

    _name = "integration.apikey.rate"
    _description = "API key rate state"
    _log_access = False
    _rec_name = "key_id"

    key_id = fields.Integer(required=True, readonly=True, index=True, string="API Key ID")
    tat = fields.Float(readonly=True, string="Theoretical Arrival Time (epoch)")
    step = fields.Float(readonly=True, string="Seconds per Call", help="60 / the key's limit when last counted.")

    _sql_constraints = [("key_unique", "UNIQUE(key_id)", "One rate state per key.")]

    def init(self):
        self.env.cr.execute("SELECT relpersistence FROM pg_class WHERE oid = 'integration_apikey_rate'::regclass")
        if self.env.cr.fetchone()[0] != "u":
            self.env.cr.execute("ALTER TABLE integration_apikey_rate SET UNLOGGED")

    @api.autovacuum
    def _gc_forgotten_keys(self):
        """Drop the state of keys that no longer exist or are idle (their quota is full again)."""
        self.env.cr.execute("""
            DELETE FROM integration_apikey_rate r
             WHERE tat < extract(epoch FROM clock_timestamp()) - 60
                OR NOT EXISTS (SELECT 1 FROM res_users_apikeys k WHERE k.id = r.key_id)""")
