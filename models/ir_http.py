import re
from collections import OrderedDict

import werkzeug.exceptions

from odoo import models, tools
from odoo.exceptions import AccessDenied
from odoo.http import request

BEARER = re.compile(r"^bearer\s+(.+)$", re.IGNORECASE | re.DOTALL)


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _auth_method_bearer(cls):
        """19.0's bearer authentication: cached key checks, stateless, 401 with a challenge."""
        headers = request.httprequest.headers
        match = BEARER.match(headers.get("Authorization") or "")
        if match:
            # a malformed token (blank, control characters, oversized) is an invalid key too
            uid = request.env["res.users.apikeys"]._check_credentials_cached(scope="rpc", key=match.group(1).strip())
            if not uid:
                raise werkzeug.exceptions.Unauthorized("Invalid apikey")
            if request.env.uid and request.env.uid != uid:
                raise AccessDenied(request.env._("Session user does not match the used apikey."))
            request.update_env(user=uid)
            request.session.can_save = False
        elif not request.env.uid:
            raise werkzeug.exceptions.Unauthorized(
                "User not authenticated, use an API Key with a Bearer Authorization header."
            )
        elif not (
            headers.get("Sec-Fetch-Dest") == "document"
            and headers.get("Sec-Fetch-Mode") == "navigate"
            and headers.get("Sec-Fetch-Site") in ("none", "same-origin")
            and headers.get("Sec-Fetch-User") == "?1"
        ):
            raise werkzeug.exceptions.Unauthorized(
                'Missing "Authorization" or Sec-headers for interactive usage.'
            )
        cls._auth_method_user()

    @classmethod
    def _auth_method_public(cls):
        """``/web/hook`` runs as the Public user, found by its cached xmlid: 18.0 also reads the
        user's row on every call to check that it still exists (it cannot be deleted while its
        xmlid lives: removing the record removes the xmlid and clears the cache)."""
        if request.env.uid is None and request.httprequest.path.startswith("/web/hook/"):
            request.update_env(user=request.env["ir.model.data"]._xmlid_to_res_id("base.public_user"))
            return
        super()._auth_method_public()

    @tools.ormcache()
    def _doc_cache(self):
        """``/doc-bearer``'s rendered documents, emptied with Odoo's caches (rights, groups, modules)."""
        return OrderedDict()

    @classmethod
    def _pre_dispatch(cls, rule, args):
        result = super()._pre_dispatch(rule, args)
        if getattr(request, "_integration_db_from_header", False):
            request.session.can_save = False  # X-Odoo-Database makes the call stateless
        path = request.httprequest.path
        if path.startswith("/web/hook/") and "rule_uuid" in args:
            request.env["base.automation"]._webhook_buffer_body(args["rule_uuid"])
        elif path == "/jsonrpc":
            cls._check_jsonrpc_framing()
        return result

    @classmethod
    def _check_jsonrpc_framing(cls):
        """A body whose framing is broken is the client's error: a JSON-RPC error with 400, where
        18.0 answers 500 and logs a traceback (its dispatcher reads the body after this)."""
        try:
            request.httprequest.get_data()
        except OSError as exc:  # werkzeug's dechunking: an invalid chunk size, a short chunk
            error = {"code": 400, "message": "Bad Request", "data": {
                "name": "werkzeug.exceptions.BadRequest", "debug": "", "arguments": [],
                "message": f"the request body is malformed: {exc}", "context": {}}}
            response = request.make_json_response({"jsonrpc": "2.0", "id": None, "error": error}, status=400)
            werkzeug.exceptions.abort(response)  # as 18.0 answers a body that is not JSON: no error handling

    @classmethod
    def _handle_error(cls, exception):
        response = super()._handle_error(exception)
        if getattr(request, "integration_legacy_door", None) and hasattr(response, "headers"):
            # a JSON-RPC error answer is built without the headers set for the call: the deprecation ones
            request._inject_future_response(response)
        return response
