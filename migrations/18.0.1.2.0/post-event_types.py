"""The event-type catalogue (new in 18.0.1.2.0) from the Send Webhook Notification actions that exist.

A new install fills it from its data file; an upgrade skips that file's noupdate part, hence this.
"""
from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["integration.webhook.event.type"]._sync_from_actions()
