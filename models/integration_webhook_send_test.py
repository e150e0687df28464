import json

from odoo import api, fields, models

from .integration_webhook_event_type import TEST_EVENT


class IntegrationWebhookSendTest(models.TransientModel):
    """'Send test' on an endpoint: one of its event types, its sample, sent as a real signed delivery."""

    _name = "integration.webhook.send.test"
    _description = "Send a test event to an outgoing webhook endpoint"

    endpoint_id = fields.Many2one("integration.webhook.endpoint", required=True, readonly=True, ondelete="cascade")
    allowed_event_type_ids = fields.Many2many(
        "integration.webhook.event.type", compute="_compute_allowed_event_type_ids")
    event_type_id = fields.Many2one(
        "integration.webhook.event.type", required=True,
        domain="[('id', 'in', allowed_event_type_ids)]",
        default=lambda self: self.env.ref("integration_suite.event_type_webhook_test", raise_if_not_found=False),
        help="One of the event types the endpoint receives; the test event is always available.")
    sample_payload = fields.Text(
        compute="_compute_sample_payload",
        help="The body sent, in the endpoint's payload format, for the first record of the event's model "
             "(long values shortened); it carries the usual webhook-id, webhook-timestamp and "
             "webhook-signature headers.")

    @api.depends("endpoint_id")
    def _compute_allowed_event_type_ids(self):
        EventType = self.env["integration.webhook.event.type"]
        for wizard in self:
            endpoint = wizard.endpoint_id
            if endpoint.event_subscription == "selected":
                allowed = endpoint.event_type_ids.filtered("active") | EventType.search([("code", "=", TEST_EVENT)])
            else:
                allowed = EventType.search([])
            wizard.allowed_event_type_ids = allowed

    @api.depends("endpoint_id", "event_type_id")
    def _compute_sample_payload(self):
        Delivery = self.env["integration.webhook.delivery"]
        for wizard in self:
            event_type = wizard.event_type_id
            if not (event_type and wizard.endpoint_id):
                wizard.sample_payload = False
                continue
            body = Delivery._render(wizard.endpoint_id, event_type._sample_data(wizard.endpoint_id), event_type.code)
            wizard.sample_payload = json.dumps(json.loads(body), indent=2, ensure_ascii=False)

    def action_send(self):
        """Queue the sample (rights and neutralization checked by the endpoint) and open the delivery."""
        self.ensure_one()
        return self.endpoint_id._send_test_event(self.event_type_id)
