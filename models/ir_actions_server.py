from odoo import api, fields, models


class IrActionsServer(models.Model):
    """Native "Send Webhook Notification" actions, made reliable: they write to the outbox.

    The payload keeps the 18.0 shape (``_model``, ``_id``, ``_action`` + the selected fields read
    as the action's user), but it is queued in the running transaction and sent, signed and
    retried by the worker after commit instead of being POSTed synchronously.
    """

    _inherit = "ir.actions.server"

    webhook_endpoint_id = fields.Many2one(
        "integration.webhook.endpoint", string="Webhook Endpoint", ondelete="restrict",
        help="Receiver, signing secret and retry policy. Setting the Webhook URL finds or creates it.")

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._sync_webhook_endpoint(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._sync_webhook_endpoint(vals)
        return super().write(vals)

    @api.model
    def _sync_webhook_endpoint(self, vals):
        """Keep ``webhook_url`` (native field) and ``webhook_endpoint_id`` pointing at one receiver."""
        Endpoint = self.env["integration.webhook.endpoint"]
        if vals.get("webhook_endpoint_id") and not vals.get("webhook_url"):
            vals["webhook_url"] = Endpoint.browse(vals["webhook_endpoint_id"]).sudo().url
        elif vals.get("webhook_url") and "webhook_endpoint_id" not in vals:
            vals["webhook_endpoint_id"] = Endpoint._find_or_create_for_url(vals["webhook_url"]).id

    def _run_action_webhook(self, eval_context=None):
        """Queue one delivery for ``active_id`` in the current transaction (nothing is sent now)."""
        record = self.env[self.model_id.model].browse(self._context.get("active_id"))
        if not record:
            return
        endpoint = self.webhook_endpoint_id
        if not endpoint and self.webhook_url:
            # actions created before this addon was installed
            endpoint = self.env["integration.webhook.endpoint"]._find_or_create_for_url(self.webhook_url)
            self.sudo().webhook_endpoint_id = endpoint
        if not endpoint:
            return super()._run_action_webhook(eval_context=eval_context)  # native "give me a URL" error
        data = {
            "_model": self.model_id.model,
            "_id": record.id,
            "_action": f"{self.name}(#{self.id})",
        }
        if self.webhook_field_ids:
            data.update(record.read(self.webhook_field_ids.mapped("name"), load=None)[0])
        self.env["integration.webhook.delivery"]._enqueue(
            endpoint, data, model=record._name, res_id=record.id,
            event_type=f"{record._name}.{self.name}", action=self)
