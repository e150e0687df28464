#!/usr/bin/env bash
# Regenerate i18n/integration_suite.pot with Odoo's own exporter (`make pot`): install the addon
# into a throwaway database on a throwaway PostgreSQL cluster, export its terms, drop both.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"

ensure_env

addons_dir=$(stage_addon)
pg_dir=$run_dir/pg-i18n-$$
pg_port=$(free_port)
conf=$run_dir/i18n-$$.conf
cleanup() {
  scripts/pg.sh remove "$pg_dir"; rm -rf "$conf" "$run_dir/data-i18n-$$"
  [ "$addons_dir" = "$run_dir/addons-$$" ] && rm -rf "$addons_dir"
  return 0
}
trap cleanup EXIT
scripts/pg.sh start "$pg_dir" "$pg_port"

write_conf "$conf" "$pg_port" "$addons_dir" "$run_dir/data-i18n-$$"
db=integration_suite_i18n
log=$run_dir/i18n-$$.log
"$odoo_wrapper" -c "$conf" -d "$db" -i integration_suite $(no_demo_args) --no-http --stop-after-init >"$log" 2>&1 \
  || { tail -50 "$log"; exit 1; }
mkdir -p i18n
pot=i18n/integration_suite.pot
"$odoo_wrapper" -c "$conf" -d "$db" --no-http --modules=integration_suite --i18n-export="$root/$pot" \
  --stop-after-init >"$log" 2>&1 || { tail -50 "$log"; exit 1; }
rm -f "$log"
# the dates change on every export: drop them so an unchanged template gives an unchanged file
sed -i '/^"POT-Creation-Date: /d; /^"PO-Revision-Date: /d' "$pot"
echo "$pot: $(grep -c '^msgid ' "$pot") terms"
