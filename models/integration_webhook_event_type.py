import json

from odoo import api, fields, models

from .. import series

TEST_EVENT = "webhook.test"
# longer string values (binaries as base64) are cut in the samples shown on the screens
SAMPLE_VALUE_CHARS = 120


@series.sql_constraints
class IntegrationWebhookEventType(models.Model):
    """An event an endpoint may receive: the ``event_type`` of its deliveries.

    Kept in sync with the "Send Webhook Notification" server actions (their code is
    ``<model>.<action name>``, what the delivery carries since 18.0.1.0.0) plus the addon's own
    test event. Endpoints subscribe to all of them or to some.
    """

    _name = "integration.webhook.event.type"
    _description = "Outgoing webhook event type"
    _order = "source, name, id"

    code = fields.Char(
        required=True, readonly=True, index=True,
        help="The event type deliveries carry (the 'type' of the Standard Webhooks envelope).")
    name = fields.Char(required=True, readonly=True, help="The model's name and the action's name.")
    description = fields.Text(help="What the event means for the receivers; yours to write.")
    source = fields.Selection(
        [("builtin", "Built-in"), ("action", "Server action")], required=True, readonly=True, default="action")
    model_id = fields.Many2one("ir.model", readonly=True, ondelete="cascade")
    model = fields.Char(related="model_id.model", string="Technical Model Name")
    action_ids = fields.Many2many(
        "ir.actions.server", "integration_webhook_event_type_action_rel", "event_type_id", "action_id",
        string="Producing Actions", readonly=True,
        help="The 'Send Webhook Notification' server actions that queue this event.")
    active = fields.Boolean(
        default=True, readonly=True,
        help="Archived when no action produces it any longer; subscriptions to it are kept.")
    sample_payload = fields.Text(
        compute="_compute_sample_payload",
        help="The body of this event for an existing record of the model (long values shortened), in the "
             "native format; an endpoint using the Standard Webhooks envelope sends it under 'data'.")

    _sql_constraints = [("code_unique", "UNIQUE(code)", "An event type code must be unique.")]

    def _compute_sample_payload(self):
        Delivery = self.env["integration.webhook.delivery"]
        native = self.env["integration.webhook.endpoint"].new({"payload_format": "native"})
        for event_type in self:
            body = json.loads(Delivery._render(native, event_type._sample_data(), event_type.code))
            event_type.sample_payload = json.dumps(body, indent=2, ensure_ascii=False)

    def _sample_data(self, endpoint=None):
        """The data object this event carries (see ``_sample_for``)."""
        self.ensure_one()
        return self._sample_for(self.action_ids.sorted("id")[:1] if self.code != TEST_EVENT else None, endpoint)

    @api.model
    def _sample_for(self, action=None, endpoint=None):
        """What ``action`` would send now for the first record of its model the user can read, through
        the action's own rendering; without an action, the test event of ``endpoint``."""
        if not action:
            return {"_model": "integration.webhook.endpoint", "_id": (endpoint and endpoint.id) or 1,
                    "_action": "test", "test": True}
        model = action.model_id.model
        record = self.env[model].search([], limit=1)
        data = action._webhook_data(record, action.webhook_field_ids.mapped("name"))
        return {
            name: value[:SAMPLE_VALUE_CHARS] + "..." if isinstance(value, str) and len(value) > SAMPLE_VALUE_CHARS
            else value
            for name, value in data.items()
        }

    @api.model
    def _code_of(self, model, action_name):
        return f"{model}.{action_name}"

    @api.model
    def _sync_from_actions(self, codes=None):
        """Create, update or archive the event types of ``codes`` (all when None) from the actions.

        Runs as superuser: the callers (action create/write/unlink, install, migration) have
        already been checked.
        """
        EventType = self.sudo().with_context(active_test=False)
        actions = self.env["ir.actions.server"].sudo().with_context(active_test=False).search(
            [("state", "=", "webhook")], order="id")
        by_code = {}
        for action in actions:
            code = self._code_of(action.model_id.model, action.name)
            if codes is None or code in codes:
                by_code.setdefault(code, self.env["ir.actions.server"].sudo())
                by_code[code] |= action
        domain = [("source", "=", "action")]
        if codes is not None:
            domain.append(("code", "in", list(set(codes) | set(by_code))))
        existing = {event_type.code: event_type for event_type in EventType.search(domain)}
        for code, producers in by_code.items():
            model = producers[0].model_id
            vals = {"name": f"{model.name}: {producers[0].name}", "model_id": model.id, "active": True,
                    "action_ids": [fields.Command.set(producers.ids)]}
            event_type = existing.pop(code, None)
            if event_type is None:
                EventType.create({**vals, "code": code, "source": "action"})
            elif (event_type.name, event_type.model_id, event_type.active, event_type.action_ids) != (
                    vals["name"], model, True, producers):
                event_type.write(vals)
        gone = EventType.browse([event_type.id for event_type in existing.values() if event_type.active])
        gone.write({"active": False, "action_ids": [fields.Command.clear()]})
        return True
