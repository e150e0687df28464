"""Install and uninstall on a fresh database without demo data, in a real Odoo process.

`make test` exports the Odoo command and configuration it uses; elsewhere this is skipped.
"""
import os
import subprocess
import uuid

import odoo_process as op
import pytest

CONF = os.environ.get("INTEGRATION_SUITE_ODOO_CONF")
ODOO = os.environ.get("INTEGRATION_SUITE_ODOO_BIN")
pytestmark = pytest.mark.skipif(not (CONF and ODOO), reason="needs the Odoo set up by `make test`")

UNINSTALL = """
module = env["ir.module.module"].search([("name", "=", "integration_suite")])
module.button_immediate_uninstall()
env.cr.commit()
print("STATE=" + module.state)
"""


def _odoo(*args, stdin=None):
    return subprocess.run([ODOO, *args, "-c", CONF], input=stdin, capture_output=True,
                          text=True, timeout=600, check=False)


def test_install_and_uninstall_without_demo():
    db = f"is_nodemo_{uuid.uuid4().hex[:8]}"
    done = _odoo("-d", db, "-i", "integration_suite", *op.NO_DEMO_ARGS, "--stop-after-init")
    assert done.returncode == 0, done.stderr[-3000:]
    assert " ERROR " not in done.stderr, done.stderr[-3000:]
    # Odoo refuses to uninstall a module its own process loads server-wide (make test's configuration)
    done = _odoo("shell", "-d", db, "--no-http", f"--load={op.STOCK_LOAD}", stdin=UNINSTALL)
    assert "STATE=uninstalled" in done.stdout, (done.stdout + done.stderr)[-3000:]
    assert " ERROR " not in done.stderr, done.stderr[-3000:]
