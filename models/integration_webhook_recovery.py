from datetime import timedelta

from odoo import _, api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

DEFAULT_DAYS = 7


class IntegrationWebhookRecovery(models.TransientModel):
    """"Recover failed since…": after an outage, send an endpoint's failed and dead deliveries again.

    They keep their webhook-id (receivers deduplicate) and their order: all become due at the
    same instant, and the worker takes due rows by id within it and one record's events in id order.
    """

    _name = "integration.webhook.recovery"
    _description = "Recover failed webhook deliveries"

    endpoint_id = fields.Many2one("integration.webhook.endpoint", required=True, ondelete="cascade",
                                  context={"active_test": False})
    since = fields.Datetime(
        string="Failed Since", required=True, default=lambda self: fields.Datetime.now() - timedelta(days=DEFAULT_DAYS),
        help="Deliveries queued from then on that are dead or failed (waiting for a retry) are sent again now.")
    delivery_count = fields.Integer(string="Deliveries to Send Again", compute="_compute_delivery_count")

    def _domain(self):
        self.ensure_one()
        return [("endpoint_id", "=", self.endpoint_id.id), ("state", "in", ("failed", "dead")),
                ("create_date", ">=", self.since)]

    @api.depends("endpoint_id", "since")
    def _compute_delivery_count(self):
        Delivery = self.env["integration.webhook.delivery"]
        for wizard in self:
            wizard.delivery_count = Delivery.search_count(wizard._domain()) if wizard.endpoint_id and wizard.since \
                else 0

    def action_recover(self):
        """Re-queue, now and in their original order, the endpoint's failed and dead deliveries since the date."""
        self.ensure_one()
        self.check_access("write")
        self.endpoint_id.check_access("write")
        Delivery = self.env["integration.webhook.delivery"]
        Delivery.check_access("write")
        endpoint = self.endpoint_id
        if not endpoint.active:
            raise UserError(_("The endpoint %s is archived: restore it first, then recover its deliveries.",
                              endpoint.display_name))
        endpoint._check_sendable()
        deliveries = Delivery.search(self._domain(), order="id")
        deliveries.check_access("write")
        now = fields.Datetime.now()
        # an attempt in flight stores its outcome soon: that one keeps its own schedule
        in_flight = deliveries.filtered(lambda d: d.claimed_until and d.claimed_until > now)
        deliveries -= in_flight
        if deliveries:
            Delivery.flush_model()
            # one statement; the webhook-ids stay, the schedule starts over from now
            self.env.cr.execute(SQL(
                """UPDATE integration_webhook_delivery
                      SET state = 'pending', attempt_count = 0, next_attempt_at = %s, claimed_until = NULL,
                          write_uid = %s, write_date = %s
                    WHERE id IN %s AND state IN ('failed', 'dead')""",
                now, self.env.uid, now, tuple(deliveries.ids)))
            deliveries.invalidate_recordset()
            self.env["integration.worker"]._trigger()
        endpoint.message_post(body=_(
            "%(count)s failed or dead deliveries queued since %(since)s were sent again by %(user)s.",
            count=len(deliveries), since=self.since, user=self.env.user.name))
        action = self.env["ir.actions.act_window"]._for_xml_id("integration_suite.action_integration_webhook_delivery")
        action["domain"] = [("id", "in", deliveries.ids)]
        action["context"] = {}
        action["name"] = _("Recovered deliveries")
        return action
