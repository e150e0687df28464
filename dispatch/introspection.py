"""What a user may call, described for ``/doc-bearer`` and OpenAPI."""
import weakref

from odoo.release import version

from .. import series
from .methods import method_description, public_method_names
from .serialize import to_jsonable

ERROR_SCHEMA = {
    "type": "object",
    "required": ["name", "message", "arguments", "context", "debug"],
    "properties": {
        "name": {"type": "string"},
        "message": {"type": "string"},
        "arguments": {"type": "array"},
        "context": {"type": "object"},
        "debug": {"type": "string"},
    },
}


def readable_models(env, names=None, policy=None):
    """Models (sorted by name) that ``env``'s user may read, optionally among ``names``; with
    ``policy`` (a restricted API key's), only the key's models."""
    names = sorted(env.registry) if names is None else sorted(n for n in names if n in env.registry)
    return [env[name] for name in names
            if (policy is None or policy.allows_model(name)) and env[name].has_access("read")]


def callable_methods(model, policy=None):
    """The public methods of ``model``, only those a restricted key may call with ``policy``."""
    names = public_method_names(model)
    return names if policy is None else policy.allowed_methods(model, names)


def model_index(env, policy=None):
    """19.0's ``/doc/index.json`` shape."""
    modules = env["ir.module.module"].sudo().search([("state", "=", "installed")]).mapped("name")
    return {
        "modules": sorted(modules),
        "models": [
            {
                "model": model._name,
                "name": model._description,
                "fields": {name: {"string": field.string} for name, field in model._fields.items()
                           if series.field_readable(model, field)},  # as 19.0: only the fields the user may read
                "methods": callable_methods(model, policy),
            }
            for model in readable_models(env, policy=policy)
        ],
    }


def model_description(model, policy=None):
    """19.0's ``/doc/<model>.json`` shape: fields and methods with ordered parameters."""
    fields = model.fields_get()  # only the fields the user may read
    for name, desc in fields.items():
        # fields_get may describe fields that are not in _fields (res.users' group selectors)
        desc["module"] = getattr(model._fields.get(name), "_module", None) or ""
    return to_jsonable({
        "model": model._name,
        "name": model._description,
        "doc": (type(model).__doc__ or "").strip(),
        "fields": fields,
        "methods": {name: method_description(model, name) for name in callable_methods(model, policy)},
    })


def _operation(model, name):
    desc = method_description(model, name)
    properties = {
        "context": {"type": "object", "description": "Replaces the call's context."},
    }
    if "model" not in desc["api"]:
        properties["ids"] = {
            "oneOf": [
                {"type": "integer"},
                {"type": "array", "items": {"type": "integer"}},
            ],
            "description": "Records the method runs on.",
        }
    required = []
    for pname, param in desc["parameters"].items():
        properties[pname] = {"description": param.get("annotation", "")}
        if "default" in param:
            properties[pname]["default"] = param["default"]
        else:
            required.append(pname)
    error_schema = {"$ref": "#/components/schemas/Error"}
    error = {"description": "Error", "content": {"application/json": {"schema": error_schema}}}
    return {
        "post": {
            "operationId": f"{model._name}.{name}",
            "summary": desc["doc"].split("\n", 1)[0][:200],
            "tags": [model._name],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": properties,
                    "required": required,
                    "additionalProperties": "**" in desc["signature"],
                }}},
            },
            "responses": {
                "200": {"description": "The method's result", "content": {"application/json": {"schema": {}}}},
                **dict.fromkeys(("400", "401", "403", "404", "415", "422", "500"), error),
            },
        }
    }


_OPERATIONS = weakref.WeakKeyDictionary()


def _model_operations(model):
    """``{method: operation}`` of a model, built once per model class.

    An operation depends on the method's signature and doc only, not on the user, and a
    registry reload builds new classes: the cache never outlives a module install or upgrade.
    """
    cls = type(model)
    operations = _OPERATIONS.get(cls)
    if operations is None:
        operations = _OPERATIONS[cls] = to_jsonable({name: _operation(model, name)
                                                     for name in public_method_names(model)})
    return operations


def openapi_document(env, base_url, model_names=None, method_names=None, policy=None):
    """An OpenAPI 3.1 document of the models and public methods ``env``'s user (and the API key's
    ``policy``) may use."""
    paths = {}
    for model in readable_models(env, model_names, policy):
        operations = _model_operations(model)
        allowed = operations.keys() if policy is None else set(policy.allowed_methods(model, list(operations)))
        for name, operation in operations.items():
            if (method_names is None or name in method_names) and name in allowed:
                paths[f"/json/2/{model._name}/{name}"] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Odoo JSON-2 API", "version": version},
        "servers": [{"url": base_url}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR_SCHEMA},
        },
        "paths": paths,
    }
