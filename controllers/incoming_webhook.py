from uuid import uuid4

from werkzeug.datastructures import Headers
from werkzeug.exceptions import NotFound

from odoo.http import request, route

from odoo.addons.base_automation.controllers.main import BaseAutomationController

from ..dispatch import json_response
from ..models.base_automation import WebhookCall
from . import traffic

ALLOWED_METHODS = ("GET", "POST", "HEAD", "OPTIONS")  # what 18.0 runs the rule for


class IncomingWebhookController(BaseAutomationController):
    """``/web/hook/<uuid>`` with 18.0's answers, made safe per rule (see ``models/base_automation.py``)."""

    @route(methods=None)  # every verb reaches the controller, which answers the refused ones in JSON
    def call_webhook_http(self, rule_uuid, **kwargs):
        httprequest = request.httprequest
        request_id = uuid4().hex
        request.integration_webhook_request_id = request_id  # what the deliveries its actions queue point back to
        headers = [("X-Request-Id", request_id)]
        if httprequest.method not in ALLOWED_METHODS:
            return json_response(request, {"status": "error", "error": "method not allowed"}, 405,
                                 [*headers, ("Allow", ", ".join(ALLOWED_METHODS))])
        malformed = getattr(request, "integration_webhook_malformed", None)  # set by ir.http._pre_dispatch
        if malformed:
            return json_response(request, {"status": "error", "error": malformed}, 400, headers)
        # found by ir.http._pre_dispatch: an active "On webhook" rule with this uuid, or None
        rule_id = getattr(request, "integration_webhook_rule_id", None)
        if not rule_id:
            return json_response(request, {"status": "error"}, 404, headers)
        rule = request.env["base.automation"].sudo().browse(rule_id)
        call = WebhookCall(
            request_id=request_id,
            method=httprequest.method,
            headers=Headers(list(httprequest.headers.items())),
            body=httprequest.get_data(),
            mimetype=httprequest.mimetype,
            args={**httprequest.args},
            form={**httprequest.form},
            remote_addr=httprequest.remote_addr or "",
            too_large=getattr(request, "integration_webhook_too_large", False),
        )
        status, body, extra_headers = rule._webhook_receive(call)
        traffic.incoming_call(request, rule, status, call.started)
        return json_response(request, body, status, [*headers, *extra_headers])

    @route("/web/hook/<path:subpath>", type="http", auth="none", methods=None, csrf=False, save_session=False)
    def call_webhook_not_found(self, subpath, **kwargs):
        """A path no rule uuid can have (an encoded slash, several segments): JSON 404, as for an unknown uuid."""
        if not request.db:  # served without a database (auth="none"): as 18.0, which has no such route
            raise NotFound()
        return json_response(request, {"status": "error"}, 404, [("X-Request-Id", uuid4().hex)])
