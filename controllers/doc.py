"""``/doc-bearer``: what JSON-2 clients read to map positional arguments to names."""
import hashlib
import threading

from werkzeug.exceptions import NotFound

from odoo import http
from odoo.exceptions import AccessError
from odoo.http import request

from .. import dispatch, series
from ..dispatch import introspection

# rendered documents kept per process (a full OpenAPI document is ~10 MB for an administrator)
DOC_CACHE_SIZE = 8
_CACHE_LOCK = threading.Lock()


def _check_doc_access():
    """The group of ``series.DOC_GROUP`` (19.0's api_doc checks its own the same way)."""
    env = request.env
    if not env.user.has_group(series.DOC_GROUP):
        raise AccessError(env._("This page is only accessible to %s users.", env.ref(series.DOC_GROUP).sudo().name))


def _policy():
    """The restrictions of the API key of the call (``None``: none): the documents list only what it may call."""
    return getattr(request, "integration_key_policy", None)


def _cached(producer):
    """Answer from a cache keyed by what decides the content; 304 when the client's ETag matches.

    The key is the registry, the user's groups, the language, the URL (with its query) and the
    base URL. Rendered documents stay in a small per-process LRU that Odoo empties with its
    other caches (access rights, groups, modules), so a plain user's OpenAPI document costs its
    rendering once, not on every call.
    """
    env = request.env
    base_url = env["ir.config_parameter"].sudo().get_param("web.base.url", "")
    tag = hashlib.sha256(repr((
        env.registry.registry_sequence, series.user_group_ids(env.user), env.lang,
        request.httprequest.full_path, base_url, _policy() and _policy().fingerprint,
    )).encode()).hexdigest()
    etag = f'"{tag}"'
    if etag in request.httprequest.headers.get("If-None-Match", ""):
        return request.make_response("", status=304, headers=[("ETag", etag)])
    cache = env["ir.http"]._doc_cache()
    with _CACHE_LOCK:
        body = cache.get(tag)
        if body is not None:
            cache.move_to_end(tag)
    if body is None:
        body = dispatch.dumps(producer(base_url)).encode()
        with _CACHE_LOCK:
            cache[tag] = body
            while len(cache) > DOC_CACHE_SIZE:
                cache.popitem(last=False)
    return request.make_response(body, status=200, headers=[
        ("Content-Type", "application/json; charset=utf-8"), ("Content-Length", str(len(body))), ("ETag", etag),
    ])


if series.V19:  # 19.0's api_doc (auto-installed) serves the index and model documents: extended
    from odoo.addons.api_doc.controllers.api_doc import DocController as _NativeDoc
else:
    _NativeDoc = http.Controller


class DocController(_NativeDoc):
    """``/doc-bearer``: the index and model documents (19.0's own there, narrowed to a restricted
    key's models), and the OpenAPI 3.1 document of what the caller may call."""

    _doc_route = {"type": "json2", "auth": "bearer", "methods": ["GET", "POST"],
                  "readonly": True, "save_session": False}

    @http.route("/doc-bearer/index.json", **_doc_route)
    def doc_bearer_index(self, **kwargs):
        if series.V19 and _policy() is None:
            return super().doc_bearer_index()
        _check_doc_access()
        return _cached(lambda base_url: introspection.model_index(request.env, _policy()))

    @http.route("/doc-bearer/openapi.json", **_doc_route)
    def doc_openapi(self, **kwargs):
        """OpenAPI 3.1 of what the caller may use; ``?models=a,b&methods=x,y`` narrow it."""
        _check_doc_access()
        args = request.httprequest.args

        def split(key):
            return args[key].split(",") if args.get(key) else None

        return _cached(lambda base_url: introspection.openapi_document(
            request.env, base_url, model_names=split("models"), method_names=split("methods"), policy=_policy(),
        ))

    @http.route("/doc-bearer/<model_name>.json", **_doc_route)
    def doc_bearer_modec(self, model_name, **kwargs):  # 19.0's name for it
        if series.V19 and _policy() is None:
            return super().doc_bearer_modec(model_name)
        _check_doc_access()
        if model_name not in request.env.registry:
            raise NotFound(f"the model {model_name!r} does not exist")
        policy = _policy()
        if policy is not None and not policy.allows_model(model_name):
            raise policy.refuse(f"the model {model_name} is not among the key's models", "/doc-bearer")
        model = request.env[model_name]
        model.check_access("read")
        return _cached(lambda base_url: introspection.model_description(model, policy))
