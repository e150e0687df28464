"""Moving a database from Odoo 18.0 to 19.0: remove the addon's 18.0-only views first.

They extend 18.0's preferences form and add a chatter that 19.0's automation form already has;
left in place until the end of the update (where Odoo drops records no data file loads), they
would be applied to 19.0's forms while this update validates the addon's other views. The
records the series share (endpoints, deliveries, calls, rules and their secrets, keys and their
restrictions, the legacy inventory) live in tables whose schema is the same on both series.
"""
from odoo import SUPERUSER_ID, api

SERIES_18_VIEWS = ("view_users_form_simple_modif_integration", "view_base_automation_form_chatter")


def migrate(cr, version):
    if not version or not version.startswith("18.0."):
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    for name in SERIES_18_VIEWS:
        view = env.ref(f"integration_suite.{name}", raise_if_not_found=False)
        if view:
            view.unlink()
