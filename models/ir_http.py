import re
import time
from collections import OrderedDict

import werkzeug.exceptions
from werkzeug.datastructures import WWWAuthenticate

from odoo import models, tools
from odoo.exceptions import AccessDenied, AccessError
from odoo.http import request

from .. import series
from ..controllers import traffic
from ..dispatch import restrictions

BEARER = re.compile(r"^bearer\s+(.+)$", re.IGNORECASE | re.DOTALL)
# the addon's bearer doors, as restricted keys' refusals and the logs name them
BEARER_DOORS = (("/json/2/", "/json/2"), ("/doc-bearer/", "/doc-bearer"), ("/metrics", "/metrics"))
# doors that check a restricted key's models themselves (/doc-bearer lists only what the key may call)
MODEL_AWARE_DOORS = ("/json/2", "/doc-bearer")


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _auth_method_bearer(cls):
        """19.0's bearer authentication: cached key checks, stateless, 401 with a challenge."""
        request.integration_started = time.perf_counter()  # 19.0's own JSON-2 dispatcher keeps no clock
        headers = request.httprequest.headers
        match = BEARER.match(headers.get("Authorization") or "")
        if match:
            # a malformed token (blank, control characters, oversized) is an invalid key too
            keys = request.env["res.users.apikeys"]
            found = keys._authenticate_key(scope="rpc", key=match.group(1).strip(), read_only_here=True)
            if not found:
                raise cls._integration_unauthorized("Invalid apikey")
            uid, key_id, revision = found
            if request.env.uid and request.env.uid != uid:
                raise AccessDenied(request.env._("Session user does not match the used apikey."))
            request.update_env(user=uid)
            request.session.can_save = False
            request.integration_key_id = key_id
            if revision:
                cls._integration_restrict_bearer(keys._integration_policy(key_id, revision))
        elif not request.env.uid:
            raise cls._integration_unauthorized(
                "User not authenticated, use an API Key with a Bearer Authorization header.")
        elif not (
            headers.get("Sec-Fetch-Dest") == "document"
            and headers.get("Sec-Fetch-Mode") == "navigate"
            and headers.get("Sec-Fetch-Site") in ("none", "same-origin")
            and headers.get("Sec-Fetch-User") == "?1"
        ):
            raise cls._integration_unauthorized('Missing "Authorization" or Sec-headers for interactive usage.')
        cls._auth_method_user()

    @staticmethod
    def _integration_unauthorized(message):
        """A 401 with 19.0's own challenge (19.0's JSON-2 door copies it to the answer); 18.0's is
        added by the addon's JSON/2 dispatcher."""
        challenge = WWWAuthenticate("bearer") if series.V19 else None
        return werkzeug.exceptions.Unauthorized(message, www_authenticate=challenge)

    @classmethod
    def _integration_restrict_bearer(cls, policy):
        """A restricted key on a bearer route: its address and rate here, its models and methods in
        the dispatch layer (``dispatch.call``); a read-only key's transaction is already read-only
        (the key-validity query made it so)."""
        path = request.httprequest.path
        door = next((name for prefix, name in BEARER_DOORS if path.startswith(prefix)), path)
        request.integration_key_policy = policy
        try:
            headers = restrictions.admit(policy, request.db, request.httprequest.remote_addr, door)
            if policy.model_restricted and door not in MODEL_AWARE_DOORS:
                # a route that does not say which model it touches: only keys without a model list
                raise policy.refuse(f"{door} is not a model method and the key is limited to some models", door)
        except AccessError as refusal:
            # raised by _pre_dispatch: 18.0's _authenticate turns any other error into a bare AccessDenied
            request.integration_key_refusal = refusal
            return
        request.future_response.headers.extend(headers)

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
        refusal = getattr(request, "integration_key_refusal", None)
        if refusal is not None:
            raise refusal
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
    def _post_dispatch(cls, response):
        result = super()._post_dispatch(response)
        if cls._native_json2():
            traffic.json2_call(request, response.status_code)
        return result

    @staticmethod
    def _native_json2():
        """A call of 19.0's own JSON-2 door (18.0's is the addon's, whose dispatcher counts its calls)."""
        return series.V19 and request.httprequest.path.startswith("/json/2/") \
            and getattr(request.dispatcher, "routing_type", None) == "json2"

    @classmethod
    def _handle_error(cls, exception):
        response = super()._handle_error(exception)
        if cls._native_json2() and hasattr(response, "status_code"):
            traffic.json2_call(request, response.status_code)
        if getattr(request, "integration_legacy_door", None) and hasattr(response, "headers"):
            # a JSON-RPC error answer is built without the headers set for the call: the deprecation ones
            request._inject_future_response(response)
            if isinstance(exception, restrictions.KeyRateLimited):
                response.status_code = 429
        return response
