from odoo import models


class IrActionsServer(models.Model):
    """Code actions of an incoming webhook see the payload the rule actually received.

    18.0 recomputes ``payload`` from the current HTTP request, which loses
    form bodies and is empty in the worker (asynchronous calls) and for
    Replay / Dry run. The rule passes its payload in the context instead.
    Kept apart from ``ir_actions_server.py`` (outgoing webhooks) so the two
    features stay independent.
    """

    _inherit = "ir.actions.server"

    def _get_eval_context(self, action=None):
        eval_context = super()._get_eval_context(action)
        if action and action.state == "code" and "integration_webhook_payload" in self.env.context:
            payload = self.env.context["integration_webhook_payload"]
            if payload:
                eval_context["payload"] = payload
            else:
                eval_context.pop("payload", None)
        return eval_context
