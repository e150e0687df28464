"""Outgoing-webhook helpers that need no Odoo: secrets, signatures, retry timing, SSRF guard.

Kept free of any ``odoo`` import so ``pure_tests/`` can check them with plain pytest.
"""
import base64
import ipaddress
import random
import secrets
import socket
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook

# Standard Webhooks' recommended schedule: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h
DEFAULT_RETRY_SCHEDULE = "0,5,300,1800,7200,18000,36000,50400,72000,86400"
RESPONSE_EXCERPT_BYTES = 4096
# ±10 % spread so retries of many deliveries that failed together do not hit the receiver at once
JITTER = 0.1
# cloud metadata endpoints reachable by name or by an address that is not obviously private
METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}
METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
                      ipaddress.ip_address("100.100.100.200")}


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
