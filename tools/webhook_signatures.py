"""Incoming-webhook sender checks that need no Odoo: HMAC presets, Standard Webhooks, redaction.

Kept free of any ``odoo`` import so ``pure_tests/`` can check them with plain pytest.
Every comparison of a secret-derived value goes through ``hmac.compare_digest``.
"""
import base64
import binascii
import hashlib
import hmac
import time
from datetime import datetime, timezone

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook, WebhookVerificationError

TOLERANCE_SECONDS = 300

# preset -> (header, encoding, prefix); Stripe has its own scheme
HMAC_PRESETS = {
    "github": ("X-Hub-Signature-256", "hex", "sha256="),
    "shopify": ("X-Shopify-Hmac-Sha256", "base64", ""),
    "stripe": ("Stripe-Signature", "hex", ""),
}

# headers whose values are credentials, whatever the rule's configuration
SECRET_HEADERS = {
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
    "webhook-signature", "x-hub-signature", "x-hub-signature-256",
    "x-shopify-hmac-sha256", "stripe-signature", "x-signature",
}
REDACTED = "[redacted]"


class SignatureError(Exception):
    """The sender could not be authenticated; ``str(exc)`` is a short reason safe to return."""


def split_secrets(secrets):
    """Several secrets, one per line, are all accepted (rotation on the receiver's side)."""
    return [line.strip() for line in (secrets or "").splitlines() if line.strip()]


# what the call log keeps of a request's headers: a sender cannot grow a log row past this
MAX_LOGGED_HEADERS = 50
MAX_LOGGED_HEADER_VALUE = 1024


def redact_headers(headers, extra=()):
    """Header dict for the call log: credentials replaced, at most 50 headers of at most 1 KiB each."""
    secret = SECRET_HEADERS | {name.lower() for name in extra if name}
    logged = {}
    for index, (name, value) in enumerate(headers.items()):
        if index == MAX_LOGGED_HEADERS:
            logged["..."] = f"{len(headers) - index} more headers not logged"
            break
        if name.lower() in secret:
            value = REDACTED
        elif len(value) > MAX_LOGGED_HEADER_VALUE:
            value = f"{value[:MAX_LOGGED_HEADER_VALUE]}... ({len(value)} characters)"
        logged[name[:MAX_LOGGED_HEADER_VALUE]] = value
    return logged


def _digest(secret, data, algorithm="sha256"):
    return hmac.new(secret.encode(), data, getattr(hashlib, algorithm)).digest()


def _decode(signature, encoding):
    try:
        if encoding == "base64":
            return base64.b64decode(signature, validate=True)
        return bytes.fromhex(signature)
    except (binascii.Error, ValueError):
        return None


def verify_hmac(body, signature, secrets, encoding="hex", prefix="", algorithm="sha256"):
    """HMAC of the raw ``body`` in a header: ``<prefix><hex|base64 digest>`` (GitHub, Shopify, custom)."""
    if not signature:
        raise SignatureError("missing signature header")
    if prefix:
        if not signature.startswith(prefix):
            raise SignatureError("invalid signature")
        signature = signature[len(prefix):]
    received = _decode(signature.strip(), encoding)
    if received is None:
        raise SignatureError("invalid signature")
    for secret in split_secrets(secrets):
        if hmac.compare_digest(_digest(secret, body, algorithm), received):
            return
    raise SignatureError("invalid signature")


def verify_stripe(body, header, secrets, tolerance=TOLERANCE_SECONDS, now=None):
    """``Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]`` over ``<t>.<body>``, like Stripe's own libraries."""
    if not header:
        raise SignatureError("missing signature header")
    timestamp, signatures = None, []
    for item in header.split(","):
        key, _sep, value = item.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            signatures.append(value)
    try:
        timestamp_value = int(timestamp)
    except (TypeError, ValueError):
        raise SignatureError("invalid signature header") from None
    if not signatures:
        raise SignatureError("invalid signature header")
    if abs((now or time.time()) - timestamp_value) > tolerance:
        raise SignatureError("timestamp outside the tolerance")
    signed = timestamp.encode() + b"." + body
    received = [_decode(sig, "hex") for sig in signatures]
    for secret in split_secrets(secrets):
        expected = _digest(secret, signed)
        if any(sig is not None and hmac.compare_digest(expected, sig) for sig in received):
            return
    raise SignatureError("invalid signature")


def verify_standard_webhooks(body, headers, secrets):
    """Standard Webhooks 1.0 via the ``standardwebhooks`` library (±5 min, several ``v1,`` signatures)."""
    lowered = {key.lower(): value for key, value in headers.items()}
    wanted = ("webhook-id", "webhook-timestamp", "webhook-signature")
    if not all(lowered.get(name) for name in wanted):
        raise SignatureError("missing signature header")
    for secret in split_secrets(secrets):
        try:
            Webhook(secret).verify(body, {name: lowered[name] for name in wanted}, json_parse=False)
            return
        except WebhookVerificationError as exc:
            if "timestamp" in str(exc):
                raise SignatureError("timestamp outside the tolerance") from None
            if "Invalid Signature Headers" in str(exc):
                raise SignatureError("invalid signature header") from None
        except (ValueError, binascii.Error, EmptyWebhookSecretError):
            # malformed signature list, a body that is not UTF-8 or an empty secret line: never a match
            continue
    raise SignatureError("invalid signature")


def sign_standard_webhooks(secret, msg_id, timestamp, body):
    """Sender side, for tests and the benchmark: the ``webhook-*`` headers for ``body``."""
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp, tz=timezone.utc), body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(timestamp)), "webhook-signature": signature}
