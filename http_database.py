"""The HTTP internals of 18.0 the addon has to touch, in one place.

- ``X-Odoo-Database``, 19.0's database selection header: 18.0 picks the database in
  ``Request._get_session_and_dbname`` before any addon code runs and offers no hook there, so
  that one function is wrapped when the addon is loaded. Load the addon server-wide
  (``--load=base,web,integration_suite``) for the header to work on a worker's very first
  request; single-database servers need nothing.
- The database listing of sessionless requests, reused for a few seconds (``_db_list``).
- Bodies read only up to a door's cap, chunked ones included (``read_capped_body``).
"""
import functools
import logging
import time

import psycopg2
from werkzeug.exceptions import Forbidden

import odoo.service.db
from odoo import http

from .dispatch import error_status_and_body

_logger = logging.getLogger(__name__)

HEADER = "X-Odoo-Database"


def _json_error(request, exc):
    """``exc`` answered with JSON-2's error body: this runs before any route picks a dispatcher."""
    status, body, headers = error_status_and_body(exc)
    exc.response = request.make_json_response(body, headers=headers, status=status)
    return exc


def _get_session_and_dbname(self):
    header_db = (self.httprequest.headers.get(HEADER) or "").strip()
    if not header_db:
        return _get_session_and_dbname.original(self)  # absent or empty: "not given"
    host = self.httprequest.environ.get("HTTP_HOST")
    sid = self.httprequest.cookies.get("session_id")
    if sid and http.root.session_store.is_valid_key(sid):
        cookie_db = http.root.session_store.get(sid).get("db")
        if cookie_db and http.db_filter([cookie_db], host=host):
            if cookie_db != header_db:
                raise _json_error(self, Forbidden(
                    "Cannot use both the session_id cookie and the x-odoo-database header."))
            return _get_session_and_dbname.original(self)
    # Stateless call: a fresh session and no listing of every database,
    # which 18.0 otherwise does (one extra PostgreSQL connection) per request.
    session = http.root.session_store.new()
    for key, value in http.get_default_session().items():
        session.setdefault(key, value)
    if not session.context.get("lang"):
        session.context["lang"] = self.default_lang()
    session.db = header_db if http.db_filter([header_db], host=host) else None
    session.can_save = False
    session.is_dirty = False
    self._integration_db_from_header = True
    return session, session.db


# how long a process reuses its listing of the databases (see ``_db_list``)
LISTING_TTL = 10.0
_listings = {}


def _db_list(force=False, host=None):
    """18.0's ``http.db_list`` from a listing this process reuses for LISTING_TTL seconds.

    18.0 lists every database on each request that has no session (a query on the
    ``postgres`` database): most API callers send no session and no X-Odoo-Database header.
    The filter (dbfilter, ``%h``/``%d``) is still applied per request. A database this process
    creates, copies, restores, renames or drops empties the listing at once; one made elsewhere
    (another worker or server, ``createdb``) appears within LISTING_TTL seconds.
    """
    now = time.monotonic()
    expires, dbs = _listings.get(force, (0.0, None))
    if expires < now:
        try:
            dbs = odoo.service.db.list_dbs(force)
        except psycopg2.OperationalError:
            return []
        _listings[force] = (now + LISTING_TTL, dbs)
    return http.db_filter(dbs, host)


def _forgetting_listing(function):
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            _listings.clear()

    wrapper.original = function
    return wrapper


# what the database manager and the ``db`` RPC service call to change the set of databases
LISTING_CHANGERS = ("exp_create_database", "exp_duplicate_database", "exp_drop", "exp_rename", "exp_restore",
                    "restore_db")


def post_load():
    """Wrap the database selection once per process (the manifest's post_load hook)."""
    if getattr(http.Request._get_session_and_dbname, "original", None):
        return
    _get_session_and_dbname.original = http.Request._get_session_and_dbname
    http.Request._get_session_and_dbname = _get_session_and_dbname
    _db_list.original = http.db_list
    http.db_list = _db_list
    for name in LISTING_CHANGERS:
        setattr(odoo.service.db, name, _forgetting_listing(getattr(odoo.service.db, name)))
    _logger.debug("X-Odoo-Database header support enabled")


# Odoo skips post_load when the package was imported before the registry
# loaded it (test runners do that), so the import applies it as well.
post_load()


def read_capped_body(httprequest, cap):
    """The raw body, read at most ``cap + 1`` bytes deep; ``None`` when it is larger than ``cap``.

    werkzeug reads a chunked body (no Content-Length) to its end, whatever its size; reading
    the bounded stream ourselves stops there. The bytes (none for a body over the cap) are kept
    where ``get_data()`` and the form parser find them, so later readers never read further.
    """
    wrapped = httprequest._HTTPRequest__wrapped  # the werkzeug request: only it has the input stream
    if hasattr(wrapped, "integration_capped_body"):  # a request retried after a concurrency error
        return wrapped.integration_capped_body
    length = wrapped.content_length
    data = b"" if length is not None and length > cap else wrapped.stream.read(cap + 1)
    too_large = (length is not None and length > cap) or len(data) > cap
    wrapped._cached_data = b"" if too_large else data
    wrapped.integration_capped_body = None if too_large else data
    return wrapped.integration_capped_body


def addon_installed(request):
    """Whether the request's database has the addon installed.

    A server-wide module's routes serve every database of the server (18.0 adds
    ``server_wide_modules`` to each database's routing map), so each door answers as stock
    18.0 does where the addon is not installed.
    """
    return bool(request.db) and "integration.webhook.call" in request.registry
