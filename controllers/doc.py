"""``/doc-bearer``: what JSON-2 clients read to map positional arguments to names."""
import hashlib

from werkzeug.exceptions import NotFound

from odoo import http
from odoo.exceptions import AccessError
from odoo.http import request

from .. import dispatch
from ..dispatch import introspection


def _check_doc_access():
    if not request.env.user.has_group("integration_suite.group_api_doc"):
        raise AccessError(request.env._("You are not allowed to read the API documentation."))


def _cached(producer):
    """Answer with an ETag of registry, user groups, language and URL; 304 when it matches."""
    env = request.env
    tag = hashlib.sha256(repr((
        env.registry.registry_sequence, env.user.groups_id.ids, env.lang,
        request.httprequest.full_path,
    )).encode()).hexdigest()
    etag = f'"{tag}"'
    if etag in request.httprequest.headers.get("If-None-Match", ""):
        return request.make_response("", status=304, headers=[("ETag", etag)])
    return dispatch.json_response(request, producer(), headers=[("ETag", etag)])


class DocController(http.Controller):
    _doc_route = {"type": "json2", "auth": "bearer", "methods": ["GET", "POST"],
                  "readonly": True, "save_session": False}

    @http.route("/doc-bearer/index.json", **_doc_route)
    def doc_index(self, **kwargs):
        _check_doc_access()
        return _cached(lambda: introspection.model_index(request.env))

    @http.route("/doc-bearer/openapi.json", **_doc_route)
    def doc_openapi(self, **kwargs):
        """OpenAPI 3.1 of what the caller may use; ``?models=a,b&methods=x,y`` narrow it."""
        _check_doc_access()
        args = request.httprequest.args

        def split(key):
            return args[key].split(",") if args.get(key) else None

        return _cached(lambda: introspection.openapi_document(
            request.env, request.env["ir.config_parameter"].sudo().get_param("web.base.url", ""),
            model_names=split("models"), method_names=split("methods"),
        ))

    @http.route("/doc-bearer/<model_name>.json", **_doc_route)
    def doc_model(self, model_name, **kwargs):
        _check_doc_access()
        if model_name not in request.env.registry:
            raise NotFound(f"the model {model_name!r} does not exist")
        model = request.env[model_name]
        model.check_access("read")
        return _cached(lambda: introspection.model_description(model))
