import json

from odoo import http
from odoo.http import request

from .. import dispatch
from ..tools.webhook_signatures import SignatureError, verify_standard_webhooks

ECHO_ROUTE = "/integration_suite/demo/echo"
# the echo answers with at most this much of the received body
ECHO_BYTES = 4096


class DemoEchoController(http.Controller):
    """A receiver for the demo endpoint, so outgoing webhooks work on a demo database out of the box.

    It exists only where the addon's demo data is installed: anywhere else the route is a 404,
    so a production database never exposes it.
    """

    @http.route(ECHO_ROUTE, type="http", auth="public", methods=["POST"], csrf=False, save_session=False)
    def echo(self):
        env = request.env(su=True)
        if not env["ir.module.module"].search_count([("name", "=", "integration_suite"), ("demo", "=", True)]):
            return request.not_found()
        body = request.httprequest.get_data()
        endpoints = env["integration.webhook.endpoint"].search([("url", "=like", f"%{ECHO_ROUTE}")])
        secrets = "\n".join(secret for endpoint in endpoints for secret in endpoint._signing_secrets())
        try:
            verify_standard_webhooks(body, request.httprequest.headers, secrets)
            signature = "valid"
        except SignatureError as exc:
            signature = str(exc)
        text = body[:ECHO_BYTES].decode("utf-8", "replace")
        try:
            echo = json.loads(text)
        except ValueError:
            echo = text
        return dispatch.json_response(request, {
            "received": True,
            "webhook_id": request.httprequest.headers.get("webhook-id"),
            "signature": signature,
            "echo": echo,
        })
