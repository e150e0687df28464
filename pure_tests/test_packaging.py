"""`pip install .` builds odoo-addon-integration_suite with whool, whatever the checkout is named.

The wheel is built from a copy in a folder named otherwise (as a CI clone may be), so the
distribution and package names must come from the build backend, not from the folder.
"""

import ast
import email.parser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

try:
    import tomllib
except ImportError:  # Python 3.10: the copy pip vendors
    from pip._vendor import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
SERIES = os.environ.get("ODOO_SERIES") or "18.0"  # the series the wheel is built for
NOT_SOURCES = shutil.ignore_patterns(".git", ".run", "build", "dist", "__pycache__", ".pytest_cache", ".benchmarks")


def _pip(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "pip", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("packaging")
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    fetched = _pip("download", "--no-deps", "-q", "-d", str(tmp / "backend"), *requires)
    if fetched.returncode:
        pytest.skip(f"build backend {requires} cannot be obtained: {fetched.stderr.strip()[-300:]}")
    checkout = tmp / "some_checkout"
    shutil.copytree(ROOT, checkout, ignore=NOT_SOURCES)
    built = _pip("wheel", "--no-deps", "-q", "-w", str(tmp / "wheels"), ".", cwd=checkout)
    assert built.returncode == 0, built.stderr[-3000:]
    [path] = (tmp / "wheels").glob("*.whl")
    return zipfile.ZipFile(path)


def _metadata(wheel):
    [name] = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    return email.parser.HeaderParser().parsestr(wheel.read(name).decode())


def test_distribution_named_after_the_addon(wheel):
    assert _metadata(wheel)["Name"] == "odoo-addon-integration_suite"
    names = wheel.namelist()
    assert "odoo/addons/integration_suite/__manifest__.py" in names
    assert not [n for n in names if n.startswith("odoo/addons/") and not n.startswith("odoo/addons/integration_suite/")]


def test_wheel_ships_the_addon_only(wheel):
    """The maintainers' tools of the checkout are not installed into Odoo's addons."""
    inside = {name.split("/")[3] for name in wheel.namelist() if name.startswith("odoo/addons/integration_suite/")}
    assert {"__manifest__.py", "models", "views", "static", "tests", "README.md"} <= inside
    assert not inside & {"bench", "scripts", "pure_tests", ".ci", "setup", "Makefile", ".pre-commit-config.yaml",
                         ".pylintrc", "test-requirements.txt", "requirements-lint.txt"}
    assert "odoo/addons/integration_suite/static/description/index.html" in wheel.namelist()
    assert "odoo/addons/integration_suite/static/description/icon.png" in wheel.namelist()


def test_version_from_the_manifest(wheel):
    manifest = ast.literal_eval((ROOT / "__manifest__.py").read_text())
    version = _metadata(wheel)["Version"]
    assert version.startswith(f"{SERIES}.{manifest['version']}")  # the series of ODOO_SERIES


def test_python_dependencies_declared(wheel):
    requires = {r.split(";")[0].replace(" ", "") for r in _metadata(wheel).get_all("Requires-Dist")}
    assert {"requests", "jsonschema", "standardwebhooks", f"odoo=={SERIES}.*"} <= requires
