#!/usr/bin/env bash
# `make test`: the whole suite against a real Odoo 18.0 on a throwaway PostgreSQL cluster.
# Without Odoo 18.0 it runs only the tests that need no Odoo, and says so loudly.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"

# the test tools, installed only when missing (a new machine has none of them)
"$PYTHON" -c 'import pytest, pytest_httpserver, standardwebhooks, jsonschema, requests, openapi_spec_validator, schemathesis, odoolib' 2>/dev/null \
  || "$PYTHON" -m pip install -q -r requirements-test.txt

odoo_tests=$(cat tests/test_*.py | grep -cE '^\s+def test_' || true)
if [ "$(odoo_series)" != "18.0" ]; then
  echo "!!!!!!!! ODOO 18.0 IS NOT IMPORTABLE: ${odoo_tests} Odoo tests were NOT run (put Odoo 18.0 on PYTHON's path, or set ODOO_BIN/PYTHON) !!!!!!!!"
  cd pure_tests && exec "$PYTHON" -m pytest -q -p no:odoo -p no:cacheprovider --rootdir=. . "$@"
fi

# the browser of the tours: Odoo looks for google-chrome or chromium on PATH; as root, Debian's
# chromium is installed when missing. Without one, Odoo skips the tours: say so loudly.
find_chrome() { command -v google-chrome chromium chromium-browser google-chrome-stable | head -1; }
if [ -z "$(find_chrome)" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing chromium (apt-get) for the browser tours..."
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -qq chromium || { apt-get update -qq && apt-get install -y -qq chromium; }; } \
    >"$(mkdir -p "$run_dir" && echo "$run_dir")/apt-chromium.log" 2>&1 || true
fi
if [ -z "$(find_chrome)" ]; then
  tours=$(grep -lE 'start_tour\(' tests/test_*.py | xargs cat | grep -cE '^\s+def test_' || true)
  echo "!!!!!!!! NO CHROME/CHROMIUM ON PATH: ${tours} browser tour tests will be SKIPPED (apt-get install chromium) !!!!!!!!"
fi

addons_dir=$(stage_addon)
pg_dir=$run_dir/pg-test-$$
pg_port=$(free_port)
cleanup() {
  scripts/pg.sh stop "$pg_dir" "$pg_port"; rm -rf "$pg_dir"
  [ "$addons_dir" = "$run_dir/addons-$$" ] && rm -rf "$addons_dir"
  return 0
}
trap cleanup EXIT
scripts/pg.sh start "$pg_dir" "$pg_port"

conf=$run_dir/test-$$.conf
write_conf "$conf" "$pg_port" "$addons_dir" "$run_dir/data-test-$$" "http_port = $(free_port)"
db=integration_suite_test
echo "Installing integration_suite (with demo data) into a fresh database on Odoo $(odoo_series)..."
"$(odoo_bin)" -c "$conf" -d "$db" -i integration_suite --stop-after-init >"$run_dir/install-$$.log" 2>&1 \
  || { tail -50 "$run_dir/install-$$.log"; exit 1; }

export INTEGRATION_SUITE_ODOO_CONF=$conf INTEGRATION_SUITE_ODOO_BIN=$(odoo_bin)
set +e
# from the folder named integration_suite: pytest-odoo derives the module from its real name
(cd "$addons_dir/integration_suite" && "$PYTHON" -m pytest -q -p no:cacheprovider --rootdir=. \
  --odoo-config="$conf" --odoo-database="$db" --odoo-http tests pure_tests "$@")
status=$?
set -e
rm -rf "$conf" "$run_dir/data-test-$$"
exit $status
