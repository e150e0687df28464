from odoo import fields, models
from odoo.models import parse_read_group_spec
from odoo.tools import SQL

DOORS = [("json2", "JSON/2"), ("xmlrpc", "XML-RPC"), ("jsonrpc", "JSON-RPC")]


class IntegrationApiUsage(models.Model):
    """Authenticated API calls per day, door and user: what the migration figure is computed from.

    Rows are written in batches by each process (``controllers/traffic.py``), never per call.
    ``json2_share`` aggregates as the share of JSON/2 calls among all calls of the group.
    """

    _name = "integration.api.usage"
    _description = "API calls per day and door"
    _order = "day desc, door, id"
    _rec_name = "day"

    day = fields.Date(required=True, readonly=True, index=True)
    door = fields.Selection(DOORS, required=True, readonly=True)
    user_id = fields.Many2one("res.users", readonly=True, ondelete="cascade")
    call_count = fields.Integer(string="Calls", readonly=True, aggregator="sum")
    json2_share = fields.Float(
        string="JSON/2 Share (%)", readonly=True, aggregator="json2_share",
        help="Share of the calls made over JSON/2 (grouped: weighted by the number of calls).")

    def init(self):
        # the flush's upsert key (user_id may be empty)
        self.env.cr.execute("""
            CREATE UNIQUE INDEX IF NOT EXISTS integration_api_usage_key_idx
                ON integration_api_usage (day, door, COALESCE(user_id, 0))""")

    def _write_batch(self, usage):
        """Add ``{(day, door, uid): calls}`` in one statement (rows locked in key order: no deadlock)."""
        if not usage:
            return
        uids = {uid for _day, _door, uid in usage if uid}
        if uids:
            self.env.cr.execute("SELECT id FROM res_users WHERE id IN %s", [tuple(uids)])
            uids = {row[0] for row in self.env.cr.fetchall()}
        merged = {}  # a deleted user's calls count as anonymous
        for (day, door, uid), count in usage.items():
            key = (day, door, uid if uid in uids else None)
            merged[key] = merged.get(key, 0) + count
        rows = sorted(((*key, count) for key, count in merged.items()), key=lambda row: (row[0], row[1], row[2] or 0))
        values = SQL(", ").join(
            SQL("(%s::date, %s, %s::integer, %s, %s, %s, now() at time zone 'UTC', %s, now() at time zone 'UTC')",
                day, door, uid, count, 100.0 if door == "json2" else 0.0, self.env.uid, self.env.uid)
            for day, door, uid, count in rows)
        self.env.cr.execute(SQL("""
            INSERT INTO integration_api_usage
                   (day, door, user_id, call_count, json2_share, create_uid, create_date, write_uid, write_date)
            VALUES %s
            ON CONFLICT (day, door, COALESCE(user_id, 0))
            DO UPDATE SET call_count = integration_api_usage.call_count + EXCLUDED.call_count,
                          write_date = EXCLUDED.write_date""", values))

    def _read_group_select(self, aggregate_spec, query):
        """``json2_share``: JSON/2 calls / all calls of the group, in percent."""
        if aggregate_spec != "__count":
            fname, __, func = parse_read_group_spec(aggregate_spec)
            if func == "json2_share" and fname == "json2_share":
                count = self._field_to_sql(self._table, "call_count", query)
                door = self._field_to_sql(self._table, "door", query)
                return SQL("(100.0 * COALESCE(SUM(%s) FILTER (WHERE %s = 'json2'), 0) / NULLIF(SUM(%s), 0))",
                           count, door, count)
        return super()._read_group_select(aggregate_spec, query)

    def _json2_share(self, days=7):
        """Share (%) of the calls of the last ``days`` days made over JSON/2; ``None`` without calls."""
        groups = self._read_group(
            [("day", ">=", fields.Date.subtract(fields.Date.context_today(self), days=days - 1))],
            [], ["json2_share:json2_share"])
        return groups[0][0] if groups else None
