#!/usr/bin/env bash
# `make run`: a demo database with the addon, served on http://localhost:8069.
# With no configuration PostgreSQL is a private cluster under .run/pg (port PGPORT, default 55432);
# set DB_HOST (and DB_PORT, DB_USER, DB_PASSWORD) to use a server of your own instead.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"

odoo=$(odoo_bin)
[ -n "$odoo" ] || { echo "Odoo 18.0 not found: put the 'odoo' command on PATH or set ODOO_BIN." >&2; exit 1; }
[ "$(odoo_series)" = "18.0" ] || echo "warning: the Odoo importable by $PYTHON is '$(odoo_series)', not 18.0" >&2

db=${DB:-integration_demo}
port=${HTTP_PORT:-8069}
if [ -z "${DB_HOST:-}" ]; then
  DB_HOST=127.0.0.1 DB_PORT=${PGPORT:-55432} DB_USER=odoo DB_PASSWORD=
  scripts/pg.sh start "$run_dir/pg" "$DB_PORT"
fi
addons_dir=$(stage_addon)
mkdir -p "$run_dir"
conf=$run_dir/run.conf
cat > "$conf" <<CONF
[options]
db_host = $DB_HOST
db_port = ${DB_PORT:-5432}
db_user = ${DB_USER:-odoo}
db_password = ${DB_PASSWORD:-}
addons_path = $(odoo_addons_path),$addons_dir
data_dir = $run_dir/data
http_port = $port
server_wide_modules = base,web,integration_suite
CONF

if ! "$PYTHON" - "$conf" "$db" <<'PY'
import sys, odoo
odoo.tools.config.parse_config(["-c", sys.argv[1]])
sys.exit(0 if sys.argv[2] in odoo.service.db.list_dbs(force=True) else 1)
PY
then
  echo "Creating database '$db' with demo data and the addon (about a minute)..."
  "$odoo" -c "$conf" -d "$db" -i integration_suite --stop-after-init --log-level=warn
else
  "$odoo" -c "$conf" -d "$db" -u integration_suite --stop-after-init --log-level=warn
fi

key=$("$odoo" shell -c "$conf" -d "$db" --no-http --log-level=error 2>/dev/null <<'PY' | sed -n 's/^KEY=//p'
admin = env.ref("base.user_admin")
print("KEY=" + env["res.users.apikeys"].with_user(admin).sudo()._generate("rpc", "make run", None))
env.cr.commit()
PY
)
cat <<MSG

  Odoo 18.0 + integration_suite on http://localhost:$port  (database '$db', login admin / admin)
  A JSON/2 API key for admin was just created (scope rpc; revoke it in Preferences > Account Security):

    $key

  Try it:
    curl -s -X POST http://localhost:$port/json/2/res.partner/search_read \\
      -H 'Authorization: bearer $key' -H 'Content-Type: application/json' \\
      -H 'X-Odoo-Database: $db' \\
      -d '{"domain": [["is_company", "=", true]], "fields": ["name"], "limit": 5}'

MSG
exec "$odoo" -c "$conf" -d "$db" --db-filter="^$db\$"
