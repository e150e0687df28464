#!/usr/bin/env bash
# `make core-tests`: Odoo's own tests (of ODOO_SERIES) of what the addon touches, on a stock database and with
# the addon installed and loaded server-wide (scripts/core_suites.py), on a throwaway cluster.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"

ensure_env
addons_dir=$(stage_addon core-$$)
pg_dir=$run_dir/pg-core-$$
pg_port=$(free_port)
conf=$run_dir/core-$$.conf
logs=$run_dir/core-logs
cleanup() {
  scripts/pg.sh remove "$pg_dir"
  rm -rf "$conf" "$run_dir/data-core-$$"
  [ "$addons_dir" = "$run_dir/addons-core-$$" ] && rm -rf "$addons_dir"
  return 0
}
trap cleanup EXIT
scripts/pg.sh start "$pg_dir" "$pg_port"
write_conf "$conf" "$pg_port" "$addons_dir" "$run_dir/data-core-$$" "http_port = $(free_port)"
mkdir -p "$logs"
echo "Running Odoo $(odoo_series)'s own test suites of what the addon touches, stock and with the addon (logs in ${logs#"$root"/})..."
"$venv_python" scripts/core_suites.py "$odoo_wrapper" "$conf" "$root/README.md" "$logs"
