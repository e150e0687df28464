"""The legacy doors' internals: 18.0 keeps them in ``base``, 19.0 in its ``rpc`` addon (auto-installed;
it cannot be a dependency of the manifest, which 18.0 reads too)."""
from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry

from . import V19

if V19:
    from odoo.service.model import execute_cr

    from odoo.addons.rpc.controllers import RPC, _check_request
    from odoo.addons.rpc.controllers.xmlrpc import (
        RPC_FAULT_CODE_CLIENT_ERROR,
        dumps,
        xmlrpc_handle_exception_int,
        xmlrpc_handle_exception_string,
    )
else:
    from odoo.service import security
    from odoo.service.model import check_method_name, execute_cr

    from odoo.addons.base.controllers.rpc import (
        RPC,
        RPC_FAULT_CODE_CLIENT_ERROR,
        _check_request,
        dumps,
        xmlrpc_handle_exception_int,
        xmlrpc_handle_exception_string,
    )

__all__ = [
    "RPC", "RPC_FAULT_CODE_CLIENT_ERROR", "_check_request", "dumps", "xmlrpc_handle_exception_int",
    "xmlrpc_handle_exception_string", "check_credentials", "execute",
]


def check_credentials(db, uid, password):
    """The legacy doors' own check of a ``(uid, password)``, cached by Odoo: ``AccessDenied`` if wrong."""
    if not V19:
        security.check(db, uid, password)
        return
    with Registry(db).cursor() as cr:
        api.Environment(cr, SUPERUSER_ID, {})["res.users"]._check_uid_passwd(uid, password)


def execute(cr, uid, model, method, args, kwargs):
    """The ``object`` service's call of ``model.method(*args, **kwargs)`` on ``cr``, as the series runs it."""
    if V19:
        return execute_cr(cr, uid, model, method, list(args), kwargs)
    check_method_name(method)
    return execute_cr(cr, uid, model, method, *args, **kwargs)
