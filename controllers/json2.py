"""The JSON/2 door: ``POST /json/2/<model>/<method>``, Odoo 19.0's wire contract."""
import inspect
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from werkzeug.exceptions import BadRequest, RequestEntityTooLarge, UnprocessableEntity, UnsupportedMediaType

from odoo import http
from odoo.http import Dispatcher, Response, request
from odoo.tools import frozendict

from .. import dispatch
from ..patches.request_body import read_capped_body
from . import traffic

JSON_MIMETYPES = ("application/json",)
MAX_BODY_SIZE = 64 * 1024 * 1024
MAX_NESTING = 128


def _check_nesting(value):
    """Refuse bodies nested deeper than any real call needs (no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_NESTING:
            raise BadRequest(f"could not parse the body: nested deeper than {MAX_NESTING} levels")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


class Json2Dispatcher(Dispatcher):
    """19.0's ``type='json2'``: the body is the named arguments, the result is the body.

    Every request is accepted here so that a wrong Content-Type gets 19.0's
    415 instead of 18.0's generic 400.
    """

    routing_type = "json2"

    def __init__(self, request):
        super().__init__(request)
        self.started = time.perf_counter()  # the call's latency, for the metrics (controllers/traffic.py)

    @classmethod
    def is_compatible_with(cls, request):
        return True

    def dispatch(self, endpoint, args):
        self._read_body(args)
        if self.request.db:
            result = self.request.registry["ir.http"]._dispatch(endpoint)
        else:
            result = endpoint(**self.request.params)
        if isinstance(result, Response):
            return result
        return dispatch.json_response(self.request, result)

    def _read_body(self, args):
        """``request.params``: the body's named arguments and the path's."""
        httprequest = self.request.httprequest
        raw = read_capped_body(httprequest, MAX_BODY_SIZE)
        if raw is None:
            raise RequestEntityTooLarge(f"the body exceeds {MAX_BODY_SIZE} bytes")
        body = {}
        if raw:
            if httprequest.mimetype not in JSON_MIMETYPES:
                raise UnsupportedMediaType(
                    f"Request inferred type is {httprequest.mimetype!r} but "
                    f"{httprequest.path!r} is type='json2'. Please verify the "
                    "Content-Type request header and try again."
                )
            try:
                body = json.loads(raw)
            except RecursionError as exc:
                raise BadRequest("could not parse the body as json: nested too deeply") from exc
            except ValueError as exc:
                raise BadRequest(f"could not parse the body as json: {exc.args[0]}") from exc
            if not isinstance(body, dict):
                raise BadRequest("could not parse the body, expecting a json object")
            _check_nesting(body)
            clashes = sorted(body.keys() & {"self", *args})
            if clashes:
                raise UnprocessableEntity(f"{clashes[0]!r} cannot be given in the body of a JSON-2 call")
        self.request.params = body | args

    def post_dispatch(self, response):
        result = super().post_dispatch(response)
        traffic.json2_call(self.request, response.status_code)
        return result

    def handle_error(self, exc):
        if isinstance(exc, http.HTTPException) and exc.response:
            return exc.response
        status, body, headers = dispatch.error_status_and_body(exc, getattr(self.request, "env", None))
        traffic.json2_call(self.request, status)
        if status == 401 and not any(k.lower() == "www-authenticate" for k, _v in headers):
            headers.append(("WWW-Authenticate", "bearer"))
        return dispatch.json_response(self.request, body, status, headers)


def readonly_for_path(registry, path):
    """Whether ``/json/2/<model>/<method>`` may run on a read-only cursor."""
    _, _, rest = path.partition("/json/2/")
    model_name, _, method_name = rest.partition("/")
    if model_name not in registry:
        return True  # a 404 needs no read/write cursor
    return dispatch.is_readonly(registry[model_name], method_name)


class Json2Controller(http.Controller):
    def _json2_readonly(self):
        # 18.0 hands only the controller to the callable: read the path instead
        return readonly_for_path(request.registry, request.httprequest.path)

    # takes over 18.0's /json/<path:subpath>, which would redirect to a login page
    @http.route(
        ["/json/2", "/json/2/<path:subpath>"],
        type="json2",
        auth="none",
        readonly=True,
        methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
        save_session=False,
    )
    def json2_not_found(self, subpath=None, **kwargs):
        raise request.not_found("Did you mean POST /json/2/<model>/<method>?")

    @http.route(
        "/json/2/<__model__>/<__method__>",
        type="json2",
        auth="bearer",
        methods=["POST"],
        readonly=_json2_readonly,
        save_session=False,
    )
    def json2_call(  # path names cannot clash with a method's own ``model`` argument
        self,
        __model__: str,
        __method__: str,
        ids: Sequence[int] = (),
        context: Mapping[str, Any] = frozendict(),
        **kwargs,
    ):
        return dispatch.call(
            request.env, __model__, __method__, ids=ids, kwargs=kwargs, context=context,
            policy=getattr(request, "integration_key_policy", None),
        )


# 18.0's route wrapper reads the endpoint's signature on every call (``filter_kwargs``), which
# ``inspect`` rebuilds each time (about 25 us) unless the function carries it: it never changes.
_endpoint = Json2Controller.json2_call.original_endpoint
_endpoint.__signature__ = inspect.signature(_endpoint)
