"""Model and method resolution, argument binding and the call itself."""
import functools
import inspect
import weakref

import psycopg2.errors
from werkzeug.exceptions import NotFound, UnprocessableEntity

from odoo import models
from odoo.exceptions import AccessError
from odoo.tools.safe_eval import _UNSAFE_ATTRIBUTES

# 18.0's ``check_method_name`` refuses these on top of ``_``-prefixed names
_PRIVATE_NAMES = frozenset(_UNSAFE_ATTRIBUTES) | {"init"}


def get_model(env, model_name):
    """Return the model ``model_name`` of ``env`` or raise NotFound."""
    if model_name not in env.registry:
        raise NotFound(f"the model {model_name!r} does not exist")
    return env[model_name]


def _private_error(model, name):
    return AccessError(
        f"Private methods (such as '{model._name}.{name}') cannot be called remotely."
    )


# per model class, the methods already found public: a registry reload builds new classes,
# so an entry never outlives a module install or upgrade (refusals are not kept: their names
# come from callers)
_PUBLIC = weakref.WeakKeyDictionary()


def get_public_method(model, name):
    """Return the function behind ``model.<name>`` if it may be called remotely.

    Applies 18.0's rules and 19.0's guard: private names, ``init``, unsafe
    attributes, class/static methods and ``@api.private`` methods raise
    AccessError; a missing or non-callable attribute raises NotFound.
    """
    found = _PUBLIC.get(type(model), {}).get(name)
    if found is None:
        found = _PUBLIC.setdefault(type(model), {})[name] = _resolve_public_method(model, name)
    return found


def _resolve_public_method(model, name):
    if name.startswith("_") or name in _PRIVATE_NAMES:
        raise _private_error(model, name)
    cls = type(model)
    func = getattr(cls, name, None)
    if func is None or not callable(func):
        raise NotFound(f"The method '{model._name}.{name}' does not exist")
    for klass in cls.mro():
        attr = klass.__dict__.get(name)
        if attr is not None:
            if isinstance(attr, (classmethod, staticmethod)) or not inspect.isfunction(attr):
                raise _private_error(model, name)
            break
    if getattr(func, "_api_private", False):
        raise _private_error(model, name)
    return func


def is_model_method(func):
    """True for ``@api.model`` / ``@api.model_create_multi`` methods (18.0 markers)."""
    return getattr(func, "_api", None) in ("model", "model_create") or hasattr(func, "_api_model")


_READONLY = weakref.WeakKeyDictionary()


def is_readonly(model_cls, method_name):
    """19.0's rule: the ``_readonly`` flag of the first class in the MRO that sets it.

    Cached per model class for the names the class has (other names come from callers).
    """
    known = _READONLY.get(model_cls, {}).get(method_name)
    if known is None:
        known = _find_readonly(model_cls, method_name)
        if hasattr(model_cls, method_name):
            _READONLY.setdefault(model_cls, {})[method_name] = known
    return known


def _find_readonly(model_cls, method_name):
    for klass in model_cls.mro():
        method = getattr(klass, method_name, None)
        if method is not None and hasattr(method, "_readonly"):
            return bool(method._readonly)
    return False


@functools.lru_cache(maxsize=4096)
def _signature(func):
    return inspect.signature(func)


def bind_arguments(func, records, kwargs):
    """Bind named arguments to ``func``'s signature, 422 on a mismatch."""
    try:
        _signature(func).bind(records, **kwargs)
    except TypeError as exc:
        raise UnprocessableEntity(exc.args[0]) from exc


def _normalise_ids(ids):
    if ids is None or ids == []:
        return []
    if isinstance(ids, bool) or not isinstance(ids, (int, list)):
        raise UnprocessableEntity("ids must be a positive integer or a list of positive integers")
    ids = [ids] if isinstance(ids, int) else ids
    if not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids):
        raise UnprocessableEntity("ids must be a positive integer or a list of positive integers")
    return ids


def call(env, model_name, method_name, ids=(), kwargs=None, context=None, policy=None, door="/json/2"):
    """Call ``model_name.method_name`` as ``env``'s user, with named arguments only.

    ``context`` *replaces* the environment's context (19.0 semantics); a
    recordset result becomes its list of ids. ``policy``: the restrictions of the API key the
    call authenticated with (``dispatch.restrictions``), checked once the arguments are bound.
    """
    if context is not None and not isinstance(context, dict):
        raise UnprocessableEntity("context must be a JSON object")
    kwargs = kwargs or {}
    # replaced, not merged: 19.0 semantics
    model = get_model(env, model_name).with_context(context or {})  # pylint: disable=context-overridden
    func = get_public_method(model, method_name)
    ids = _normalise_ids(list(ids) if isinstance(ids, tuple) else ids)
    records = model.browse(ids)
    if policy is not None:  # a refused method is refused whatever its arguments
        policy.check_call(model, method_name, records, kwargs, door)
    if ids and is_model_method(func):
        raise UnprocessableEntity(f"cannot call {model_name}.{method_name} with ids")
    bind_arguments(func, records, kwargs)
    result = func(records, **kwargs) if policy is None else _call_restricted(policy, door, func, records, kwargs)
    if isinstance(result, models.BaseModel):
        result = result.ids
    return result


def _call_restricted(policy, door, func, records, kwargs):
    """A read-only key's write, refused by PostgreSQL, is the key's refusal (403), not a 500."""
    if not policy.read_only:
        return func(records, **kwargs)
    try:
        result = func(records, **kwargs)
        records.env.flush_all()  # pending writes fail here, where they are the call's
    except psycopg2.errors.ReadOnlySqlTransaction:
        raise policy.refuse("the key is read-only and the call tried to write", door) from None
    return result


_PUBLIC_NAMES = weakref.WeakKeyDictionary()


def public_method_names(model):
    """Sorted names of the methods of ``model`` that ``call`` accepts.

    Cached per model class: a registry reload builds new classes, so the
    cache never outlives a module install or upgrade.
    """
    cls = type(model)
    names = _PUBLIC_NAMES.get(cls)
    if names is None:
        names = []
        for name in sorted(dir(cls)):
            try:
                get_public_method(model, name)
            except (AccessError, NotFound):
                continue
            names.append(name)
        names = _PUBLIC_NAMES[cls] = tuple(names)
    return list(names)


def method_description(model, name):
    """Describe ``model.name`` the way 19.0's ``/doc`` does (ordered parameters, api tags)."""
    func = get_public_method(model, name)
    signature = inspect.signature(func)
    parameters = {}
    for index, (pname, param) in enumerate(signature.parameters.items()):
        if index == 0 or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue  # ``self`` and catch-alls are not named arguments
        entry = {"name": pname}
        if param.default is not param.empty:
            entry["default"] = param.default
        if param.annotation is not param.empty:
            entry["annotation"] = inspect.formatannotation(param.annotation)
        parameters[pname] = entry
    api = []
    if is_model_method(func):
        api.append("model")
    if is_readonly(type(model), name):
        api.append("readonly")
    defining = next(k for k in type(model).mro() if name in k.__dict__)
    return {
        "signature": str(signature),
        "parameters": parameters,
        "api": api,
        "doc": inspect.getdoc(func) or "",
        "model": model._name,
        # methods of BaseModel itself belong to ``base``
        "module": getattr(defining, "_module", None) or "base",
    }
