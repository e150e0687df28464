"""API traffic counted in memory per process and handed over in batches (no Odoo import).

Every JSON/2 and legacy (XML-RPC, JSON-RPC) call adds to dictionaries under one lock; nothing is
written per call. A flusher (see ``models/integration_legacy_client.py``) takes the whole batch
every few seconds and upserts it on its own cursor; a batch it could not write is put back.
"""
import hashlib
import threading
import time
from collections import OrderedDict
from datetime import datetime, timezone

FLUSH_SECONDS = 10.0
# a batch this large is written at once, whatever the time: memory stays bounded under any load
MAX_PENDING_KEYS = 5000
MAX_AUTH_ENTRIES = 10000
USER_AGENT_CHARS = 256


def credential_digest(db, uid, secret):
    """The key under which a verified credential's kind is remembered: never the secret itself."""
    return hashlib.sha256(f"{db}\x00{uid}\x00{secret}".encode()).digest()


class AuthKinds:
    """``digest -> (kind, api key id)`` of the credentials this process verified, least recently used first out.

    ``res.users.check`` caches a verified (uid, password) pair, so how it was verified (password or
    API key) is seen only on the first call: it is remembered here for the following ones.
    """

    def __init__(self, size=MAX_AUTH_ENTRIES):
        self._size = size
        self._entries = OrderedDict()
        self._lock = threading.Lock()

    def remember(self, digest, kind, key_id=None):
        with self._lock:
            self._entries[digest] = (kind, key_id)
            self._entries.move_to_end(digest)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def get(self, digest):
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None:
                self._entries.move_to_end(digest)
            return entry


class TrafficAggregator:
    """Per-process call counts: daily usage per door and user, and the legacy client inventory.

    ``usage``: ``(db, day, door, uid, API key id) -> [count, last call, its address]``.
    ``clients``: ``(db, client key) -> [first seen, last seen, calls, errors, refused, sample]``
    where the client key is the tuple that identifies one client's call shape and the sample is
    the arguments of its latest call.
    """

    def __init__(self, interval=FLUSH_SECONDS, max_keys=MAX_PENDING_KEYS, clock=time.monotonic):
        self.interval = interval
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._usage = {}
        self._clients = {}
        self._last_flush = clock()

    def count(self, db, door, uid, key_id=None, address=None):
        """One call over ``door`` ('json2', 'xmlrpc', 'jsonrpc') by ``uid`` (None when unauthenticated),
        with the API key ``key_id`` (None: a password, a session) from ``address``."""
        now = datetime.now(timezone.utc)
        key = (db, now.date(), door, uid, key_id)
        with self._lock:
            entry = self._usage.get(key)
            if entry is None:
                self._usage[key] = [1, now.replace(tzinfo=None), address]
            else:
                entry[0] += 1
                entry[1] = now.replace(tzinfo=None)
                entry[2] = address

    def client_call(self, db, client_key, outcome, sample):
        """One legacy call of ``client_key``; ``outcome`` is 'ok', 'error' or 'refused'."""
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        key = (db, client_key)
        with self._lock:
            entry = self._clients.get(key)
            if entry is None:
                entry = self._clients[key] = [now, now, 0, 0, 0, sample]
            entry[1] = now
            entry[2] += 1
            entry[3] += outcome == "error"
            entry[4] += outcome == "refused"
            entry[5] = sample

    def pending(self):
        return len(self._usage) + len(self._clients)

    def due(self):
        """Whether the batch should be written now: old enough and not empty, or large."""
        size = self.pending()
        return bool(size) and (size >= self.max_keys or self._clock() - self._last_flush >= self.interval)

    def databases(self):
        """The databases that have pending counts."""
        with self._lock:
            return {key[0] for key in self._usage} | {key[0] for key in self._clients}

    def flushed(self):
        """Start the next interval (the batch was handed over, or nothing could be written)."""
        self._last_flush = self._clock()

    def take(self, db):
        """Hand ``db``'s batch over as ``(usage, clients)`` (keys without the database); keep the others'."""
        with self._lock:
            usage = {key[1:]: entry for key, entry in self._usage.items() if key[0] == db}
            clients = {key[1]: entry for key, entry in self._clients.items() if key[0] == db}
            if usage:
                self._usage = {key: entry for key, entry in self._usage.items() if key[0] != db}
            if clients:
                self._clients = {key: entry for key, entry in self._clients.items() if key[0] != db}
        return usage, clients

    def put_back(self, db, usage, clients):
        """Merge a batch that could not be written into the current one (nothing is lost)."""
        with self._lock:
            for key, (count, last_at, address) in usage.items():
                entry = self._usage.setdefault((db, *key), [0, last_at, address])
                entry[0] += count
                if last_at > entry[1]:
                    entry[1:] = [last_at, address]
            for client_key, (first, last, calls, errors, refused, sample) in clients.items():
                entry = self._clients.get((db, client_key))
                if entry is None:
                    self._clients[(db, client_key)] = [first, last, calls, errors, refused, sample]
                else:
                    entry[0] = min(entry[0], first)
                    entry[2] += calls
                    entry[3] += errors
                    entry[4] += refused


# one of each per process
traffic = TrafficAggregator()
auth_kinds = AuthKinds()
