"""whool, building the checkout under the addon's name whatever the checkout folder is called.

whool names the distribution (odoo-addon-<folder>) and the installed package
(odoo/addons/<folder>) after the folder it builds, and a checkout or a CI clone may be named
anything. Building through a link named `integration_suite` leaves the rest to whool: the files
git tracks, the version from the manifest and git history, the dependencies from the manifest.
whool has no option for the name, hence its internal build functions, with whool pinned in
pyproject.toml.

The manifest's version is series-neutral (``1.6.0``: each Odoo series prefixes its own), so the
series a wheel is built for comes from ``ODOO_SERIES`` (default 18.0): its version is
``<series>.<manifest version>`` and it requires ``odoo==<series>.*``.

The wheel ships the addon only: the maintainers' tools of the checkout (benchmarks, scripts,
Odoo-free tests, CI, this backend, linter settings) stay in the repository and the sdist.
"""

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from whool import buildapi

ADDON = "integration_suite"
NOT_IN_WHEEL = [
    "bench", "scripts", "pure_tests", ".ci", "setup", "Makefile", ".pre-commit-config.yaml", ".pylintrc",
    ".gitignore", "test-requirements.txt", "requirements-lint.txt",
]


def _named_right(path):
    # an sdist carries its name in PKG-INFO
    return path.name == ADDON or (path / "PKG-INFO").is_file()


@contextmanager
def _addon_dir():
    """The addon folder, seen through a path that ends with the addon's name."""
    here = Path.cwd()
    if _named_right(here):
        yield here
        return
    with tempfile.TemporaryDirectory() as tmp:
        link = Path(tmp, ADDON)
        link.symlink_to(here, target_is_directory=True)
        yield link


def _copy_addon_only(src, dst):
    """whool's copy of the files git tracks, less the maintainers' tools."""
    _copy_to(src, dst)
    for name in NOT_IN_WHEEL:
        path = Path(dst, name)
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


_copy_to = buildapi._copy_to
_get_metadata = buildapi._get_metadata


def _series_metadata(addon_dir):
    """whool's metadata for the series of ``ODOO_SERIES``, the version prefixed with it."""
    series = os.environ.get("ODOO_SERIES") or "18.0"
    original = buildapi.load_pyproject_toml

    def load_pyproject_toml(path):
        data = original(path)
        data.setdefault("tool", {}).setdefault("whool", {}).setdefault("odoo_series_override", series)
        return data

    buildapi.load_pyproject_toml = load_pyproject_toml
    try:
        metadata = _get_metadata(addon_dir)
    finally:
        buildapi.load_pyproject_toml = original
    if not metadata["Version"].startswith(series + "."):
        metadata.replace_header("Version", f"{series}.{metadata['Version']}")
    return metadata


buildapi._get_metadata = _series_metadata


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    with _addon_dir() as addon_dir:
        buildapi._copy_to = _copy_addon_only
        try:
            return buildapi._build_wheel(addon_dir, Path(wheel_directory), editable=False)
        finally:
            buildapi._copy_to = _copy_to


def build_sdist(sdist_directory, config_settings=None):
    with _addon_dir() as addon_dir:
        return buildapi._build_sdist(addon_dir, Path(sdist_directory))


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    """The installed link must outlive the build, so it lives in the checkout's build/ folder."""
    here = Path.cwd()
    addon_dir = here
    if not _named_right(here):
        addon_dir = here / "build" / ADDON
        addon_dir.parent.mkdir(exist_ok=True)
        if not addon_dir.is_symlink():
            addon_dir.symlink_to(here, target_is_directory=True)
    return buildapi._build_wheel(addon_dir, Path(wheel_directory), editable=True)
