"""Map any exception to the JSON-2 ``(status, body, headers)`` triple."""
import traceback
from http import HTTPStatus

import psycopg2
from werkzeug.exceptions import HTTPException

from odoo.exceptions import AccessDenied, AccessError, MissingError, UserError
from odoo.http import SessionExpiredException
from odoo.tools import config

_OWN_MODULES = __name__.rsplit(".", 2)[0]
STATUS_BY_EXCEPTION = (
    # most specific first: MissingError and AccessError are UserErrors
    (MissingError, HTTPStatus.NOT_FOUND),
    (AccessError, HTTPStatus.FORBIDDEN),
    (AccessDenied, HTTPStatus.FORBIDDEN),
    (SessionExpiredException, HTTPStatus.FORBIDDEN),
    (UserError, HTTPStatus.UNPROCESSABLE_ENTITY),
    (psycopg2.errors.LockNotAvailable, HTTPStatus.CONFLICT),
)


def _show_debug(env):
    if config["dev_mode"]:
        return True
    try:
        return bool(env and env.uid and env.user._is_system())
    except Exception:  # noqa: BLE001 - a broken env must not hide the original error
        return False


def error_status(exc):
    """The HTTP status ``exc`` maps to (what ``error_status_and_body`` answers), without building a body."""
    if isinstance(exc, HTTPException):
        return int(exc.code or HTTPStatus.INTERNAL_SERVER_ERROR)
    return int(next((code for cls, code in STATUS_BY_EXCEPTION if isinstance(exc, cls)),
                    HTTPStatus.INTERNAL_SERVER_ERROR))


def error_status_and_body(exc, env=None):
    """Return ``(status, body, headers)`` for ``exc``.

    The body keys come in 19.0's order: name, message, arguments, context,
    debug. The traceback goes to system administrators and dev mode only.
    """
    headers = []
    message = arguments = None
    if isinstance(exc, HTTPException):
        message = exc.description
        arguments = [exc.description, exc.code]
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    # the addon's own exception classes answer with the name of the Odoo or werkzeug class they refine
    cls = next(k for k in type(exc).__mro__ if not k.__module__.startswith(_OWN_MODULES))
    body = {
        "name": f"{cls.__module__}.{cls.__qualname__}" if cls.__module__ else cls.__qualname__,
        "message": str(exc) if message is None else message,
        "arguments": list(exc.args) if arguments is None else arguments,
        "context": getattr(exc, "context", {}) or {},
        "debug": "".join(traceback.format_exception(exc)) if _show_debug(env) else "",
    }
    return error_status(exc), body, headers
