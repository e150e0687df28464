"""Helpers with no Odoo import, so plain pytest can test them (see pure_tests/)."""
