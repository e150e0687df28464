"""Odoo's own tests of what the addon touches, on a stock database and with the addon.

Usage: core_suites.py ODOO_COMMAND CONF README LOG_DIR

Two fresh databases with the same modules (Odoo's test modules of HTTP, RPC, API keys, access
rights and automation rules), one with the addon installed too. Each runs the same test tags, the
stock one on a server loading what the series loads server-wide (``base,web``; 19.0: ``base,rpc,web``),
the addon's with ``integration_suite`` too (the README's setup). A test that passes on stock and
fails (or errors) with the addon fails this run, unless the README's "Differences from stock
<series>" section names it (``Class.method`` in backquotes). So does a run that ran no test or did
not finish. The series is ``ODOO_SERIES`` (18.0 by default).
"""
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

SERIES = os.environ.get("ODOO_SERIES") or "18.0"
if SERIES == "18.0":
    MODULES = ["test_http", "test_rpc", "test_apikeys", "test_access_rights", "test_base_automation", "base_automation"]
    LEGACY_TAGS = ["/base:TestXMLRPC", "/base:TestAPIKeys"]
    STOCK_LOAD = "base,web"
else:  # 19.0: the legacy doors and their tests are the rpc module's; test_http holds the JSON-2 tests
    MODULES = ["test_http", "test_rpc", "test_access_rights", "test_base_automation", "base_automation"]
    LEGACY_TAGS = ["/rpc:TestXMLRPC", "/rpc:TestAPIKeys", "/rpc:TestExternalAPI"]
    STOCK_LOAD = "base,rpc,web"
TAGS = [f"/{module}" for module in MODULES] + LEGACY_TAGS + [
    "/base:TestIrHttpPerformances", "/web:TestDatabaseManager", "/web:TestDatabaseOperations", "/web:TestWebRouter",
]
STARTED = re.compile(r" odoo\.addons\.(\w+)\.tests\.[\w.]+: Starting (\w+\.\w+) \.\.\.")
FAILED = re.compile(r" odoo\.addons\.(\w+)\.tests\.[\w.]+: (?:FAIL|ERROR): (\w+\.\w+)")
SKIPPED = re.compile(r" odoo\.addons\.(\w+)\.tests\.[\w.]+: skipped (\w+\.\w+)")
SECTION = f"### Differences from stock {SERIES}"


def run(odoo, conf, log_dir, name, install, load):
    """Install ``install`` into a fresh database, then update everything with the tests enabled."""
    db = f"core_{name}_{uuid.uuid4().hex[:6]}"
    log = Path(log_dir) / f"core-{name}.log"
    common = [odoo, "-c", conf, "-d", db, f"--load={load}", "--workers=0", "--max-cron-threads=0",
              "--stop-after-init"]
    done = subprocess.run([*common, "-i", ",".join(install), "--log-level=warn"], capture_output=True, text=True,
                          check=False)
    if done.returncode:
        sys.exit(f"installing {install} into {db} failed:\n{done.stderr[-3000:]}")
    with log.open("w") as out:
        subprocess.run([*common, "-u", "base", "--test-enable", f"--test-tags={','.join(TAGS)}", "--log-level=info"],
                       stdout=out, stderr=subprocess.STDOUT, check=False)
    subprocess.run([odoo, "db", "-c", conf, "drop", db], capture_output=True, check=False)
    text = log.read_text(errors="replace")
    started = {f"{m[1]}:{m[2]}" for m in STARTED.finditer(text)}
    failed = {f"{m[1]}:{m[2]}" for m in FAILED.finditer(text)}
    skipped = {f"{m[1]}:{m[2]}" for m in SKIPPED.finditer(text)}
    if not started or "Initiating shutdown" not in text and "post-tests in" not in text:
        sys.exit(f"the {name} run did not complete (see {log}):\n{text[-3000:]}")
    return started, failed, skipped, log


def named_differences(readme):
    text = Path(readme).read_text()
    if SECTION not in text:
        return set()
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    return set(re.findall(r"`(\w+\.test\w*)`", section))


def main(odoo, conf, readme, log_dir):
    stock = run(odoo, conf, log_dir, "stock", MODULES, STOCK_LOAD)
    addon = run(odoo, conf, log_dir, "addon", [*MODULES, "integration_suite"], f"{STOCK_LOAD},integration_suite")
    for name, (started, failed, skipped, log) in ((f"stock {SERIES}", stock), ("with the addon", addon)):
        print(f"core suites, {name}: {len(started)} run, {len(started - failed - skipped)} passed, "
              f"{len(failed)} failed, {len(skipped)} skipped ({log.name})")
    passing_on_stock = stock[0] - stock[1] - stock[2]
    new = sorted((passing_on_stock & addon[1]) | (passing_on_stock - addon[0]))
    named = named_differences(readme)
    unexplained = [test for test in new if test.split(":", 1)[1] not in named]
    for test in new:
        print(f"  differs from stock: {test}" + ("" if test in unexplained else " (named in the README)"))
    if unexplained:
        print(f"core suites: {len(unexplained)} test(s) pass on stock {SERIES} and not with the addon, and the "
              f"README's '{SECTION[4:]}' does not name them")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
