"""19.0's own JSON/2 door (``rpc``), extended rather than replaced: its route, dispatcher, body
parsing and error answers stay 19.0's. A call made with a restricted API key runs through the
addon's dispatch layer, which checks the key's models, rights and methods; the key cache, the
metrics and the trace context come from ``ir.http`` (``models/ir_http.py``)."""
from collections.abc import Mapping, Sequence
from typing import Any

from odoo import http
from odoo.http import request
from odoo.tools import frozendict

from odoo.addons.rpc.controllers.json2 import WebJson2Controller

from .. import dispatch


class Json2Controller(WebJson2Controller):
    @http.route()
    def web_json_2_rpc(
        self,
        __model__: str,
        __method__: str,
        ids: Sequence[int] = (),
        context: Mapping[str, Any] = frozendict(),
        **kwargs,
    ):
        policy = getattr(request, "integration_key_policy", None)
        if policy is None:
            return super().web_json_2_rpc(__model__, __method__, ids=ids, context=context, **kwargs)
        return dispatch.call(request.env, __model__, __method__, ids=ids, kwargs=kwargs, context=context,
                             policy=policy)
