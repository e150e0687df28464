from odoo import api, fields, models

OUTCOMES = [
    ("delivered", "Delivered"),
    ("retry", "Failed, retried"),
    ("dead", "Failed, dead"),
    ("gone", "410 Gone, endpoint archived"),
    ("cancelled", "Cancelled meanwhile"),
]


class IntegrationWebhookAttempt(models.Model):
    """One HTTP attempt of a delivery, as the worker made it: what was sent (secrets masked) and answered.

    Written by the worker in one INSERT per group of outcomes (``_record_outcomes``); deleted
    with its delivery.
    """

    _name = "integration.webhook.attempt"
    _description = "Outgoing webhook attempt"
    _order = "id desc"  # newest first; attempt numbers start over when a delivery is retried
    _rec_name = "attempt"
    _log_access = False  # started_at says when; the worker writes the rows

    delivery_id = fields.Many2one(
        "integration.webhook.delivery", required=True, ondelete="cascade", index=True, readonly=True)
    attempt = fields.Integer(
        readonly=True, help="1 for the first attempt of the delivery's schedule (Retry and Recover start a new one).")
    started_at = fields.Datetime(readonly=True)
    duration_ms = fields.Integer(string="Duration (ms)", readonly=True,
                                 help="Milliseconds from the start of the attempt to its answer (or its failure).")
    http_status = fields.Integer(string="HTTP Status", readonly=True,
                                 help="Empty when the receiver never answered (timeout, refused connection).")
    outcome = fields.Selection(OUTCOMES, readonly=True, required=True)
    request_headers = fields.Text(
        readonly=True, help="The headers sent; the signature and credentials (Authorization, tokens, keys, "
                            "secrets) are masked. Empty for attempts made before the history was kept.")
    response_headers = fields.Text(readonly=True)
    response_excerpt = fields.Text(readonly=True, help="First 4 KB of the answer.")
    error = fields.Text(readonly=True)
    error_summary = fields.Char(string="Why", compute="_compute_error_summary",
                                help="The first line of the error: what happened, without the library's detail.")

    @api.depends("error")
    def _compute_error_summary(self):
        for attempt in self:
            attempt.error_summary = (attempt.error or "").split("\n", 1)[0]
