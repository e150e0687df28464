"""Restricted API keys: what one key may call, from where, how often (issue 21).

A key's restrictions (``integration.apikey.policy``) only narrow what its user may do: every door
first authenticates the key as 18.0 does, then asks this module. A key without restrictions costs
nothing here: the door's key-validity query says so and nothing else runs.

* ``KeyPolicy`` is the immutable form of a key's restrictions, cached per process under the key's
  restriction revision (read by the same query that checks the key is still valid on every call).
* ``KeyPolicy.check_call`` decides a model method call: the key's models and their read / write / create /
  delete rights, named extra methods, read-only, and the other models a call reaches through its
  arguments (nested read specifications, relational domain paths, x2many commands).
* ``RateLimiter`` keeps each key's rate in PostgreSQL (GCRA on one row per key), claimed on a
  connection of its own (autocommit, one prepared statement), so the limit holds across the
  workers and servers of a database, a read-only transaction can still count, and a call that
  fails still counts; a fast key's calls are claimed a tenth of a second's worth at a time.
"""
import ipaddress
import logging
import math
import os
import threading
import time
from dataclasses import dataclass

import psycopg2
from werkzeug.exceptions import TooManyRequests

from odoo import sql_db
from odoo.exceptions import AccessError

from .. import series
from .methods import is_readonly

_logger = logging.getLogger(__name__)

PERMISSIONS = ("read", "write", "create", "unlink")
# read methods 18.0 does not flag with ``api.readonly`` (they read the model's definition only)
READ_METHODS = frozenset({"fields_get"})
CREATE_METHODS = frozenset({"create", "name_create", "copy"})
DELETE_METHODS = frozenset({"unlink"})
WRITE_METHODS = frozenset({"write", "toggle_active", "action_archive", "action_unarchive"})
# buttons: a public ``action_*`` / ``button_*`` method changes the records it runs on
WRITE_PREFIXES = ("action_", "button_")
VERBS = {"read": "read", "write": "write", "create": "create", "unlink": "delete"}
RATE_WINDOW = 60.0  # seconds: limits are calls per minute


class KeyRateLimited(TooManyRequests):
    """A call over the key's rate: 429 with ``Retry-After`` and the IETF RateLimit headers."""

    def __init__(self, policy, state):
        super().__init__(f"the API key's rate limit of {policy.rate_limit} calls per minute is reached; "
                         f"retry in {state.retry_after} s")
        self.headers = rate_headers(policy, state) + [("Retry-After", str(state.retry_after))]

    def get_headers(self, environ=None, scope=None):
        return super().get_headers(environ, scope) + self.headers


# 19.0's own JSON-2 door names an error after its class: clients see werkzeug's, as on 18.0
KeyRateLimited.__module__ = TooManyRequests.__module__
KeyRateLimited.__name__ = KeyRateLimited.__qualname__ = TooManyRequests.__name__


@dataclass(frozen=True)
class ModelGrant:
    permissions: frozenset
    methods: frozenset  # extra methods named for this model


@dataclass(frozen=True)
class KeyPolicy:
    """The restrictions of one key; ``models`` is ``None`` when any model may be used."""

    key_id: int
    name: str
    read_only: bool
    networks: tuple
    rate_limit: int
    models: dict | None

    @property
    def model_restricted(self):
        return self.models is not None

    @property
    def fingerprint(self):
        """What decides the documents the key may read, the same in every process (cache keys, ETags)."""
        models = self.models and sorted((name, sorted(grant.permissions), sorted(grant.methods))
                                        for name, grant in self.models.items())
        return self.key_id, self.read_only, models

    def refuse(self, reason, door):
        """The ``AccessError`` (19.0's name on the wire: 403, a fault, an RPC error) to raise, logged
        with the key's name and the reason, never the key."""
        _logger.warning("API key %r (#%s) refused on %s: %s", self.name, self.key_id, door, reason)
        error = AccessError(f"This API key does not allow it: {reason}.")
        error.integration_key_refused = True
        return error

    # ------------------------------------------------------------------
    # source address
    # ------------------------------------------------------------------
    def check_address(self, address, door):
        """The caller's address (``remote_addr`` as Odoo sets it, ``proxy_mode`` honoured)."""
        if not self.networks:
            return
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            raise self.refuse(f"the source address {address!r} is not an IP address", door) from None
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if not any(ip in network for network in self.networks):
            raise self.refuse(f"calls from {ip} are not allowed", door)

    # ------------------------------------------------------------------
    # models and methods
    # ------------------------------------------------------------------
    def check_call(self, model, method_name, records, named, door):
        """Refuse ``model.method_name(**named)`` on ``records`` unless the key allows it."""
        model_cls = type(model)
        readonly = is_readonly(model_cls, method_name) or method_name in READ_METHODS
        if self.read_only and not readonly:
            raise self.refuse(f"the key is read-only and {model._name}.{method_name} is not a read method", door)
        if self.models is None:
            return
        grant = self.models.get(model._name)
        if grant is None:
            raise self.refuse(f"the model {model._name} is not among the key's models", door)
        if method_name not in grant.methods:
            needed = "read" if readonly else method_class(method_name, bool(records))
            if needed is None:
                raise self.refuse(f"{model._name}.{method_name} is neither a read, write, create nor delete "
                                  "method: it must be named among the key's extra methods", door)
            if needed not in grant.permissions:
                raise self.refuse(f"the key may not {VERBS[needed]} {model._name} records", door)
        self._check_reach(model, named, door)

    def allows_model(self, model_name):
        return self.models is None or model_name in self.models

    def allowed_methods(self, model, names):
        """The methods among ``names`` the key may call on ``model`` (what ``/doc-bearer`` lists)."""
        model_cls, grant = type(model), (self.models or {}).get(model._name)
        allowed = []
        for name in names:
            readonly = is_readonly(model_cls, name) or name in READ_METHODS
            if self.read_only and not readonly:
                continue
            if self.models is not None:
                if grant is None:
                    continue
                if name not in grant.methods:
                    needed = {"read"} if readonly else {method_class(name, True), method_class(name, False)}
                    if not needed & grant.permissions:
                        continue
            allowed.append(name)
        return allowed

    def _require(self, comodel_name, permission, door, through):
        grant = self.models.get(comodel_name)
        if grant is None or permission not in grant.permissions:
            raise self.refuse(f"{through} would {VERBS[permission]} {comodel_name} records", door)

    def _check_reach(self, model, named, door):
        """The other models a call reaches through its arguments need the key's rights on them too."""
        for name in ("domain", "args"):
            if isinstance(named.get(name), (list, tuple)):
                self._check_domain(model, named[name], door)
        if isinstance(named.get("specification"), dict):
            self._check_specification(model, named["specification"], door)
        for name in ("vals", "values", "default"):
            if isinstance(named.get(name), dict):
                self._check_values(model, named[name], door)
        if isinstance(named.get("vals_list"), (list, tuple)):
            for vals in named["vals_list"]:
                if isinstance(vals, dict):
                    self._check_values(model, vals, door)
        elif isinstance(named.get("vals_list"), dict):
            self._check_values(model, named["vals_list"], door)

    def _check_domain(self, model, domain, door, depth=0):
        if depth > 16:
            raise self.refuse("the domain is nested too deeply", door)
        for leaf in domain:
            if not isinstance(leaf, (list, tuple)) or len(leaf) != 3 or not isinstance(leaf[0], str):
                continue
            path, operator, value = leaf
            parts, current = path.split("."), model
            for index, part in enumerate(parts):
                field = current._fields.get(part)
                if field is None or not field.relational:
                    break
                current = model.env[field.comodel_name]
                if index < len(parts) - 1 or not _compares_ids(operator, value):
                    self._require(current._name, "read", door, f"the domain path {path!r}")
            if operator in ("any", "not any") and isinstance(value, (list, tuple)) and current is not model:
                self._check_domain(current, value, door, depth + 1)

    def _check_specification(self, model, specification, door, depth=0):
        if depth > 16:
            raise self.refuse("the specification is nested too deeply", door)
        for name, sub in specification.items():
            field = model._fields.get(name)
            if field is None or not field.relational or not isinstance(sub, dict) or not sub.get("fields"):
                continue
            comodel = model.env[field.comodel_name]
            self._require(comodel._name, "read", door, f"the specification of {model._name}.{name}")
            if isinstance(sub["fields"], dict):
                self._check_specification(comodel, sub["fields"], door, depth + 1)

    def _check_values(self, model, values, door, depth=0):
        if depth > 16:
            raise self.refuse("the values are nested too deeply", door)
        for name, value in values.items():
            field = model._fields.get(name) if isinstance(name, str) else None
            if field is None or field.type not in ("one2many", "many2many") or not isinstance(value, (list, tuple)):
                continue
            comodel = model.env[field.comodel_name]
            for command in value:
                if not isinstance(command, (list, tuple)) or not command or not isinstance(command[0], int):
                    continue
                needed = {0: "create", 1: "write", 2: "unlink"}.get(command[0])
                if needed:
                    self._require(comodel._name, needed, door, f"the {model._name}.{name} command")
                if needed in ("create", "write") and len(command) > 2 and isinstance(command[2], dict):
                    self._check_values(comodel, command[2], door, depth + 1)


def _compares_ids(operator, value):
    """A relational leaf that only compares ids reads nothing of the other model."""
    if operator not in ("=", "!=", "in", "not in", "child_of", "parent_of"):
        return False
    values = value if isinstance(value, (list, tuple)) else [value]
    return all(v is False or v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in values)


def method_class(method_name, on_records):
    """Which right a method needs (``None``: unknown, only callable when named)."""
    if method_name == "web_save":
        return "write" if on_records else "create"
    if method_name in CREATE_METHODS:
        return "create"
    if method_name in DELETE_METHODS:
        return "unlink"
    if method_name in WRITE_METHODS or method_name.startswith(WRITE_PREFIXES):
        return "write"
    return None


def parse_networks(text):
    """IP addresses and CIDR blocks, one per line or separated by commas / spaces (ValueError if wrong)."""
    networks = []
    for item in (text or "").replace(",", " ").split():
        networks.append(ipaddress.ip_network(item, strict=False))
    return tuple(networks)


def build_policy(key_id, name, read_only, addresses, rate_limit, lines):
    """``lines``: ``[(model name, {permissions}, "extra methods")]``; no line means any model."""
    models = None
    if lines:
        models = {}
        for model_name, permissions, methods in lines:
            names = frozenset(m for m in (methods or "").replace(",", " ").split() if m)
            previous = models.get(model_name)
            if previous:
                permissions, names = set(permissions) | previous.permissions, names | previous.methods
            models[model_name] = ModelGrant(frozenset(permissions), names)
    try:
        networks = parse_networks(addresses)
    except ValueError:
        networks = (ipaddress.ip_network("0.0.0.0/32"),)  # an unreadable list allows nobody
    return KeyPolicy(key_id, name, bool(read_only), networks, max(int(rate_limit or 0), 0), models)


# ----------------------------------------------------------------------
# Rate limits
# ----------------------------------------------------------------------
@dataclass(frozen=True)
class RateState:
    allowed: bool
    remaining: int
    reset: int  # seconds until the key's full quota is back
    retry_after: int


def rate_headers(policy, state):
    """draft-ietf-httpapi-ratelimit-headers: the policy (quota per window) and what is left of it."""
    return [
        ("RateLimit-Policy", f'"api-key";q={policy.rate_limit};w={int(RATE_WINDOW)}'),
        ("RateLimit", f'"api-key";r={state.remaining};t={state.reset}'),
    ]


# GCRA: ``tat`` (the theoretical arrival time, epoch seconds) moves by one emission interval
# (``step`` = 60 / limit) per call; a call is allowed while ``tat`` stays within one window of now.
# So a key may send its whole quota at once, then one call per step: at most
# ``limit * (1 + T / 60)`` calls in T seconds. When the limit changes, what is outstanding is
# rescaled to the new step (the calls made still count, in the new limit's terms).
#
# A process claims up to $4 calls at once (``claim_size``): as many as fit, all counted in the
# database before the first of them runs. The row is locked while it is read (FOR UPDATE: two
# processes never claim the same room). Answer: how many were granted (0: refused) and how far
# ahead ``tat`` was before the claim; no row: the key has no rate row yet.
_CLAIM = """
    WITH now AS (SELECT extract(epoch FROM clock_timestamp()) AS t),
    old AS (SELECT GREATEST(r.tat - now.t, 0) * $2 / r.step AS ahead, now.t AS t
              FROM integration_apikey_rate r, now WHERE r.key_id = $1 FOR UPDATE OF r),
    granted AS (SELECT ahead, t, GREATEST(LEAST($4, floor(($3 - ahead) / $2 + 1e-9)), 0)::integer AS n FROM old),
    claimed AS (UPDATE integration_apikey_rate r SET tat = g.t + g.ahead + g.n * $2, step = $2
                  FROM granted g WHERE r.key_id = $1 AND g.n > 0 RETURNING 1)
    SELECT n, ahead, (SELECT count(*) FROM claimed) FROM granted
"""
# prepared once per connection of the limiter (its own: nothing resets it), so planned once
_PREPARE = "PREPARE integration_apikey_claim(integer, float8, float8, integer) AS " + _CLAIM
_EXECUTE = "EXECUTE integration_apikey_claim(%s, %s, %s, %s)"
_CREATE_ROW = "INSERT INTO integration_apikey_rate (key_id, tat, step) VALUES (%s, 0, 1) ON CONFLICT DO NOTHING"
# claimed calls not used within this many seconds are dropped (they stay counted: never more calls)
CREDIT_SECONDS = 1.0


def claim_size(limit):
    """Calls claimed at once: a tenth of a second's worth at the limit's pace (1 up to 600/min)."""
    return max(1, math.ceil(limit / 600))


@dataclass
class _Credit:
    """Calls this process claimed for a key and has not used yet."""

    step: float
    left: int
    expires: float  # time.monotonic()
    ahead: float  # how far ahead the key's tat was after the claim
    claimed_at: float


class RateLimiter:
    """The keys' rates in PostgreSQL, claimed on one connection per database and process.

    A claim is one prepared statement on the limiter's own autocommit connection (a failed or
    read-only call still counts; the request's transaction is not involved). Between claims a
    process spends what it claimed without a query: with ``claim_size`` calls per claim, the
    bound becomes ``limit * (1 + T / 60) + P * (claim_size - 1)`` calls in T seconds for P
    processes, and a key of up to 600 calls a minute is counted exactly, call by call.
    """

    def __init__(self):
        self._forget()
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self):
        self._lock = threading.Lock()
        self._connections = {}  # the parent's sockets are not this process's
        self._credit = {}

    def _cursor(self, db):
        cnx = self._connections.get(db)
        if cnx is None or cnx.closed:
            _name, info = sql_db.connection_info_for(db)
            cnx = self._connections[db] = psycopg2.connect(**info)
            cnx.autocommit = True
            with cnx.cursor() as cr:
                cr.execute(_PREPARE)
        return cnx.cursor()

    def take(self, db, policy):
        """Count one call of ``policy``'s key: the answer says whether it may run."""
        step = RATE_WINDOW / policy.rate_limit
        now = time.monotonic()
        with self._lock:
            credit = self._credit.get((db, policy.key_id))
            if credit is not None and credit.step == step and credit.left > 0 and now < credit.expires:
                credit.left -= 1
                ahead = max(credit.ahead - (now - credit.claimed_at), 0.0)
                return RateState(True, credit.left + _room(ahead, step), math.ceil(ahead), 0)
            granted, ahead = self._claim(db, policy.key_id, step, claim_size(policy.rate_limit))
            if not granted:
                self._credit.pop((db, policy.key_id), None)
                return RateState(False, 0, math.ceil(ahead), max(1, math.ceil(ahead + step - RATE_WINDOW)))
            ahead += granted * step
            self._credit[(db, policy.key_id)] = _Credit(step, granted - 1, now + CREDIT_SECONDS, ahead, now)
            return RateState(True, granted - 1 + _room(ahead, step), math.ceil(ahead), 0)

    def _claim(self, db, key_id, step, size):
        for attempt in (1, 2, 3):
            try:
                with self._cursor(db) as cr:
                    cr.execute(_EXECUTE, [key_id, step, RATE_WINDOW, size])
                    row = cr.fetchone()
                    if row is not None:
                        return row[0], row[1]
                    cr.execute(_CREATE_ROW, [key_id])  # the key's first limited call: then claim again
            except psycopg2.OperationalError:
                self._connections.pop(db, None)  # a dropped connection: again on a new one
                if attempt == 3:
                    raise
        raise RuntimeError(f"no rate row for the API key #{key_id}")


def _room(ahead, step):
    return max(0, math.floor((RATE_WINDOW - ahead) / step + 1e-9))


rate_limiter = RateLimiter()


def admit(policy, db, address, door):
    """Apply a key's source-address and rate restrictions to one call on ``door``.

    Returns the RateLimit headers to answer with (none without a limit); raises the refusal's
    ``AccessError`` or ``KeyRateLimited``. The address is checked first: a refused address does
    not spend quota.
    """
    policy.check_address(address, door)
    if not policy.rate_limit:
        return []
    state = rate_limiter.take(db, policy)
    if not state.allowed:
        _logger.warning("API key %r (#%s) refused on %s: rate limit of %s/min reached",
                        policy.name, policy.key_id, door, policy.rate_limit)
        raise KeyRateLimited(policy, state)
    return rate_headers(policy, state)


def make_read_only(cr):
    """PostgreSQL refuses any write for the rest of ``cr``'s transaction (allowed after reads).

    A test cursor is marked read-only too, so that its savepoint is rolled back rather than
    released, as 18.0 does for its read-only test cursors: the test's transaction stays writable.
    """
    if series.is_test_cursor(cr):
        cr.readonly = True
    cr.execute("SET TRANSACTION READ ONLY")
