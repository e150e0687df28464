"""The legacy doors ``/xmlrpc``, ``/xmlrpc/2`` and ``/jsonrpc``: inventoried, marked deprecated, retirable.

18.0's routes are inherited, not replaced: answers keep their exact bodies and only gain the
``Deprecation``, ``Sunset`` and ``Link`` headers. Each authenticated call is counted per client
and call shape in memory (``controllers/traffic.py``), and a user whose legacy access is retired
gets the protocol's own error (an XML-RPC fault, a JSON-RPC error) naming the JSON/2 endpoint.

A call belongs to the database it names (``authenticate(db, ...)``, ``execute_kw(db, ...)``), else
to the request's: on a multi-database server such calls are served without a database (18.0's
no-database routing, where a server-wide addon's door answers too). A database that did not
install the addon gets 18.0's door as it is.
"""
import inspect
import threading
import time
import xmlrpc.client
from datetime import datetime, timezone

import psycopg2

from odoo import SUPERUSER_ID, api
from odoo.exceptions import AccessDenied
from odoo.http import Response, dispatch_rpc, request, route
from odoo.modules.registry import Registry

from .. import dispatch, series
from ..dispatch import restrictions
from ..models.integration_legacy_client import MAX_SAMPLE_BYTES, refusal_error, refused_from
from ..patches.http import addon_state
from ..series.rpc import (
    RPC,
    RPC_FAULT_CODE_CLIENT_ERROR,
    _check_request,
    check_credentials,
    dumps,
    execute,
    xmlrpc_handle_exception_int,
    xmlrpc_handle_exception_string,
)
from ..tools.api_traffic import USER_AGENT_CHARS, auth_kinds, credential_digest
from . import traffic

USAGE_DOORS = {"/xmlrpc": "xmlrpc", "/xmlrpc/2": "xmlrpc", "/jsonrpc": "jsonrpc"}
# the calls that name their database first: common's login / authenticate, object's execute / execute_kw
NAMES_ITS_DATABASE = {("common", "login"), ("common", "authenticate"), ("object", "execute"),
                      ("object", "execute_kw")}


def _with_env(db, func):
    """Run ``func(env)`` on a new cursor of ``db`` (the legacy dispatch closed the request's)."""
    with Registry(db).cursor() as cr:
        return func(api.Environment(cr, SUPERUSER_ID, {}))


class LegacyCall:
    """A legacy call as the inventory sees it: who, over which door, calling what, with which arguments."""

    __slots__ = ("db", "door", "service", "rpc_method", "uid", "secret", "model_name", "method", "args", "kwargs",
                 "known", "refusals", "policy")

    def __init__(self, door, service, rpc_method, params):
        self.door, self.service, self.rpc_method = door, service, rpc_method
        self.uid = self.secret = self.model_name = self.method = self.known = self.policy = None
        self.args, self.kwargs, self.refusals = [], {}, {}
        params = list(params) if isinstance(params, (list, tuple)) else []
        names_db = (service, rpc_method) in NAMES_ITS_DATABASE
        self.db = (params[0] if params and isinstance(params[0], str) else None) if names_db else request.db
        if service == "object" and rpc_method in ("execute", "execute_kw") and len(params) >= 5:
            _db, uid, self.secret, self.model_name, self.method = params[:5]
            if rpc_method == "execute_kw":
                self.args = params[5] if len(params) > 5 else []
                self.kwargs = params[6] if len(params) > 6 else {}
            else:
                self.args = params[5:]
            self.uid = uid if isinstance(uid, int) and not isinstance(uid, bool) else None
        elif service == "common" and rpc_method in ("login", "authenticate") and len(params) >= 3:
            self.secret = params[2]
        if not isinstance(self.args, (list, tuple)) or not isinstance(self.kwargs, dict) \
                or not isinstance(self.secret, str) or not isinstance(self.model_name, (str, type(None))) \
                or not isinstance(self.method, (str, type(None))):
            self.uid = self.secret = None  # not a well-formed call: 18.0 answers its error, nothing is counted

    def auth_kind(self, uid):
        """``(kind, API key id)`` of this call's verified credential (found once per process)."""
        if self.known is None:
            self.known = auth_kinds.get(credential_digest(self.db, uid, self.secret)) or self._on_env(
                lambda env: env["integration.legacy.client"]._auth_kind(uid, self.secret))
        return self.known

    def observed(self):
        """Whether the addon observes this call: its database installed the addon. Reads the
        database's legacy settings (headers, retired users) from the per-process cache and sets the
        headers; the request's own cursor is used when the call names the request's database."""
        if self.db is None:
            return False
        if self.db == request.db:
            if "integration.legacy.client" not in request.registry:
                return False
            headers, self.refusals = self._settings(request.env)
        elif addon_state(self.db):
            headers, self.refusals = _with_env(self.db, self._settings)
        else:
            return False
        request.future_response.headers.extend(headers)
        request.integration_legacy_door = self.door
        if self.uid and self.service == "object" and self.model_name is not None:
            self.policy = self.key_policy(self.uid)  # while the request's cursor is open (XML-RPC closes it)
        return True

    @staticmethod
    def _settings(env):
        clients = env["integration.legacy.client"].sudo()
        return clients._legacy_headers(), clients._legacy_settings()[3]

    def _on_env(self, func):
        """``func(env)`` on the request's cursor when the call names the request's database."""
        env = getattr(request, "env", None)
        if self.db == request.db and env is not None and not env.cr._closed:  # 18.0's XML-RPC closes it
            return func(env(user=SUPERUSER_ID))
        return _with_env(self.db, func)

    def key_policy(self, uid):
        """The restrictions of the API key this call authenticates with (``None``: a password, a key
        without restrictions), cached per process as 18.0 caches the legacy doors' credentials: a
        change applies to every worker's next request (Odoo's cache signalling)."""
        kind, key_id = self.known or self._on_env(  # not remembered: 18.0 has not checked the credential yet
            lambda env: env["integration.legacy.client"]._auth_kind(uid, self.secret, remember=False))
        if kind != "apikey" or not key_id:
            return None

        def policy(env):
            keys = env["res.users.apikeys"]
            revision = keys._legacy_key_revision(key_id)
            return keys._integration_policy(key_id, revision) if revision else None

        return self._on_env(policy)

    def restrict(self):
        """Refuse the call when its key's restrictions do not allow it; the key's policy else."""
        policy = self.policy
        if policy is None:
            return None
        check_credentials(self.db, self.uid, self.secret)  # a wrong password stays 18.0's AccessDenied
        request.future_response.headers.extend(
            restrictions.admit(policy, self.db, request.httprequest.remote_addr, self.door))
        if policy.model_restricted or policy.read_only:
            self._on_env(lambda env: self._check_method(env, policy))
        return policy

    def _check_method(self, env, policy):
        if self.model_name not in env.registry:
            raise policy.refuse(f"the model {self.model_name} is not among the key's models", self.door)
        model = env[self.model_name]
        try:
            func = dispatch.get_public_method(model, self.method)
        except Exception:  # noqa: BLE001 - a private or unknown method: never allowed to a restricted key
            raise policy.refuse(f"{self.model_name}.{self.method} cannot be called", self.door) from None
        args = list(self.args)
        records = model.browse()
        if not dispatch.is_model_method(func):
            ids, args = (args[0] if args else []), args[1:]
            try:
                records = model.browse(ids)
            except Exception:  # noqa: BLE001 - 18.0 answers its own error for such ids
                records = model.browse()
        try:
            named = inspect.signature(func).bind_partial(records, *args, **self.kwargs).arguments
        except TypeError:
            named = dict(self.kwargs)
        policy.check_call(model, self.method, records, named, self.door)

    def call_read_only(self, policy):
        """18.0's ``object`` dispatch (``dispatch``, ``execute``), in a read-only transaction."""
        check_credentials(self.db, self.uid, self.secret)
        threading.current_thread().dbname = self.db
        threading.current_thread().uid = self.uid
        registry = Registry(self.db).check_signaling()
        with registry.manage_changes(), registry.cursor() as cr:
            restrictions.make_read_only(cr)
            try:
                return execute(cr, self.uid, self.model_name, self.method, self.args, self.kwargs)
            except psycopg2.errors.ReadOnlySqlTransaction:
                raise policy.refuse("the key is read-only and the call tried to write", self.door) from None

    def restrict_login(self, uid):
        """``common.authenticate`` / ``login`` with a restricted key: its address and rate apply."""
        policy = self.key_policy(uid)
        if policy is not None:
            request.future_response.headers.extend(
                restrictions.admit(policy, self.db, request.httprequest.remote_addr, self.door))

    def refusal(self):
        """The error to answer instead of running the call, when the user or key is retired."""
        if not self.uid or self.uid not in self.refusals:
            return None
        check_credentials(self.db, self.uid, self.secret)  # a wrong password stays 18.0's AccessDenied
        day = refused_from(self.refusals, self.uid, self.auth_kind(self.uid)[1])
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
        traffic.count_call(self.db, USAGE_DOORS[self.door], uid, known[1], request.httprequest.remote_addr)

    def run(self, dispatch_call):
        """Refuse, or run ``dispatch_call()`` (18.0's dispatch); count and time the call either way."""
        started, outcome = time.perf_counter(), "error"
        try:
            result = self._run(dispatch_call)
            outcome = "ok"
            return result
        except Exception as exc:
            if isinstance(exc, AccessDenied):
                outcome = "refused" if getattr(exc, "integration_legacy_refused", False) else "denied"
            elif getattr(exc, "integration_key_refused", False) or isinstance(exc, restrictions.KeyRateLimited):
                outcome = "refused"
            if isinstance(exc, restrictions.KeyRateLimited):
                request.future_response.headers.extend(exc.headers)
            if self.door == "/jsonrpc" and not request.db:
                self._answer_with_headers(exc)
            raise
        finally:
            traffic.legacy_call(self, outcome, time.perf_counter() - started)

    @staticmethod
    def _answer_with_headers(exc):
        """Served without a database, a JSON-RPC error's answer is made by the dispatcher alone, with
        no header of the call: made here with them, and used as it is by 18.0's error handling."""
        if not hasattr(exc, "error_response"):
            exc.error_response = request.dispatcher.handle_error(exc)
            request._inject_future_response(exc.error_response)
            if isinstance(exc, restrictions.KeyRateLimited):
                exc.error_response.status_code = 429

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
            policy = self.restrict()
        except Exception as exc:
            self.record("refused" if getattr(exc, "integration_key_refused", False)
                        or isinstance(exc, restrictions.KeyRateLimited) else "error", error=exc, sample=sample)
            raise
        try:
            result = self.call_read_only(policy) if policy is not None and policy.read_only else dispatch_call()
            if self.service == "common" and isinstance(result, int) and not isinstance(result, bool) and result:
                self.restrict_login(result)
        except Exception as exc:
            self.record("error", error=exc, sample=sample)
            raise
        self.record("ok", result=result, sample=sample)
        return result


class LegacyRpcController(RPC):
    @staticmethod
    def _legacy_xmlrpc(door, service, handle_exception):
        """The XML-RPC call observed, answered as 18.0's ``xmlrpc_1`` / ``xmlrpc_2`` answer it, when its
        database installed the addon (``None`` otherwise: 18.0's route then runs untouched, so its
        faults carry the same traceback as on a stock server). A body whose framing is broken gets a
        fault with 400 from any database, where 18.0 puts the werkzeug traceback in the fault."""
        try:
            data = request.httprequest.get_data()
        except OSError as exc:  # werkzeug's dechunking: an invalid chunk size, a short chunk
            fault = xmlrpc.client.Fault(RPC_FAULT_CODE_CLIENT_ERROR if door == "/xmlrpc/2" else "BadRequest",
                                        f"the request body is malformed: {exc}")
            return Response(dumps(fault), status=400, mimetype="text/xml")
        try:
            params, method = xmlrpc.client.loads(data, use_datetime=True)
        except Exception:  # noqa: BLE001 - 18.0 parses it again and answers its own fault
            return None
        call = LegacyCall(door, service, method, params)
        if not call.observed():
            return None
        _check_request()
        status = 200
        try:
            response = dumps((call.run(lambda: dispatch_rpc(service, method, params)),))
        except restrictions.KeyRateLimited as error:
            status = 429  # a fault clients can read, and the status and headers every HTTP stack knows
            response = dumps(xmlrpc.client.Fault(RPC_FAULT_CODE_CLIENT_ERROR if door == "/xmlrpc/2"
                                                 else "TooManyRequests", error.description))
        except Exception as error:  # noqa: BLE001 - the protocol's fault, as the series answers it
            fault = Response(response=handle_exception(error), mimetype="text/xml")
            if series.V19:  # 19.0 raises it with its answer attached: Odoo logs it and answers the fault
                request._inject_future_response(fault)  # as is: the call's deprecation headers now
                error.error_response = fault
                raise
            return fault
        return Response(response=response, mimetype="text/xml", status=status)

    @route()
    def xmlrpc_1(self, service):
        return self._legacy_xmlrpc("/xmlrpc", service, xmlrpc_handle_exception_string) or super().xmlrpc_1(service)

    @route()
    def xmlrpc_2(self, service):
        return self._legacy_xmlrpc("/xmlrpc/2", service, xmlrpc_handle_exception_int) or super().xmlrpc_2(service)

    @route()
    def jsonrpc(self, service, method, args):
        call = LegacyCall("/jsonrpc", service, method, args)
        if not call.observed():
            return super().jsonrpc(service, method, args)
        return call.run(lambda: super(LegacyRpcController, self).jsonrpc(service, method, args))
