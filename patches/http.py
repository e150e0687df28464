"""The process-wide wraps of 18.0's HTTP layer, applied only when the addon is loaded server-wide.

- ``X-Odoo-Database``, 19.0's database selection header: 18.0 picks the database in
  ``Request._get_session_and_dbname`` before any addon code runs and offers no hook there. The
  header is honoured for a database that installed the addon; one that did not is selected as
  stock 18.0 does (the header ignored); a name that dbfilter rejects selects no database (19.0);
  a name that is no database of this server gets a JSON 404 at once (no registry is tried,
  nothing is logged).
- The database listing of sessionless requests, reused for a few seconds (``_db_list``); a failed
  listing is not kept.
- The routing of a database without the addon leaves the addon's controllers out
  (``_generate_routing_rules``): a server-wide module's routes would otherwise serve it too.
"""
import functools
import re
import threading
import time

import psycopg2
from werkzeug.exceptions import Forbidden, NotFound

import odoo.service.db
from odoo import http, sql_db
from odoo.modules.registry import Registry

from .. import series
from ..dispatch import error_status_and_body
from . import MODULE

HEADER = "X-Odoo-Database"
# what 18.0's database manager accepts as a name: never a connection URI to another server
DBNAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+\Z")


def _json_error(request, exc):
    """``exc`` answered with JSON-2's error body: this runs before any route picks a dispatcher."""
    status, body, headers = error_status_and_body(exc)
    exc.response = request.make_json_response(body, headers=headers, status=status)
    return exc


def addon_state(db):
    """``True`` when database ``db`` installed the addon, ``False`` when it did not, ``None`` when
    there is no such database (or the name is not one this server's database manager would make).

    This process's registry of ``db`` answers when it is loaded (a change made by another process
    reaches it with the registry's own reload, on that database's next request); otherwise one
    query on the database, which its first request would open anyway. Nothing else is kept.
    """
    if not isinstance(db, str) or not DBNAME.match(db):
        return None
    try:
        registry = Registry.registries[db]
    except KeyError:
        registry = None
    if registry is not None and registry.ready:
        return MODULE in registry._init_modules
    try:
        with sql_db.db_connect(db).cursor() as cr:
            cr.execute("SELECT state FROM ir_module_module WHERE name = %s", [MODULE])
            row = cr.fetchone()
    except psycopg2.Error:  # no such database, or not an Odoo database
        return None
    return bool(row) and row[0] in ("installed", "to upgrade", "to remove")


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
    db = None  # one that dbfilter rejects: no database, as in 19.0 (and nothing said of its existence)
    if http.db_filter([header_db], host=host):
        state = addon_state(header_db)
        if state is None:
            raise _json_error(self, NotFound(f"The database {header_db!r} does not exist on this server."))
        if not state:
            return _get_session_and_dbname.original(self)  # stock 18.0 there: the header is not 18.0's
        db = header_db
    # Stateless call: a fresh session and no listing of every database,
    # which 18.0 otherwise does (one extra PostgreSQL connection) per request.
    session = http.root.session_store.new()
    for key, value in http.get_default_session().items():
        session.setdefault(key, value)
    if not session.context.get("lang"):
        session.context["lang"] = self.default_lang()
    session.db = db
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
    (another worker or server, ``createdb``) appears within LISTING_TTL seconds. An empty listing
    (18.0's answer when listing fails) is never kept.
    """
    now = time.monotonic()
    expires, dbs = _listings.get(force, (0.0, None))
    if expires < now:
        try:
            dbs = odoo.service.db.list_dbs(force)
        except psycopg2.OperationalError:
            return []
        if dbs:
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


def _generate_routing_rules(modules, nodb_only, converters=None):
    """18.0's routing rules, without the addon's controllers for a database that did not install it.

    The routing of a database is built from its installed modules plus the server-wide ones: a
    server-wide addon's routes (and its overrides of 18.0's routes) would serve every database.
    The no-database routing keeps them: a legacy call names its database in its arguments, and the
    addon's legacy door hands the calls of databases without the addon to 18.0's code.
    """
    dbname = getattr(threading.current_thread(), "dbname", None)
    # the registry whose installed modules 18.0's ``ir.http.routing_map`` just read
    if not nodb_only and dbname and MODULE in modules and MODULE not in Registry(dbname)._init_modules:
        modules = [module for module in modules if module != MODULE]
    return _generate_routing_rules.original(modules, nodb_only, converters=converters)


def _wrap(owner, name, wrapper):
    wrapper.original = getattr(owner, name)
    setattr(owner, name, wrapper)


def apply():
    """Apply the wraps once per process; ``False`` when they already were."""
    if getattr(http.db_list, "original", None):
        return False
    if not series.V19:  # 19.0 reads X-Odoo-Database itself
        _wrap(http.Request, "_get_session_and_dbname", _get_session_and_dbname)
    _wrap(http, "db_list", _db_list)
    _wrap(http, "_generate_routing_rules", _generate_routing_rules)
    for name in LISTING_CHANGERS:
        setattr(odoo.service.db, name, _forgetting_listing(getattr(odoo.service.db, name)))
    return True
