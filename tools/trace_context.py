"""W3C Trace Context (``traceparent``) for the addon's doors, without an Odoo import.

A request's trace is ``(trace id, flags, cause, cause reference)``: the trace id and flags of the
``traceparent`` received on ``/json/2`` or ``/web/hook`` (a new trace when there is none or it is
malformed), what caused the work (``json2``, ``incoming``, ``web``, ``other``) and which request it
was. Every delivery queued under it gets its own span id and sends ``traceparent`` with the same
trace id, so a receiver continues the sender's trace.
"""
import re
import secrets

# version 00: exactly four fields; a later version may append fields after a dash (W3C Trace Context, 3.2)
TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
CAUSES = [("json2", "JSON/2 call"), ("incoming", "Incoming webhook"), ("web", "Web client or other HTTP request"),
          ("other", "Scheduled action or script")]
TRACED_PREFIXES = (("/json/2/", "json2"), ("/web/hook/", "incoming"))


def parse(value):
    """``(trace id, parent id, flags)`` of a valid ``traceparent`` header value, else ``None``."""
    match = TRACEPARENT.match((value or "").strip())
    if not match:
        return None
    version, trace_id, parent_id, flags, rest = match.groups()
    if version == "ff" or (version == "00" and rest) or trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return trace_id, parent_id, flags


def new_trace_id():
    return secrets.token_hex(16)


def new_span_id():
    return secrets.token_hex(8)


def traceparent(trace_id, span_id, flags="01"):
    return f"00-{trace_id}-{span_id}-{flags}"


def current(context, request):
    """The trace the work being done belongs to.

    ``context`` (the environment's) carries it where no request does (the worker running a queued
    incoming call); otherwise it is the request's, read once per request. Without either (a
    scheduled action, a script), each call starts a trace of its own.
    """
    trace = context.get("integration_trace")
    if trace:
        return tuple(trace)
    if not request:  # Odoo's request proxy is falsy outside a request
        return new_trace_id(), "01", "other", ""
    trace = getattr(request, "integration_trace", None)
    if trace is None:
        httprequest = request.httprequest
        cause = next((cause for prefix, cause in TRACED_PREFIXES if httprequest.path.startswith(prefix)), "web")
        received = parse(httprequest.headers.get("traceparent")) if cause != "web" else None
        trace_id, flags = (received[0], received[2]) if received else (new_trace_id(), "01")
        reference = getattr(request, "integration_webhook_request_id", None) if cause == "incoming" else None
        trace = (trace_id, flags, cause, reference or f"{httprequest.method} {httprequest.path}"[:200])
        request.integration_trace = trace
    return trace
