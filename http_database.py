"""``X-Odoo-Database``: 19.0's database selection header, on 18.0.

18.0 picks the database in ``Request._get_session_and_dbname`` before any
addon code runs, and offers no hook there, so this one function is wrapped
when the addon is loaded. Load the addon server-wide
(``--load=base,web,integration_suite``) for the header to work on a
worker's very first request; single-database servers need nothing.
"""
import logging

from werkzeug.exceptions import Forbidden

from odoo import http

_logger = logging.getLogger(__name__)

HEADER = "X-Odoo-Database"


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
                raise Forbidden("Cannot use both the session_id cookie and the x-odoo-database header.")
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


def post_load():
    """Wrap the database selection once per process (the manifest's post_load hook)."""
    if getattr(http.Request._get_session_and_dbname, "original", None):
        return
    _get_session_and_dbname.original = http.Request._get_session_and_dbname
    http.Request._get_session_and_dbname = _get_session_and_dbname
    _logger.debug("X-Odoo-Database header support enabled")


# Odoo skips post_load when the package was imported before the registry
# loaded it (test runners do that), so the import applies it as well.
post_load()
