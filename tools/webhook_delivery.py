"""Outgoing-webhook helpers that need no Odoo: secrets, signatures, retry timing, SSRF guard.

Kept free of any ``odoo`` import so ``pure_tests/`` can check them with plain pytest.
"""
import base64
import contextlib
import ipaddress
import os
import random
import secrets
import socket
import ssl
import threading
import time
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from standardwebhooks.webhooks import Webhook
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

# Standard Webhooks' recommended schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h
DEFAULT_RETRY_SCHEDULE = "0,5,300,1800,7200,18000,36000,50400,72000,86400"
RESPONSE_EXCERPT_BYTES = 4096
# ±10 % spread so retries of many deliveries that failed together do not hit the receiver at once
JITTER = 0.1
# cloud metadata endpoints reachable by name or by an address that is not obviously private
METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}
METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
                      ipaddress.ip_address("100.100.100.200")}
# header names whose values are secrets: masked in the attempt history
SECRET_HEADER_WORDS = ("authorization", "token", "key", "secret", "password", "cookie", "signature")
MASK = "••••••••"
# the answer's headers kept per attempt (a receiver could send any amount)
RESPONSE_HEADERS_BYTES = 4096


def new_secret():
    """A Standard Webhooks signing secret: 32 random bytes presented as ``whsec_<base64>``."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_message_id():
    """A ``webhook-id``: unique per event, kept across retries so receivers can deduplicate."""
    return "msg_" + secrets.token_urlsafe(18)


def signature_header(secret_list, message_id, timestamp, body):
    """``webhook-signature`` value: one ``v1,<base64>`` entry per secret, space separated.

    ``body`` is the exact text sent (UTF-8); ``timestamp`` the integer unix time of the attempt.
    """
    when = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return " ".join(Webhook(secret).sign(message_id, when, body) for secret in secret_list)


def parse_schedule(text):
    """``"0,5,300"`` -> ``[0, 5, 300]``; raises ValueError on anything but non-negative integers."""
    delays = [int(part) for part in (text or "").replace(" ", "").split(",") if part != ""]
    if not delays or any(delay < 0 for delay in delays):
        raise ValueError("a retry schedule is a comma-separated list of seconds >= 0, e.g. 0,5,300")
    return delays


def next_delay(schedule, attempts_done, retry_after=None, rand=random.random):
    """Seconds to wait before the next attempt, or None when the schedule is exhausted.

    ``schedule[i]`` is the delay before attempt ``i + 1``; the delay gets ±JITTER and never
    undercuts a receiver's ``Retry-After``.
    """
    if attempts_done >= len(schedule):
        return None
    delay = schedule[attempts_done] * (1 + JITTER * (2 * rand() - 1))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def parse_retry_after(value, now=None):
    """Seconds asked by a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or datetime.now(timezone.utc)
    return max(0, (when - now).total_seconds())


def masked_headers(headers):
    """``Name: value`` lines of the request headers as sent, secrets masked (attempt history).

    The signature and any header whose name says it carries a credential (Authorization,
    *token*, *key*, *secret*, ...) keep only their name.
    """
    return "\n".join(
        f"{name}: {MASK if any(word in name.lower() for word in SECRET_HEADER_WORDS) else value}"
        for name, value in headers.items())


def header_lines(headers, limit=RESPONSE_HEADERS_BYTES):
    """``Name: value`` lines of an answer's headers, cut at ``limit`` characters."""
    text = "\n".join(f"{name}: {value}" for name, value in headers.items())
    return text if len(text) <= limit else text[:limit] + "\n…"


def is_forbidden_address(address):
    """True for loopback, private, link-local, multicast, reserved and metadata addresses."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip in METADATA_ADDRESSES or not ip.is_global or ip.is_multicast


def check_url_syntax(url):
    """Raise ValueError unless ``url`` is an absolute http(s) URL with a host."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"webhook URL must be an absolute http:// or https:// URL, got {url!r}")
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ValueError(f"webhook URL has an invalid port: {url!r}") from exc
    if any(char.isspace() for char in url):
        raise ValueError(f"webhook URL must not contain spaces: {url!r}")
    return parts


def check_destination(url, allow_private=False, resolve=socket.getaddrinfo):
    """Raise ValueError if ``url`` is not http(s) or resolves to a forbidden address.

    Checked at send time on the resolved addresses, so a DNS name pointing at an internal
    host is refused as well as a literal one.
    """
    parts = check_url_syntax(url)
    if allow_private:
        return
    host = parts.hostname.lower().rstrip(".")
    if host in METADATA_HOSTS:
        raise ValueError(f"refused: {host} is a cloud metadata host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = resolve(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConnectionError(f"cannot resolve {host}: {exc}") from exc
    for info in infos:
        address = info[4][0].split("%")[0]
        if is_forbidden_address(address):
            raise ValueError(f"refused: {host} resolves to the non-public address {address} "
                             "(allow with system parameter integration_suite.webhook_allow_private)")


# ---------------------------------------------------------------------------- sending

# statuses on which the receiver may ask us to slow down with Retry-After
THROTTLE_STATUSES = {429, 502, 503, 504}
USER_AGENT = "Odoo-integration_suite-webhooks/1"
_attempt = threading.local()  # the socket of the attempt running in this thread, for its deadline


class ForbiddenPeer(ConnectionError):
    """The connection reached a non-public address although the name resolved to a public one."""


class _GuardedConnectionMixin:
    """Checks the address actually connected to and lets the attempt's deadline reach the socket.

    The check before sending resolves the name once; a DNS answer that changes in between
    (DNS rebinding) is caught here, on the peer address of the open socket.
    """

    public_only = True

    def _new_conn(self):
        sock = super()._new_conn()
        if self.public_only:
            address = sock.getpeername()[0]
            if is_forbidden_address(address.split("%")[0]):
                sock.close()
                raise ForbiddenPeer(f"refused: {self.host} connected to the non-public address {address}")
        return sock

    def request(self, *args, **kwargs):
        result = super().request(*args, **kwargs)
        holder = getattr(_attempt, "holder", None)
        if holder is not None:
            holder["sock"] = self.sock
        return result


def _guarded_pools(public_only):
    http_conn = type("GuardedHTTPConnection", (_GuardedConnectionMixin, HTTPConnection), {"public_only": public_only})
    https_conn = type("GuardedHTTPSConnection", (_GuardedConnectionMixin, HTTPSConnection),
                      {"public_only": public_only})
    return {
        "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
        "https": type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn}),
    }


class _GuardedAdapter(HTTPAdapter):
    def __init__(self, public_only, **kwargs):
        self._pools = _guarded_pools(public_only)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        result = super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools
        return result


def build_session(public_only, pool_size=16):
    """A pooled keep-alive ``requests.Session`` whose direct connections are peer-checked."""
    session = requests.Session()
    # Environment settings are re-read on every request (proxies, ~/.netrc credentials): keep them
    # only when a proxy is configured, so deliveries honour it, NO_PROXY included.
    session.trust_env = bool(requests.utils.getproxies())
    # a private CA bundle named in the environment still applies (requests reads it per request)
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    for scheme in ("http://", "https://"):
        session.mount(scheme, _GuardedAdapter(public_only, pool_connections=pool_size, pool_maxsize=pool_size))
    return session


class _Watchdog:
    """One thread per process that cuts attempts past their deadline (no timer thread per attempt)."""

    TICK = 0.1

    def __init__(self):
        self._lock = threading.Lock()
        self._attempts = {}
        self._thread = None

    def watch(self, holder, deadline):
        with self._lock:
            self._attempts[id(holder)] = (deadline, holder)
            if self._thread is None or not self._thread.is_alive():  # none yet, or lost in a fork
                self._thread = threading.Thread(target=self._loop, name="webhook-deadline", daemon=True)
                self._thread.start()

    def unwatch(self, holder):
        """After this returns the attempt's socket is never cut (it may go back to the pool)."""
        with self._lock:
            self._attempts.pop(id(holder), None)

    def _loop(self):
        while True:
            time.sleep(self.TICK)
            now = time.monotonic()
            with self._lock:  # cut under the lock: never a socket already handed back by unwatch()
                for key, (deadline, holder) in list(self._attempts.items()):
                    if deadline <= now:
                        del self._attempts[key]
                        _cut(holder)


_watchdog = _Watchdog()


def _cut(holder):
    """Deadline reached: shut the attempt's socket down so the blocked read returns at once."""
    sock = holder.get("sock")
    if sock is not None:
        holder["cut"] = True
        with contextlib.suppress(OSError):  # already closed: the attempt ended meanwhile
            sock.shutdown(socket.SHUT_RDWR)


def _causes(exc):
    """``exc`` and what it wraps: requests and urllib3 nest the socket error two or three deep."""
    seen, pending = [], [exc]
    while pending:
        current = pending.pop(0)
        if isinstance(current, BaseException) and all(current is not known for known in seen):
            seen.append(current)
            pending += [getattr(current, "reason", None), current.__cause__, current.__context__,
                        *(arg for arg in current.args if isinstance(arg, BaseException))]
    return seen


def describe_failure(exc, url, timeout):
    """One line an operator reads without knowing requests: why no answer came back from ``url``."""
    parts = urlsplit(url)
    where = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    causes = _causes(exc)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"Timed out: could not connect to {where} within {timeout:g} s (connect timeout)"
    if isinstance(exc, requests.exceptions.Timeout):
        return f"Timed out: connected to {where}, but no answer within {timeout:g} s (read timeout)"
    if any(isinstance(cause, socket.gaierror) for cause in causes) or "Name or service not known" in str(exc):
        return f"Could not resolve the host {parts.hostname} (DNS)"
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return f"Connection refused by {where}: nothing listens there"
    if isinstance(exc, requests.exceptions.SSLError) or any(isinstance(cause, ssl.SSLError) for cause in causes):
        return f"TLS handshake with {where} failed (certificate or protocol)"
    if any(isinstance(cause, ConnectionResetError) for cause in causes):
        return f"{where} closed the connection without an answer"
    return f"No answer from {where}"


def post(session, url, body, headers, timeout, allow_private=False, resolve=socket.getaddrinfo):
    """One delivery attempt: POST ``body`` to ``url``, no redirects, keep at most 4 KB of the answer.

    ``timeout`` bounds the whole attempt (connect, send, answer), not only each read: a receiver
    that trickles its answer a byte at a time is cut off at the deadline. Never raises; returns
    ``status``, ``excerpt``, ``error``, ``retry_after``, ``duration_ms`` and ``response_headers``.
    """
    status, excerpt, error, retry_after, response_headers = False, False, False, None, False
    started = time.monotonic()
    holder = {}
    _attempt.holder = holder
    _watchdog.watch(holder, started + timeout)
    try:
        check_destination(url, allow_private=allow_private, resolve=resolve)
        # prepared without the session's merging (default headers, cookies): a delivery carries
        # exactly its own headers and never a cookie set by an earlier answer
        prepared = requests.Request("POST", url, data=body, headers=headers).prepare()
        environment = session.merge_environment_settings(url, {}, True, None, None) if session.trust_env else {}
        with session.send(prepared, timeout=timeout, allow_redirects=False, stream=True,
                          proxies=environment.get("proxies") or {},
                          verify=environment.get("verify") or session.verify) as response:
            status = response.status_code
            response_headers = header_lines(response.headers)
            raw = response.raw.read(RESPONSE_EXCERPT_BYTES, decode_content=True)
            _watchdog.unwatch(holder)  # before the connection returns to the pool for another attempt
            excerpt = raw.decode(response.encoding or "utf-8", "replace")
            if status in THROTTLE_STATUSES:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
    except (ValueError, ConnectionError) as exc:
        error = str(exc)
    except requests.exceptions.RequestException as exc:
        error = f"{describe_failure(exc, url, timeout)}\n{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - an attempt must end in an outcome, whatever the receiver did
        error = f"{type(exc).__name__}: {exc}"
    finally:
        _watchdog.unwatch(holder)
        _attempt.holder = None
    if error and holder.get("cut"):
        status, excerpt, retry_after, response_headers = False, False, None, False
        error = f"Timed out: no answer within {timeout:g} s, the attempt's deadline (receiver too slow to answer)"
    return {"status": status, "excerpt": excerpt, "error": error, "retry_after": retry_after,
            "duration_ms": (time.monotonic() - started) * 1000, "response_headers": response_headers}
