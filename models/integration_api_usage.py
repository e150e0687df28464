from odoo import fields, models
from odoo.models import parse_read_group_spec
from odoo.tools import SQL

DOORS = [("json2", "JSON/2"), ("xmlrpc", "XML-RPC"), ("jsonrpc", "JSON-RPC")]


class IntegrationApiUsage(models.Model):
    """Authenticated API calls per day, door, user and API key: the migration figure, each key's use.

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
    api_key_id = fields.Integer(
        string="API Key ID", readonly=True, index="btree_not_null",
        help="The key the calls authenticated with (empty: a password or a session). An id, not a link: "
             "the calls of a deleted key still count.")
    call_count = fields.Integer(string="Calls", readonly=True, aggregator="sum")
    last_call_at = fields.Datetime(string="Last Call", readonly=True)
    last_address = fields.Char(string="Last Call From", readonly=True)
    json2_share = fields.Float(
        string="JSON/2 Share (%)", readonly=True, aggregator="json2_share",
        help="Share of the calls made over JSON/2 (grouped: weighted by the number of calls).")

    def init(self):
        # the flush's upsert key (user_id and api_key_id may be empty); 18.0.1.5.0 added the key
        self.env.cr.execute("DROP INDEX IF EXISTS integration_api_usage_key_idx")
        self.env.cr.execute("""
            CREATE UNIQUE INDEX IF NOT EXISTS integration_api_usage_day_door_user_key_idx
                ON integration_api_usage (day, door, COALESCE(user_id, 0), COALESCE(api_key_id, 0))""")

    def _write_batch(self, usage):
        """Add ``{(day, door, uid, key id): [calls, last call, its address]}`` in one statement (rows
        locked in key order: no deadlock)."""
        if not usage:
            return
        uids = {key[2] for key in usage if key[2]}
        if uids:
            self.env.cr.execute("SELECT id FROM res_users WHERE id IN %s", [tuple(uids)])
            uids = {row[0] for row in self.env.cr.fetchall()}
        merged = {}  # a deleted user's calls count as anonymous
        for (day, door, uid, key_id), (count, last_at, address) in usage.items():
            key = (day, door, uid if uid in uids else None, key_id if uid in uids else None)
            entry = merged.setdefault(key, [0, last_at, address])
            entry[0] += count
            if last_at > entry[1]:
                entry[1:] = [last_at, address]
        rows = sorted(((*key, *entry) for key, entry in merged.items()),
                      key=lambda row: (row[0], row[1], row[2] or 0, row[3] or 0))
        values = SQL(", ").join(
            SQL("(%s::date, %s, %s::integer, %s::integer, %s, %s, %s::timestamp, %s, %s, now() at time zone 'UTC', "
                "%s, now() at time zone 'UTC')", day, door, uid, key_id, count, 100.0 if door == "json2" else 0.0,
                last_at, address, self.env.uid, self.env.uid)
            for day, door, uid, key_id, count, last_at, address in rows)
        self.env.cr.execute(SQL("""
            INSERT INTO integration_api_usage AS u
                   (day, door, user_id, api_key_id, call_count, json2_share, last_call_at, last_address,
                    create_uid, create_date, write_uid, write_date)
            VALUES %s
            ON CONFLICT (day, door, COALESCE(user_id, 0), COALESCE(api_key_id, 0))
            DO UPDATE SET call_count = u.call_count + EXCLUDED.call_count,
                          last_address = CASE WHEN u.last_call_at IS NULL OR EXCLUDED.last_call_at >= u.last_call_at
                                              THEN EXCLUDED.last_address ELSE u.last_address END,
                          last_call_at = GREATEST(u.last_call_at, EXCLUDED.last_call_at),
                          write_date = EXCLUDED.write_date""", values))

    def _key_last_use(self, key_ids):
        """``{key id: (last call, its address)}`` of the keys that were used."""
        if not key_ids:
            return {}
        self.env.cr.execute("""
            SELECT DISTINCT ON (api_key_id) api_key_id, last_call_at, last_address
              FROM integration_api_usage WHERE api_key_id IN %s AND last_call_at IS NOT NULL
             ORDER BY api_key_id, last_call_at DESC""", [tuple(key_ids)])
        return {key_id: (at, address) for key_id, at, address in self.env.cr.fetchall()}

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
