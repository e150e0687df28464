"""What differs between the Odoo series the addon runs on (18.0 and 19.0), in one place.

The rest of the addon is series-neutral and takes from here the few Odoo internals that moved or
changed between the series. Per concern:

* Python internals (this module): the server-wide modules, test mode and test cursors, the
  user's groups, SQL constraints, configuration flags.
* The legacy doors' internals (``series/rpc.py``): 18.0 has them in ``base``, 19.0 in ``rpc``.
* Data that names renamed fields or views that differ (``series/<serie>/*.xml``), loaded by
  :func:`load_data` from ``data/integration_series_data.xml``.
* The manifest's version is ``x.y.z``: each series prefixes its own (``18.0.x.y.z``,
  ``19.0.x.y.z``); migrations of 18.0 databases moved to 19.0 are in ``migrations/19.0.*``.
"""
import logging
import os
import sys

import odoo.release
from odoo.tools import config, str2bool

_logger = logging.getLogger(__name__)

SERIES = odoo.release.serie
V19 = odoo.release.version_info[0] >= 19
MODULE = "integration_suite"


def server_wide_modules():
    """The modules loaded server-wide (``--load``) in this process."""
    conf = getattr(odoo, "conf", None)  # 18.0: odoo.conf.server_wide_modules, a list
    if conf is not None:
        return conf.server_wide_modules
    modules = config.get("server_wide_modules") or []  # 19.0: the option itself, a list
    return modules.split(",") if isinstance(modules, str) else modules


def in_test_mode(registry):
    """Whether ``registry``'s cursors belong to a running test (18.0's ``in_test_mode``; 19.0
    patches the registry while a test runs instead)."""
    if hasattr(registry, "in_test_mode"):
        return registry.in_test_mode()
    module = sys.modules.get("odoo.modules.module")
    return bool(getattr(module, "current_test", None))


def is_test_cursor(cr):
    """Whether ``cr`` is a test cursor (production code never imports ``odoo.tests``)."""
    for name in ("odoo.sql_db", "odoo.tests.test_cursor"):
        cls = getattr(sys.modules.get(name), "TestCursor", None)
        if cls is not None and isinstance(cr, cls):
            return True
    return False


# the groups field of res.users (renamed in 19.0)
GROUPS_FIELD = "group_ids" if V19 else "groups_id"
# who may read /doc-bearer: on 18.0 the addon's group (implied for internal users), on 19.0
# api_doc's own (administrators, unless given to others)
DOC_GROUP = "api_doc.group_allow_doc" if V19 else "integration_suite.group_api_doc"


def field_readable(model, field):
    """Whether the user of ``model``'s environment may read ``field`` (its ``groups``)."""
    return model._has_field_access(field, "read") if V19 else field.is_accessible(model.env)


def cache_insert_missing(records, field, values):
    """Put ``values`` of ``field`` in the cache of the records that have none (19.0: the field's own API)."""
    if V19:
        field._insert_cache(records, values)
    else:
        records.env.cache.insert_missing(records, field, values)


def user_group_ids(user):
    """The ids of every group of ``user``, implied ones included."""
    return (user.all_group_ids if V19 else user.groups_id).ids


def config_flag(name, default=True):
    """A boolean option of the server's configuration file (19.0 keeps unknown ones as strings)."""
    value = config.get(name, default)
    return str2bool(value, default) if isinstance(value, str) else bool(value)


def sql_constraints(cls):
    """Class decorator: the model's ``_sql_constraints`` (18.0) as 19.0's ``models.Constraint``.

    19.0 ignores ``_sql_constraints``; each becomes ``_<name>``, the same constraint name in the
    database (``<table>_<name>``), so databases moved from 18.0 keep theirs.
    """
    if not V19:
        return cls
    from odoo.models import Constraint  # noqa: PLC0415 - 19.0 only

    for name, definition, message in cls.__dict__.get("_sql_constraints", ()):
        constraint = Constraint(definition, message)
        setattr(cls, f"_{name}", constraint)
        constraint.__set_name__(cls, f"_{name}")
    if "_sql_constraints" in cls.__dict__:
        delattr(cls, "_sql_constraints")
    return cls


def load_data(env):
    """Load this series' data files (``series/<serie>/*.xml``, in name order) for the addon."""
    from odoo.tools.convert import convert_file  # noqa: PLC0415

    folder = os.path.join(os.path.dirname(__file__), SERIES)
    if not os.path.isdir(folder):
        _logger.warning("integration_suite has no data for Odoo %s", SERIES)
        return
    # as the manifest's data: on install, records of other modules marked noupdate are written too
    # (base.group_user's implied groups)
    state = env["ir.module.module"].search([("name", "=", MODULE)]).state
    mode = "init" if state == "to install" else "update"
    for name in sorted(os.listdir(folder)):
        if name.endswith(".xml"):
            convert_file(env, MODULE, f"series/{SERIES}/{name}", {}, mode=mode, noupdate=False,
                         pathname=os.path.join(MODULE, "series", SERIES, name))
