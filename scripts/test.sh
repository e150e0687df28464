#!/usr/bin/env bash
# `make test`: the whole suite (Odoo tests, browser tours, pure tests) against a real Odoo 18.0 on
# a throwaway PostgreSQL cluster, from the project's environment (.run/env, see env.sh). Arguments
# go to pytest (`-k EXPR` narrows the run). It fails when Odoo does not import (with the error),
# when a browser tour could not run or when no test ran; every other skip is listed with its reason.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"

ensure_env
# the addon's requirements.txt alone, as someone else's `odoo --test-enable` run has them
(ensure_runtime_env)

# The browser of the tours: Odoo looks for google-chrome or chromium on PATH; as root, Debian's
# chromium is installed when missing. Without a browser or its Python client Odoo would skip the
# tours: that is a failure here, not a green run.
find_chrome() { command -v google-chrome chromium chromium-browser google-chrome-stable | head -1; }
if [ -z "$(find_chrome)" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing chromium (apt-get) for the browser tours..."
  export DEBIAN_FRONTEND=noninteractive
  { apt-get install -y -qq chromium || { apt-get update -qq && apt-get install -y -qq chromium; }; } \
    >"$run_dir/apt-chromium.log" 2>&1 || tail -5 "$run_dir/apt-chromium.log"
fi
[ -n "$(find_chrome)" ] \
  || die "No Chrome or Chromium on PATH: the browser tours cannot run (install chromium, or google-chrome)."
"$venv_python" -c 'import websocket' \
  || die "The browser tours' Python client (websocket-client) does not import in .run/env."

addons_dir=$(stage_addon)
pg_dir=$run_dir/pg-test-$$
pg_port=$(free_port)
conf=$run_dir/test-$$.conf
report=$run_dir/junit-$$.xml
cleanup() {
  scripts/pg.sh remove "$pg_dir"
  rm -rf "$conf" "$run_dir/data-test-$$" "$report"
  [ "$addons_dir" = "$run_dir/addons-$$" ] && rm -rf "$addons_dir"
  return 0
}
trap cleanup EXIT
scripts/pg.sh start "$pg_dir" "$pg_port"

write_conf "$conf" "$pg_port" "$addons_dir" "$run_dir/data-test-$$" "http_port = $(free_port)" \
  "server_wide_modules = $(stock_load),integration_suite"
db=integration_suite_test
echo "Installing integration_suite (with demo data) into a fresh database on Odoo $(odoo_series)..."
"$odoo_wrapper" -c "$conf" -d "$db" -i integration_suite $(demo_args) --stop-after-init >"$run_dir/install-$$.log" 2>&1 \
  || { tail -50 "$run_dir/install-$$.log"; exit 1; }
rm -f "$run_dir/install-$$.log"

# the checkout itself (with its git history: the upgrade test installs the previous release from it)
export INTEGRATION_SUITE_ODOO_CONF=$conf INTEGRATION_SUITE_ODOO_BIN=$odoo_wrapper INTEGRATION_SUITE_SOURCE=$root \
  INTEGRATION_SUITE_RUNTIME_ODOO_BIN=$venv-runtime/bin/odoo
# on 19.0, the 18.0 environment of an earlier `make test` (when there is one): the schema the addon
# owns on 18.0 is compared with 19.0's (pure_tests/test_series_upgrade.py)
if [ "$series" = 19.0 ] && [ "$(python_series "$run_dir/env/bin/python")" = 18.0 ]; then
  export INTEGRATION_SUITE_ODOO18_BIN=$run_dir/env/bin/odoo \
    INTEGRATION_SUITE_ODOO18_ADDONS=$(venv_python=$run_dir/env/bin/python odoo_addons_path)
fi
set +e
# from the folder named integration_suite: pytest-odoo derives the module from its real name;
# -rs: every skipped test on a line of its own, with its reason
(cd "$addons_dir/integration_suite" && PYTHONPATH="$root/scripts${PYTHONPATH:+:$PYTHONPATH}" \
  "$venv_python" -m pytest -q -rs -p no:cacheprovider -p pytest_tour_count --rootdir=. \
  --junitxml="$report" --odoo-config="$conf" --odoo-database="$db" --odoo-http tests pure_tests "$@")
status=$?
set -e
# the counts, from pytest's report: a run that skipped a tour or ran no test is no success
"$venv_python" scripts/test_summary.py "$report" "$status" "$#"
