"""One JSON serialiser for API results and webhook payloads."""
import base64
import json
from datetime import date, datetime

from odoo import fields, models
from odoo.tools import lazy
from odoo.tools.misc import ReadonlyDict


def _default(obj):
    if isinstance(obj, models.BaseModel):
        return obj.ids
    if isinstance(obj, datetime):
        return fields.Datetime.to_string(obj)
    if isinstance(obj, date):
        return fields.Date.to_string(obj)
    if isinstance(obj, lazy):
        return obj._value
    if isinstance(obj, ReadonlyDict):
        return dict(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        raw = bytes(obj)
        try:
            # binary fields are read as base64 already: keep that text
            return raw.decode()
        except UnicodeDecodeError:
            return base64.b64encode(raw).decode()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return str(obj)


def dumps(value, **kwargs):
    """Serialise ``value`` to JSON text the way every door of the suite does."""
    return json.dumps(value, ensure_ascii=False, default=_default, **kwargs)


def to_jsonable(value):
    """Return ``value`` as plain JSON types (dict, list, str, numbers, bool, None)."""
    return json.loads(dumps(value))


def json_response(request, data, status=200, headers=None):
    """A JSON response whose Content-Length counts bytes, not characters.

    18.0's ``make_json_response`` measures the *text*, which truncates
    bodies holding non-ASCII characters; this one measures the encoded bytes.
    """
    body = dumps(data).encode()
    response = request.make_response(body, headers=list(headers or []), status=status)
    response.headers["Content-Type"] = "application/json; charset=utf-8"
    response.headers["Content-Length"] = str(len(body))
    return response
