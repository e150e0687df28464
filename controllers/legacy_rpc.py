"""The legacy doors ``/xmlrpc``, ``/xmlrpc/2`` and ``/jsonrpc``: inventoried, marked deprecated, retirable.

18.0's routes are inherited, not replaced: answers keep their exact bodies and only gain the
``Deprecation``, ``Sunset`` and ``Link`` headers. Each authenticated call is counted per client
and call shape in memory (``controllers/traffic.py``), and a user whose legacy access is retired
gets the protocol's own error (an XML-RPC fault, a JSON-RPC error) naming the JSON/2 endpoint.
"""
import time
import xmlrpc.client
from datetime import datetime, timezone

from odoo import SUPERUSER_ID, api
from odoo.exceptions import AccessDenied
from odoo.http import dispatch_rpc, request, route
from odoo.modules.registry import Registry
from odoo.service import security

from odoo.addons.base.controllers.rpc import RPC, dumps

from .. import dispatch
from ..models.integration_legacy_client import MAX_SAMPLE_BYTES, refusal_error, refused_from
from ..tools.api_traffic import USER_AGENT_CHARS, auth_kinds, credential_digest
from . import traffic

USAGE_DOORS = {"/xmlrpc": "xmlrpc", "/xmlrpc/2": "xmlrpc", "/jsonrpc": "jsonrpc"}


def _with_env(db, func):
    """Run ``func(env)`` on a new cursor of ``db`` (the legacy dispatch closed the request's)."""
    with Registry(db).cursor() as cr:
        return func(api.Environment(cr, SUPERUSER_ID, {}))


class LegacyCall:
    """A legacy call as the inventory sees it: who, over which door, calling what, with which arguments."""

    __slots__ = ("db", "door", "service", "rpc_method", "uid", "secret", "model_name", "method", "args", "kwargs",
                 "known")

    def __init__(self, door, service, rpc_method, params):
        self.db, self.door, self.service, self.rpc_method = request.db, door, service, rpc_method
        self.uid = self.secret = self.model_name = self.method = self.known = None
        self.args, self.kwargs = [], {}
        params = list(params) if isinstance(params, (list, tuple)) else []
        if service == "object" and rpc_method in ("execute", "execute_kw") and len(params) >= 5:
            db, uid, self.secret, self.model_name, self.method = params[:5]
            if rpc_method == "execute_kw":
                self.args = params[5] if len(params) > 5 else []
                self.kwargs = params[6] if len(params) > 6 else {}
            else:
                self.args = params[5:]
            self.uid = uid if isinstance(uid, int) and not isinstance(uid, bool) and db == self.db else None
        elif service == "common" and rpc_method in ("login", "authenticate") and len(params) >= 3:
            if params[0] == self.db:
                self.secret = params[2]
        if not isinstance(self.args, (list, tuple)) or not isinstance(self.kwargs, dict) \
                or not isinstance(self.secret, str) or not isinstance(self.model_name, (str, type(None))) \
                or not isinstance(self.method, (str, type(None))):
            self.uid = self.secret = None  # not a well-formed call: 18.0 answers its error, nothing is counted

    def auth_kind(self, uid):
        """``(kind, API key id)`` of this call's verified credential (found once per process)."""
        if self.known is None:
            self.known = auth_kinds.get(credential_digest(self.db, uid, self.secret)) or _with_env(
                self.db, lambda env: env["integration.legacy.client"]._auth_kind(uid, self.secret))
        return self.known

    def refusal(self):
        """The error to answer instead of running the call, when the user or key is retired."""
        refusals = getattr(request, "integration_legacy_refused", {})
        if not self.uid or self.uid not in refusals:
            return None
        security.check(self.db, self.uid, self.secret)  # a wrong password stays 18.0's AccessDenied
        day = refused_from(refusals, self.uid, self.auth_kind(self.uid)[1])
        if not day or day > datetime.now(timezone.utc).date():
            return None
        return _with_env(self.db, lambda env: refusal_error(
            env, self.model_name, self.method, env["integration.legacy.client"]._legacy_settings()[2]))

    def sample(self):
        text = dispatch.dumps({"args": self.args, "kwargs": self.kwargs})
        return text if len(text) <= MAX_SAMPLE_BYTES else None

    def record(self, outcome, result=None, error=None, sample=None):
        """Count the call once it ran (``result``) or failed (``error``); unauthenticated calls are not counted."""
        uid = self.uid if self.uid else result if self.service == "common" and isinstance(result, int) else None
        if not uid or isinstance(uid, bool) or not self.secret:
            return
        if self.known is None and isinstance(error, AccessDenied) \
                and auth_kinds.get(credential_digest(self.db, uid, self.secret)) is None:
            return  # the credentials were refused: not a client of this user
        known = self.auth_kind(uid)
        headers = request.httprequest.headers
        client_key = (
            uid, *known, request.httprequest.remote_addr or "", (headers.get("User-Agent") or "")[:USER_AGENT_CHARS],
            self.door, self.service, self.rpc_method, self.model_name or "", self.method or "",
            len(self.args), ",".join(sorted(map(str, self.kwargs))),
        )
        traffic.client_call(self.db, client_key, outcome, sample)
        traffic.count_call(self.db, USAGE_DOORS[self.door], uid)

    def run(self, dispatch_call):
        """Refuse, or run ``dispatch_call()`` (18.0's dispatch); count and time the call either way."""
        started, outcome = time.perf_counter(), "error"
        try:
            result = self._run(dispatch_call)
            outcome = "ok"
            return result
        except AccessDenied as exc:
            outcome = "refused" if getattr(exc, "integration_legacy_refused", False) else "denied"
            raise
        finally:
            traffic.legacy_call(self, outcome, time.perf_counter() - started)

    def _run(self, dispatch_call):
        if not self.secret:
            return dispatch_call()
        sample = self.sample() if self.model_name else None  # before the call: a method may alter its arguments
        refused = self.refusal()
        if refused:
            refused.integration_legacy_refused = True
            self.record("refused", error=refused, sample=sample)
            raise refused
        try:
            result = dispatch_call()
        except Exception as exc:
            self.record("error", error=exc, sample=sample)
            raise
        self.record("ok", result=result, sample=sample)
        return result


class LegacyRpcController(RPC):
    def _legacy_begin(self, door):
        """Headers and retired users, read from the per-process cache while the request's cursor is open.

        ``False`` on a database where the addon is not installed (it is loaded server-wide): 18.0's door as is.
        """
        if "integration.legacy.client" not in request.registry:
            return False
        clients = request.env["integration.legacy.client"].sudo()
        request.future_response.headers.extend(clients._legacy_headers())
        request.integration_legacy_door = door
        request.integration_legacy_refused = clients._legacy_settings()[3]
        return True

    @route()
    def xmlrpc_1(self, service):
        self._legacy_begin("/xmlrpc")
        return super().xmlrpc_1(service)

    @route()
    def xmlrpc_2(self, service):
        self._legacy_begin("/xmlrpc/2")
        return super().xmlrpc_2(service)

    def _xmlrpc(self, service):
        """18.0's ``_xmlrpc`` with the call observed (the body is parsed once, here)."""
        if not getattr(request, "integration_legacy_door", None):
            return super()._xmlrpc(service)
        params, method = xmlrpc.client.loads(request.httprequest.get_data(), use_datetime=True)
        call = LegacyCall(request.integration_legacy_door, service, method, params)
        return dumps((call.run(lambda: dispatch_rpc(service, method, params)),))

    @route()
    def jsonrpc(self, service, method, args):
        if not self._legacy_begin("/jsonrpc"):
            return super().jsonrpc(service, method, args)
        call = LegacyCall("/jsonrpc", service, method, args)
        return call.run(lambda: super(LegacyRpcController, self).jsonrpc(service, method, args))
