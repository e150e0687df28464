from . import dispatch
from . import controllers
from . import models
from .patches import post_load

# Odoo skips post_load when the package was imported before the server loaded it (test runners do)
post_load()
