"""Rights checks that the doors' public methods make before any ``sudo()``."""
from odoo.exceptions import AccessError


def check_secret_access(records):
    """Signing secrets are for administrators: raise AccessError for anyone else.

    The model-level check comes first, so a caller without the right gets the same 403 whether
    or not the ids exist (no enumeration of records).
    """
    records.check_access("write")
    if not records.env.is_system():
        raise AccessError(records.env._("Only administrators can manage signing secrets (%s).",
                                        records._description))
