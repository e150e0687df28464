"""Request bodies read at most to a door's cap, through werkzeug's request (an internal of 18.0's
``HTTPRequest``, listed in ``patches.TOUCHES``)."""
from werkzeug.exceptions import BadRequest


def read_capped_body(httprequest, cap):
    """The raw body, read at most ``cap + 1`` bytes deep; ``None`` when it is larger than ``cap``.

    werkzeug reads a chunked body (no Content-Length) to its end, whatever its size; reading
    the bounded stream ourselves stops there. The bytes (none for a body over the cap) are kept
    where ``get_data()`` and the form parser find them, so later readers never read further.
    A body whose framing is broken (an invalid chunk size, a connection that ends mid-chunk) is the
    client's error: ``BadRequest``, every time it is asked for.
    """
    wrapped = httprequest._HTTPRequest__wrapped  # the werkzeug request: only it has the input stream
    if not hasattr(wrapped, "integration_capped_body"):  # else read already (a retried request, two readers)
        _read(wrapped, cap)
    if isinstance(wrapped.integration_capped_body, BadRequest):
        raise BadRequest(wrapped.integration_capped_body.description)
    return wrapped.integration_capped_body


def _read(wrapped, cap):
    length = wrapped.content_length
    try:
        data = b"" if length is not None and length > cap else wrapped.stream.read(cap + 1)
    except OSError as exc:  # werkzeug's dechunking: "Invalid chunk header", a short chunk
        wrapped._cached_data = b""
        wrapped.integration_capped_body = BadRequest(f"the request body is malformed: {exc}")
    else:
        too_large = (length is not None and length > cap) or len(data) > cap
        wrapped._cached_data = b"" if too_large else data
        wrapped.integration_capped_body = None if too_large else data
