"""The one dispatch layer every door of the suite goes through.

JSON/2, outgoing webhooks and incoming webhooks all resolve models and
methods, check access, serialise values and map errors here, so the three
doors behave the same way and a fix lands once.
"""
from .access import check_secret_access
from .errors import error_status, error_status_and_body
from .methods import (
    bind_arguments,
    call,
    get_model,
    get_public_method,
    is_model_method,
    is_readonly,
    method_description,
    public_method_names,
)
from .serialize import dumps, json_response, to_jsonable

__all__ = [
    "bind_arguments",
    "call",
    "check_secret_access",
    "dumps",
    "error_status",
    "error_status_and_body",
    "get_model",
    "get_public_method",
    "is_model_method",
    "is_readonly",
    "json_response",
    "method_description",
    "public_method_names",
    "to_jsonable",
]
