import logging

from odoo import api, fields, models, tools

# the fields an event type is derived from
EVENT_TYPE_FIELDS = {"state", "name", "model_id"}

_logger = logging.getLogger(__name__)


class IrActionsServer(models.Model):
    """Server actions extended for both webhook directions.

    Outgoing: native "Send Webhook Notification" actions write to the outbox. The payload keeps
    the 18.0 shape (``_model``, ``_id``, ``_action`` + the selected fields read as the action's
    user), but it is queued in the running transaction and sent, signed and retried by the worker
    after commit instead of being POSTed synchronously.

    Incoming: code actions of a webhook rule see the payload the rule actually received (18.0
    recomputes it from the current HTTP request, which loses form bodies and is empty in the
    worker and for Replay / Dry run).
    """

    _inherit = "ir.actions.server"

    webhook_endpoint_id = fields.Many2one(
        "integration.webhook.endpoint", ondelete="restrict",
        help="Receiver, signing secret and retry policy. Setting the Webhook URL finds or creates it.")
    webhook_event_type_id = fields.Many2one(
        "integration.webhook.event.type", string="Event Type", compute="_compute_webhook_event_type_id",
        groups="base.group_system",
        help="What this action's deliveries carry as their event type; endpoints that receive selected event "
             "types only get it when they subscribe to it.")

    @api.model_create_multi
    def create(self, vals_list):
        self.browse().check_access("create")  # before the endpoint lookup, which runs as superuser
        for vals in vals_list:
            self._sync_webhook_endpoint(vals)
        actions = super().create(vals_list)
        actions._sync_event_types()
        return actions

    def write(self, vals):
        self.check_access("write")  # before the endpoint lookup, which runs as superuser
        self._sync_webhook_endpoint(vals)
        before = self._event_type_codes() if EVENT_TYPE_FIELDS.intersection(vals) else None
        result = super().write(vals)
        if before is not None:
            self._sync_event_types(before)
        return result

    def unlink(self):
        codes = self._event_type_codes()
        result = super().unlink()
        if codes:
            self.env["integration.webhook.event.type"]._sync_from_actions(codes)
        return result

    def _event_type_codes(self):
        EventType = self.env["integration.webhook.event.type"]
        return {EventType._code_of(action.model_id.model, action.name)
                for action in self.sudo() if action.state == "webhook"}

    def _sync_event_types(self, codes_before=()):
        """The catalogue follows the webhook actions: only their old and new codes are looked at."""
        codes = set(codes_before) | self._event_type_codes()
        if codes:
            self.env["integration.webhook.event.type"]._sync_from_actions(codes)

    @api.depends("state", "name", "model_id")
    def _compute_webhook_event_type_id(self):
        EventType = self.env["integration.webhook.event.type"].with_context(active_test=False)
        for action in self:
            code = action.state == "webhook" and action.model_id and EventType._code_of(
                action.model_id.model, action.name)
            action.webhook_event_type_id = code and EventType.search([("code", "=", code)], limit=1)

    @api.model
    def _sync_webhook_endpoint(self, vals):
        """Keep ``webhook_url`` (native field) and ``webhook_endpoint_id`` pointing at one receiver."""
        Endpoint = self.env["integration.webhook.endpoint"]
        if vals.get("webhook_endpoint_id") and not vals.get("webhook_url"):
            vals["webhook_url"] = Endpoint.browse(vals["webhook_endpoint_id"]).sudo().url
        elif vals.get("webhook_url") and "webhook_endpoint_id" not in vals:
            vals["webhook_endpoint_id"] = Endpoint._find_or_create_for_url(vals["webhook_url"]).id

    @api.model
    @tools.ormcache("action_id")
    def _webhook_config(self, action_id):
        """(model, field names, endpoint id, name) of a webhook action.

        Read on every event in the user's transaction; ir.actions clears the registry cache on
        every create/write/unlink, so the cached value cannot outlive a change of the action.
        """
        action = self.browse(action_id).sudo()
        return (action.model_id.model, tuple(action.webhook_field_ids.mapped("name")),
                action.webhook_endpoint_id.id, action.name)

    def _run_action_webhook(self, eval_context=None):
        """Queue one delivery for ``active_id`` in the current transaction (nothing is sent now)."""
        model, field_names, endpoint_id, name = self._webhook_config(self.id)
        record = self.env[model].browse(self.env.context.get("active_id"))
        if not record:
            return
        if not endpoint_id and self.webhook_url:
            # actions created before this addon was installed
            self.sudo().webhook_endpoint_id = self.env["integration.webhook.endpoint"]._find_or_create_for_url(
                self.webhook_url)
            model, field_names, endpoint_id, name = self._webhook_config(self.id)
        if not endpoint_id:
            return super()._run_action_webhook(eval_context=eval_context)  # native "give me a URL" error
        event_type = f"{model}.{name}"
        endpoint = self.env["integration.webhook.endpoint"].browse(endpoint_id)
        if not endpoint._is_subscribed(event_type):
            _logger.debug("%s: endpoint %s is not subscribed to %s, nothing queued", self, endpoint_id, event_type)
            return
        self.env["integration.webhook.delivery"]._enqueue(
            endpoint, self._webhook_data(record, field_names, name), model=model, res_id=record.id,
            event_type=event_type, action=self)

    def _webhook_data(self, record, field_names, name=None):
        """The object the action sends for ``record`` (18.0's shape): ``_model``, ``_id``, ``_action``
        and its fields, read as the current user (for an empty record: the fields' names, false)."""
        data = {"_model": record._name, "_id": record.id or 1, "_action": f"{name or self.name}(#{self.id})"}
        if record:
            data.update(record.read(list(field_names), load=None)[0] if field_names else {})
        else:
            data.update(dict.fromkeys(field_names, False))
        return data

    def _get_eval_context(self, action=None):
        eval_context = super()._get_eval_context(action)
        if action and action.state == "code" and "integration_webhook_payload" in self.env.context:
            payload = self.env.context["integration_webhook_payload"]
            if payload:
                eval_context["payload"] = payload
            else:
                eval_context.pop("payload", None)
        return eval_context
