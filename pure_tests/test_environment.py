"""The environment of `make run` / `make test` (scripts/env.sh, pg.sh, test_summary.py).

They never change the Python that runs Odoo, fail loudly where Odoo is missing or does not
import, and run the private PostgreSQL as root under a folder only root may enter. These tests
drive the scripts themselves, with RUN_DIR pointing into a temporary folder.
"""
import importlib.metadata
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Odoo 18.0's pins (its requirements.txt) of the packages the test tools share with it, per Python
WERKZEUG_PINS = {"3.10": ["Werkzeug==2.0.2", "MarkupSafe==2.0.1", "requests==2.25.1", "urllib3==1.26.5",
                          "idna==2.10", "Jinja2==3.0.3"],
                 "3.11": ["Werkzeug==2.2.2", "MarkupSafe==2.1.2", "requests==2.31.0", "urllib3==1.26.5",
                          "idna==2.10", "Jinja2==3.1.2"],
                 "3.12": ["Werkzeug==3.0.1", "MarkupSafe==2.1.5", "requests==2.31.0", "urllib3==2.0.7",
                          "idna==3.6", "Jinja2==3.1.2"]}


def _bash(script, env=None, timeout=900):
    """``script`` with the scripts' functions, for Odoo 18.0 (what finding and installing Odoo do is
    the same for each series; these tests name 18.0's files and pins), whichever series runs them."""
    return subprocess.run(["bash", "-c", f"source {ROOT}/scripts/common.sh; {script}"], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "ODOO_SERIES": "18.0", **(env or {})},
                          check=False)


def _freeze(python):
    return subprocess.run([python, "-m", "pip", "freeze", "--all"], capture_output=True, text=True,
                          check=True).stdout


@pytest.fixture(scope="module")
def odoo_less_python(tmp_path_factory):
    """A Python with Odoo 18.0's Werkzeug pin for this Python version and no Odoo, as a user's may be."""
    base = tmp_path_factory.mktemp("odoo-python") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(base)], check=True, capture_output=True)
    python = str(base / "bin" / "python")
    pins = WERKZEUG_PINS[f"{sys.version_info[0]}.{sys.version_info[1]}"][:2]
    done = subprocess.run([python, "-m", "pip", "install", "-q", *pins], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return python


def test_environment_leaves_the_odoo_python_unchanged_and_reports_the_import_error(odoo_less_python, tmp_path):
    """The environment is built over that Python with its packages as constraints, then the
    missing Odoo is reported with Python's own error and a non-zero exit."""
    before = _freeze(odoo_less_python)
    fake_odoo = tmp_path / "odoo"
    fake_odoo.write_text(f"#!{odoo_less_python}\nimport odoo.cli\nodoo.cli.main()\n")
    fake_odoo.chmod(0o755)
    done = _bash("ensure_env", {"RUN_DIR": str(tmp_path / "run"), "PYTHON": odoo_less_python,
                                "ODOO_BIN": str(fake_odoo)})
    assert done.returncode != 0
    assert "No module named 'odoo'" in done.stderr, done.stderr[-3000:]
    assert "Odoo 18.0 does not import in the project's environment" in done.stderr
    assert _freeze(odoo_less_python) == before
    [env] = (tmp_path / "run").glob("env-*")
    probe = subprocess.run([env / "bin" / "python", "-c", textwrap.dedent("""
        import importlib.metadata as md, pytest_httpserver, websocket, standardwebhooks, schemathesis
        print(md.version("werkzeug"), md.version("markupsafe"))
    """)], capture_output=True, text=True, check=False)
    assert probe.returncode == 0, probe.stderr[-2000:]
    pins = WERKZEUG_PINS[f"{sys.version_info[0]}.{sys.version_info[1]}"]
    assert probe.stdout.split() == [pins[0].split("==")[1], pins[1].split("==")[1]]


def test_without_odoo_and_its_source_one_sentence_and_a_failure(odoo_less_python, tmp_path):
    """No ODOO_BIN, no odoo on PATH, PYTHON without Odoo, a source that cannot be fetched."""
    done = _bash("ensure_env", {"RUN_DIR": str(tmp_path / "run"), "PYTHON": odoo_less_python,
                                "ODOO_BIN": "", "PATH": "/usr/bin:/bin",
                                "ODOO_SOURCE": "http://127.0.0.1:9/odoo_18.0.latest.tar.gz"})
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("Could not download Odoo 18.0 from http://127.0.0.1:9/"), done.stderr[-2000:]
    assert "set ODOO_SOURCE" in last


def test_an_odoo_source_without_ldap_headers_still_installs(odoo_less_python, tmp_path):
    """python-ldap (only auth_ldap needs it) is installed on its own at Odoo's pin: when it cannot
    be built, Odoo is installed all the same, with a note."""
    tree = tmp_path / "src"
    (tree / "odoo").mkdir(parents=True)
    (tree / "odoo" / "release.py").write_text("version_info = (18, 0, 0, 'final', 0, '')\n")
    pin = "python-ldap==3.4.0 ; sys_platform != 'win32' and python_version < '3.12' # min version = 3.2.0"
    (tree / "requirements.txt").write_text(f"# Odoo's requirements\n{pin}\n")
    (tree / "odoo-bin").write_text("#!/usr/bin/env python3\n")
    # no index: python-ldap fails at once, as it does where its headers are missing
    done = _bash("install_odoo", {"RUN_DIR": str(tmp_path / "run"), "PYTHON": odoo_less_python,
                                  "ODOO_SOURCE": str(tree), "PIP_NO_INDEX": "1",
                                  "PIP_FIND_LINKS": str(tmp_path), "PIP_EXTRA_INDEX_URL": ""})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "python-ldap did not install" in done.stdout
    assert "only its optional auth_ldap module cannot be installed" in done.stdout
    home = tmp_path / "run" / "odoo-18.0"
    assert (home / "installed").read_text().strip() == f"{tree}/odoo-bin"
    assert (home / "requirements-ldap.txt").read_text() == pin + "\n", "Odoo's pin, unchanged"
    assert "python-ldap" not in (home / "requirements.txt").read_text()


def _shell_wrapper(folder, python):
    folder.mkdir()
    wrapper = folder / "odoo"
    wrapper.write_text(f'#!/bin/sh\nexec "{python}" -m odoo "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def test_a_shell_wrapper_odoo_runs_with_the_environment_python(tmp_path):
    """`odoo` on PATH is a shell script starting another Python: Odoo runs with the environment's
    Python (where the addon's requirements are), not through the wrapper."""
    wrapper = _shell_wrapper(tmp_path / "bin", sys.executable)
    env = {"RUN_DIR": str(tmp_path / "run"), "PYTHON": sys.executable, "ODOO_BIN": "",
           "PATH": f"{wrapper.parent}:{os.environ['PATH']}", "ODOO_SERIES": os.environ.get("ODOO_SERIES", "18.0")}
    done = _bash('ensure_env >&2 && echo "$odoo_run" && echo "$venv" && cat "$odoo_wrapper"', env)
    assert done.returncode == 0, done.stderr[-3000:]
    odoo_run, venv, *script = done.stdout.splitlines()
    assert odoo_run == "-m odoo"
    assert script[-1] == f'exec "{venv}/bin/python" -m odoo "$@"'
    shell = subprocess.run([f"{venv}/bin/odoo", "shell", "--no-http", "--log-level=warn"], capture_output=True,
                           text=True, timeout=300, input="import sys, standardwebhooks\nprint('prefix', sys.prefix)\n",
                           check=False)
    assert f"prefix {venv}" in shell.stdout, shell.stdout[-2000:] + shell.stderr[-2000:]


def test_a_shell_wrapper_is_kept_where_python_has_no_odoo(odoo_less_python, tmp_path):
    wrapper = _shell_wrapper(tmp_path / "bin", odoo_less_python)
    done = _bash('locate_odoo && echo "$odoo_run"', {"RUN_DIR": str(tmp_path / "run"), "PYTHON": odoo_less_python,
                                                      "ODOO_BIN": str(wrapper)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(wrapper)


def test_test_tools_resolve_against_each_odoo_pin_set(tmp_path):
    """The test tools install next to Odoo 18.0's pins on every Python it supports (wheels only,
    as pip would pick them for that Python); the three resolutions run side by side."""
    runs = {}
    for python, pins in WERKZEUG_PINS.items():
        constraints = tmp_path / f"odoo-pins-{python}.txt"
        constraints.write_text("\n".join(pins) + "\n")
        runs[python] = subprocess.Popen(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "-q", "--only-binary=:all:",
             "--python-version", python, "--target", str(tmp_path / python), "-c", str(constraints),
             "-r", str(ROOT / "test-requirements.txt")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for python, run in runs.items():
        _out, err = run.communicate(timeout=600)
        assert run.returncode == 0, f"Python {python}: {err[-3000:]}"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_private_cluster_under_a_folder_only_its_owner_may_enter(tmp_path):
    """As root the server runs as another user, which cannot enter a 0700 folder: the cluster
    then lives in a temporary folder of its own, which `remove` deletes."""
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    cluster, port = closed / "pg", str(_free_port())
    started = subprocess.run([ROOT / "scripts/pg.sh", "start", cluster, port], capture_output=True, text=True,
                             timeout=300, check=False)
    try:
        assert started.returncode == 0, started.stderr[-2000:]
        import psycopg2

        with psycopg2.connect(host="127.0.0.1", port=port, user="odoo", dbname="postgres") as conn, \
                conn.cursor() as cr:
            cr.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            assert cr.fetchone() == (True,)
        location = (cluster / "location").read_text().strip() if (cluster / "location").exists() else None
        assert (os.geteuid() == 0) == bool(location)
    finally:
        subprocess.run([ROOT / "scripts/pg.sh", "remove", cluster], capture_output=True, check=False)
    assert not cluster.exists()
    assert not location or not Path(location).exists()


def _summary(tmp_path, cases, status=0, narrowed=0):
    report = tmp_path / "junit.xml"
    report.write_text("<testsuites><testsuite>" + "".join(cases) + "</testsuite></testsuites>")
    return subprocess.run([sys.executable, ROOT / "scripts/test_summary.py", report, str(status), str(narrowed)],
                          capture_output=True, text=True, check=False)


ODOO_CASE = '<testcase classname="tests.test_json2.TestJson2" name="test_a"/>'
# scripts/pytest_tour_count.py writes how many tours a test ran, whatever its class or file
TOUR_CASE = ('<testcase classname="tests.test_recovery.TestRecovery" name="test_recovery_tour">'
             '<properties><property name="browser_tours" value="2"/></properties></testcase>')
SKIPPED_TOUR = ('<testcase classname="tests.test_ui_tours.TestUiTours" name="test_tour">'
                '<skipped message="websocket-client module is not installed"/></testcase>')
PURE_CASE = '<testcase classname="pure_tests.test_readme" name="test_b"/>'
OTHER_SKIPPED_TOUR = ('<testcase classname="tests.test_worker.TestWorkerTour" name="test_tour">'
                      '<skipped message="Chrome executable not found"/></testcase>')


def test_summary_counts_odoo_tests_and_tours(tmp_path):
    done = _summary(tmp_path, [ODOO_CASE, ODOO_CASE, TOUR_CASE, PURE_CASE])
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[-2:] == ["odoo tests: 2 run; browser tours: 2 run; pure tests: 1 run; skipped: 0",
                                             "summary: 4 passed, 0 failed, 0 skipped"]


def test_tours_are_counted_where_they_ran(tmp_path):
    """The plugin counts each start_tour of a test in the JUnit report; test_summary adds them up."""
    tests = tmp_path / "test_counted.py"
    tests.write_text(
        "import sys, types\n"
        "common = types.ModuleType('odoo.tests.common')\n"
        "class HttpCase:\n"
        "    def start_tour(self, url, tour_name, **kwargs):\n"
        "        if tour_name == 'broken':\n"
        "            raise AssertionError('tour failed')\n"
        "common.HttpCase = HttpCase\n"
        "sys.modules['odoo.tests.common'] = common\n"
        "def test_two_tours():\n"
        "    HttpCase().start_tour('/odoo', 'one')\n"
        "    HttpCase().start_tour('/odoo', 'two')\n"
        "def test_plain():\n"
        "    pass\n")
    report = tmp_path / "junit.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:odoo", "-p", "no:cacheprovider",
                    "-p", "pytest_tour_count", f"--junitxml={report}", tests], cwd=tmp_path, check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT / "scripts")}, capture_output=True)
    done = subprocess.run([sys.executable, ROOT / "scripts/test_summary.py", report, "0", "1"],
                          capture_output=True, text=True, check=False)
    assert done.stdout.splitlines()[-2:] == ["odoo tests: 0 run; browser tours: 2 run; pure tests: 1 run; skipped: 0",
                                             "summary: 2 passed, 0 failed, 0 skipped"], done.stdout


@pytest.mark.parametrize(("cases", "status", "narrowed", "problem"), [
    ([ODOO_CASE, SKIPPED_TOUR, PURE_CASE], 0, 0, "browser tour SKIPPED"),
    ([ODOO_CASE, SKIPPED_TOUR], 0, 1, "browser tour SKIPPED"),
    ([ODOO_CASE, TOUR_CASE, OTHER_SKIPPED_TOUR], 0, 0, "browser tour SKIPPED"),
    ([], 5, 1, "no test ran"),
    ([PURE_CASE], 0, 0, "no odoo tests ran"),
    ([ODOO_CASE, PURE_CASE], 0, 0, "no browser tours ran"),
    ([ODOO_CASE, TOUR_CASE], 1, 0, "pytest exited with status 1"),
])
def test_summary_fails_a_run_that_skipped_tours_or_ran_nothing(tmp_path, cases, status, narrowed, problem):
    done = _summary(tmp_path, cases, status, narrowed)
    assert done.returncode == 1
    assert f"make test FAILED: {problem}" in done.stdout


def test_environment_tools_are_not_the_odoo_python():
    """Inside `make test` the tests run from the project's environment, not from Odoo's Python."""
    if "INTEGRATION_SUITE_ODOO_BIN" not in os.environ:
        pytest.skip("runs inside make test")
    assert Path(sys.prefix).name.startswith("env")
    assert sys.prefix != sys.base_prefix
    assert importlib.metadata.version("websocket-client")
    assert shutil.which("odoo", path=str(Path(sys.executable).parent)) == os.environ["INTEGRATION_SUITE_ODOO_BIN"]


def test_make_run_checks_its_port_before_any_work(tmp_path):
    """A taken HTTP port stops `make run` at once, before any environment, cluster or database."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        done = subprocess.run(["bash", ROOT / "scripts/run.sh"], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "RUN_DIR": str(tmp_path / "run"), "HTTP_PORT": str(port)},
                              check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"Port {port} is already in use: stop what listens there, or choose another "
                                   "port with HTTP_PORT=8070 make run.")
    assert not (tmp_path / "run").exists()
