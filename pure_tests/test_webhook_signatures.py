"""Sender checks of incoming webhooks, without Odoo: the module is loaded from its file."""
import base64
import hashlib
import hmac
import importlib.util
import time
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location(
    "webhook_signatures", Path(__file__).resolve().parent.parent / "tools" / "webhook_signatures.py")
ws = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(ws)

SECRET = "It's a Secret to Everybody"


def test_github_documented_vector():
    # docs.github.com "Validating webhook deliveries" test values
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    ws.verify_hmac(b"Hello, World!", expected, SECRET, "hex", "sha256=")
    with pytest.raises(ws.SignatureError, match="invalid"):
        ws.verify_hmac(b"Hello, World?", expected, SECRET, "hex", "sha256=")


def test_shopify_base64():
    body = b'{"id": 1}'
    signature = base64.b64encode(hmac.new(b"shpss", body, hashlib.sha256).digest()).decode()
    ws.verify_hmac(body, signature, "shpss", "base64")
    with pytest.raises(ws.SignatureError):
        ws.verify_hmac(body, signature, "other", "base64")
    with pytest.raises(ws.SignatureError, match="missing"):
        ws.verify_hmac(body, None, "shpss", "base64")
    with pytest.raises(ws.SignatureError):
        ws.verify_hmac(body, "%%%not base64", "shpss", "base64")


def test_stripe_scheme_and_tolerance():
    body, now = b'{"id": "evt_1"}', 1700000000
    sig = hmac.new(b"whsec_x", f"{now}.".encode() + body, hashlib.sha256).hexdigest()
    ws.verify_stripe(body, f"t={now},v1=deadbeef,v1={sig}", "whsec_x", now=now + 10)
    with pytest.raises(ws.SignatureError, match="timestamp"):
        ws.verify_stripe(body, f"t={now},v1={sig}", "whsec_x", now=now + 301)
    with pytest.raises(ws.SignatureError, match="header"):
        ws.verify_stripe(body, f"v1={sig}", "whsec_x", now=now)


def test_standard_webhooks_published_vector_and_rotation():
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    signed = ws.sign_standard_webhooks(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert signed["webhook-signature"] == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    now = int(time.time())
    headers = ws.sign_standard_webhooks(secret, "msg_1", now, b"{}")
    headers["webhook-signature"] = "v1,AAAA " + headers["webhook-signature"]
    ws.verify_standard_webhooks(b"{}", headers, "whsec_" + base64.b64encode(b"x" * 24).decode() + "\n" + secret)
    with pytest.raises(ws.SignatureError, match="timestamp"):
        ws.verify_standard_webhooks(b"{}", ws.sign_standard_webhooks(secret, "m", now - 301, b"{}"), secret)
    with pytest.raises(ws.SignatureError, match="missing"):
        ws.verify_standard_webhooks(b"{}", {}, secret)
    with pytest.raises(ws.SignatureError, match="invalid"):
        ws.verify_standard_webhooks(b"{}", {**headers, "webhook-signature": "garbage"}, secret)
    # an empty secret line is no match (a 401 for the sender), never an unhandled error
    ws.verify_standard_webhooks(b"{}", headers, "whsec_\n" + secret)
    with pytest.raises(ws.SignatureError, match="invalid"):
        ws.verify_standard_webhooks(b"{}", headers, "whsec_")


def test_redaction():
    redacted = ws.redact_headers({"Authorization": "bearer k", "X-Custom-Sig": "s", "Cookie": "c", "Host": "h"},
                                 extra=["x-custom-sig"])
    assert redacted == {"Authorization": "[redacted]", "X-Custom-Sig": "[redacted]", "Cookie": "[redacted]",
                        "Host": "h"}
