"""Someone else's test run (Odoo.sh, runbot, a customer's CI) on a database with the addon: their
Python has the addon's requirements.txt but none of its test tools.

``odoo -i integration_suite --test-enable`` imports every installed module's tests: the addon's
must import without pytest-httpserver, schemathesis, hypothesis, openapi-spec-validator or
odoo-client-lib, other modules' tests must run, and the addon's tests that need a tool skip,
naming it. `make test` prepares that Python (.run/env-runtime); elsewhere this is skipped.
"""
import os
import re
import subprocess
import uuid
from pathlib import Path

import odoo_process as op
import pytest

RUNTIME = os.environ.get("INTEGRATION_SUITE_RUNTIME_ODOO_BIN")
pytestmark = pytest.mark.skipif(not (op.AVAILABLE and RUNTIME), reason="needs the Odoo set up by `make test`")

TEST_TOOLS = ("pytest_httpserver", "schemathesis", "hypothesis", "openapi_spec_validator", "odoolib")
# Odoo's own tests of the legacy doors (base's on 18.0, the rpc module's on 19.0)
LEGACY_TESTS = "base" if op.SERIES == "18.0" else "rpc"


def test_other_modules_tests_run_without_the_test_tools():
    python = Path(RUNTIME).parent / "python"
    for module in TEST_TOOLS:
        found = subprocess.run([python, "-c", f"import {module}"], capture_output=True, check=False)
        if found.returncode == 0:
            pytest.skip(f"the Python that runs Odoo has the test tool {module} itself: nothing to prove here")
    db = f"is_notools_{uuid.uuid4().hex[:8]}"
    try:
        done = subprocess.run(
            [RUNTIME, "-c", op.CONF, "-d", db, "-i", "integration_suite", *op.NO_DEMO_ARGS, "--test-enable",
             f"--test-tags=/{LEGACY_TESTS}:TestXMLRPC,/integration_suite:TestApiDoc.test_openapi_document_is_valid",
             f"--http-port={op.free_port()}", "--workers=0", "--max-cron-threads=0", "--stop-after-init",
             "--log-level=info"],
            capture_output=True, text=True, timeout=900, check=False)
    finally:
        op.drop_db(db)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-4000:]
    assert "ModuleNotFoundError" not in log and "Failed to load registry" not in log, log[-4000:]
    assert re.search(rf"odoo\.addons\.{LEGACY_TESTS}\.tests\.test_xmlrpc: Starting TestXMLRPC\.", log), log[-4000:]
    assert re.search(r"0 failed, 0 error\(s\) of [1-9]\d* tests", log), log[-4000:]
    assert re.search(r"skipped TestApiDoc\.test_openapi_document_is_valid : needs the test tool "
                     r"openapi-spec-validator \(test-requirements\.txt\)", log), log[-4000:]
