"""Signature test vector, retry timing and SSRF classification, without Odoo."""
import contextlib
import importlib.util
import pathlib
import socket
import ssl
import subprocess
import threading
import time
from datetime import datetime, timezone

import pytest
from pytest_httpserver import HTTPServer
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

_path = pathlib.Path(__file__).resolve().parent.parent / "tools" / "webhook_delivery.py"
_spec = importlib.util.spec_from_file_location("webhook_delivery", _path)
wd = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(wd)


def test_standard_webhooks_test_vector():
    header = wd.signature_header(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                 1614265330, '{"test": 2432232314}')
    assert header == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_new_secret_verifies_with_library_and_two_secrets_sign():
    old, new = wd.new_secret(), wd.new_secret()
    assert old.startswith("whsec_") and old != new
    msg_id, now, body = wd.new_message_id(), int(datetime.now(timezone.utc).timestamp()), '{"é": 1}'
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(now),
               "webhook-signature": wd.signature_header([new, old], msg_id, now, body)}
    for secret in (old, new):
        assert Webhook(secret).verify(body.encode(), headers) == {"é": 1}
    with pytest.raises(WebhookVerificationError):
        Webhook(wd.new_secret()).verify(body.encode(), headers)


def test_schedule_and_jitter():
    schedule = wd.parse_schedule(wd.DEFAULT_RETRY_SCHEDULE)
    assert schedule == [0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
    assert wd.next_delay(schedule, 2, rand=lambda: 0.0) == pytest.approx(270)
    assert wd.next_delay(schedule, 2, rand=lambda: 1.0) == pytest.approx(330)
    assert wd.next_delay(schedule, len(schedule)) is None
    assert wd.next_delay(schedule, 1, retry_after=60, rand=lambda: 1.0) == 60
    for bad in ("", "a,b", "5,-1"):
        with pytest.raises(ValueError):
            wd.parse_schedule(bad)


def test_retry_after_forms():
    now = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
    assert wd.parse_retry_after("120") == 120
    assert wd.parse_retry_after("Fri, 27 Nov 2026 12:01:00 GMT", now=now) == 60
    assert wd.parse_retry_after("soon") is None
    assert wd.parse_retry_after(None) is None


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.5", "172.16.3.4", "192.168.1.1", "169.254.169.254",
                                     "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "100.64.0.1", "0.0.0.0",
                                     "224.0.0.1"])
def test_forbidden_addresses(address):
    assert wd.is_forbidden_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses(address):
    assert not wd.is_forbidden_address(address)


def _resolver(address):
    return lambda host, port, proto: [(socket.AF_INET, socket.SOCK_STREAM, proto, "", (address, port))]


def test_destination_checked_on_resolved_address():
    with pytest.raises(ValueError, match="non-public"):
        wd.check_destination("https://innocent.example/hook", resolve=_resolver("10.1.2.3"))
    wd.check_destination("https://innocent.example/hook", resolve=_resolver("93.184.216.34"))
    wd.check_destination("http://10.1.2.3/hook", allow_private=True, resolve=_resolver("10.1.2.3"))
    with pytest.raises(ValueError, match="metadata"):
        wd.check_destination("http://metadata.google.internal/computeMetadata/v1/")
    for url in ("ftp://example.com", "example.com/hook", "http://", "http://a b/"):
        with pytest.raises(ValueError):
            wd.check_destination(url, allow_private=True)


def test_message_ids_are_unique():
    assert len({wd.new_message_id() for _i in range(1000)}) == 1000


# sending ----------------------------------------------------------------------


class _RawReceiver:
    """A TCP server that answers every connection with ``chunks``, sleeping ``pause`` s between them."""

    def __init__(self, chunks, pause):
        self.chunks, self.pause = chunks, pause
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _addr = self.server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                with contextlib.suppress(OSError):  # the client hung up at its deadline
                    for chunk in self.chunks:
                        conn.sendall(chunk)
                        time.sleep(self.pause)

    def close(self):
        self.server.close()


@pytest.fixture
def session():
    with wd.build_session(public_only=False) as value:
        yield value


def test_post_delivers_and_keeps_a_4kb_excerpt(httpserver, session):
    httpserver.expect_request("/hook", method="POST").respond_with_data("x" * 10000, status=202)
    outcome = wd.post(session, httpserver.url_for("/hook"), b"{}", {"webhook-id": "msg_1"}, 5, allow_private=True)
    assert outcome["status"] == 202 and not outcome["error"]
    assert len(outcome["excerpt"]) == wd.RESPONSE_EXCERPT_BYTES
    assert httpserver.log[0][0].headers["webhook-id"] == "msg_1"


def test_post_honours_retry_after_and_follows_no_redirect(httpserver, session):
    httpserver.expect_request("/busy").respond_with_data("", status=429, headers={"Retry-After": "7"})
    httpserver.expect_request("/moved").respond_with_data("", status=301, headers={"Location": "/busy"})
    assert wd.post(session, httpserver.url_for("/busy"), b"{}", {}, 5, allow_private=True)["retry_after"] == 7
    moved = wd.post(session, httpserver.url_for("/moved"), b"{}", {}, 5, allow_private=True)
    assert moved["status"] == 301 and len(httpserver.log) == 2


@pytest.mark.parametrize("chunks", [
    [b"HTTP/1.1 200 OK\r\n"] + [b"X"] * 100,                                           # trickled headers
    [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"] + [b"x"] * 100,               # trickled body
], ids=["headers", "body"])
def test_trickling_receiver_is_cut_at_the_deadline(chunks, session):
    receiver = _RawReceiver(chunks, pause=0.2)  # each byte well within the per-read timeout
    try:
        started = time.monotonic()
        outcome = wd.post(session, f"http://127.0.0.1:{receiver.port}/", b"{}", {}, 1.0, allow_private=True)
        elapsed = time.monotonic() - started
    finally:
        receiver.close()
    assert elapsed < 2.5, f"attempt took {elapsed:.1f}s for a 1s deadline"
    # the receiver's "200 OK" status line arrived before the cut: that answer stands, or the cut is the error
    assert outcome["status"] == 200 or "deadline" in outcome["error"], outcome


def test_dns_rebinding_is_refused_at_connect_time(httpserver):
    """The name resolves to a public address when checked, then the connection lands on loopback."""
    httpserver.expect_request("/hook").respond_with_data("ok")
    with wd.build_session(public_only=True) as strict:
        outcome = wd.post(strict, httpserver.url_for("/hook"), b"{}", {}, 5,
                          resolve=_resolver("93.184.216.34"))
    assert not outcome["status"]
    assert "non-public address 127.0.0.1" in outcome["error"]
    assert len(httpserver.log) == 0, "nothing may reach the private receiver"


def test_deliveries_carry_their_own_headers_and_no_cookie(httpserver, session):
    httpserver.expect_request("/hook").respond_with_data("ok", headers={"Set-Cookie": "sid=receiver-session"})
    for _attempt in range(2):
        wd.post(session, httpserver.url_for("/hook"), b"{}", {"webhook-id": "msg_1"}, 5, allow_private=True)
    second = httpserver.log[1][0]
    assert "Cookie" not in second.headers, "a cookie set by one answer is never replayed to a receiver"
    assert second.headers["webhook-id"] == "msg_1"


def _self_signed(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_https_verified_against_a_private_ca_bundle_from_the_environment(tmp_path, monkeypatch):
    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = HTTPServer(host="127.0.0.1", ssl_context=context)
    server.expect_request("/hook").respond_with_data("ok")
    server.start()
    try:
        url = server.url_for("/hook")
        assert url.startswith("https://")
        with wd.build_session(public_only=False) as unknown_ca:
            refused = wd.post(unknown_ca, url, b"{}", {}, 5, allow_private=True)
        assert not refused["status"] and "certificate" in refused["error"].lower()
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
        with wd.build_session(public_only=False) as private_ca:
            outcomes = [wd.post(private_ca, url, b"{}", {}, 5, allow_private=True) for _i in range(2)]
        assert [outcome["status"] for outcome in outcomes] == [200, 200]
    finally:
        server.stop()


def _closed_port():
    with socket.create_server(("127.0.0.1", 0)) as server:
        return server.getsockname()[1]


def test_failures_read_as_what_happened(httpserver, session):
    """The first line of an error says why no answer came, without knowing requests or urllib3."""
    refused = wd.post(session, f"http://127.0.0.1:{_closed_port()}/hook", b"{}", {}, 5, allow_private=True)
    assert refused["error"].startswith("Connection refused by 127.0.0.1:"), refused["error"]
    assert "ConnectionError" in refused["error"].splitlines()[1]  # the detail stays, on its own line

    unknown = wd.post(session, "http://no-such-host.invalid/hook", b"{}", {}, 5, allow_private=True)
    assert unknown["error"].splitlines()[0] == "Could not resolve the host no-such-host.invalid (DNS)", unknown

    # https spoken to a plain-http receiver
    tls = wd.post(session, httpserver.url_for("/hook").replace("http://", "https://"), b"{}", {}, 5,
                  allow_private=True)
    assert tls["error"].startswith("TLS handshake with localhost:"), tls["error"]


def test_a_silent_or_hanging_up_receiver_reads_as_such(session):
    hangs_up = _RawReceiver([], pause=0)  # reads the request and closes the connection
    try:
        outcome = wd.post(session, f"http://127.0.0.1:{hangs_up.port}/", b"{}", {}, 5, allow_private=True)
    finally:
        hangs_up.close()
    assert "closed the connection without an answer" in outcome["error"].splitlines()[0], outcome["error"]

    receiver = _RawReceiver([b""], pause=3)  # reads the request, then says nothing for 3 s
    try:
        outcome = wd.post(session, f"http://127.0.0.1:{receiver.port}/", b"{}", {}, 0.5, allow_private=True)
    finally:
        receiver.close()
    assert outcome["status"] is False
    assert "no answer within 0.5 s" in outcome["error"] or "deadline" in outcome["error"], outcome["error"]
