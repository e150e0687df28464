#!/usr/bin/env bash
# `make run`: a demo database with the addon, served on http://localhost:8069 until Ctrl-C (or
# `make stop` from another terminal). With no configuration PostgreSQL is a private cluster under
# .run/pg (port PGPORT, default 55432); set DB_HOST (and DB_PORT, DB_USER, DB_PASSWORD) to use a
# server of your own instead. The addon is installed whenever the database does not have it
# installed (a first run that was interrupted included), upgraded otherwise, and its state is
# checked before the banner. One API key per database is kept in .run/api-key-DB (mode 0600) and
# reused while it still works.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"

db=${DB:-integration_demo}
[ -n "${DB:-}" ] || [ "${ODOO_SERIES:-18.0}" = 18.0 ] || db=${db}_${ODOO_SERIES%.0}  # one per series
port=${HTTP_PORT:-8069}
# the HTTP port first: nothing is prepared for a server that could not listen
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  pid=$(cat "$run_dir/run.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    die "make run is already serving on port $port (pid $pid): stop it with Ctrl-C in its terminal or make stop."
  fi
  die "Port $port is already in use: stop what listens there, or choose another port with HTTP_PORT=8070 make run."
fi

ensure_env
if [ -z "${DB_HOST:-}" ]; then
  DB_HOST=127.0.0.1 DB_PORT=${PGPORT:-55432} DB_USER=odoo DB_PASSWORD=
  scripts/pg.sh start "$run_dir/pg" "$DB_PORT"
fi
addons_dir=$(stage_addon run)
conf=$run_dir/run.conf
cat >"$conf" <<CONF
[options]
db_host = $DB_HOST
db_port = ${DB_PORT:-5432}
db_user = ${DB_USER:-odoo}
db_password = ${DB_PASSWORD:-}
addons_path = $(odoo_addons_path),$addons_dir
data_dir = $run_dir/data
http_port = $port
server_wide_modules = $(stock_load),integration_suite
CONF
chmod 600 "$conf"

# The state of the database: "missing", "empty" (created, base never finished installing: it
# holds nothing and is made again), or the state of integration_suite ("installed", ...).
db_state() {
  "$venv_python" - "$conf" "$db" <<'PY'
import sys
import odoo.service.db, odoo.sql_db, odoo.tools  # 19.0: odoo is a namespace package
odoo.tools.config.parse_config(["-c", sys.argv[1]])
if sys.argv[2] not in odoo.service.db.list_dbs(force=True):
    sys.exit(print("missing"))
with odoo.sql_db.db_connect(sys.argv[2]).cursor() as cr:
    cr.execute("SELECT to_regclass('ir_module_module') IS NOT NULL")
    if not cr.fetchone()[0]:
        sys.exit(print("empty"))
    cr.execute("SELECT name, state FROM ir_module_module WHERE name IN ('base', 'integration_suite')")
    states = dict(cr.fetchall())
print("empty" if states.get("base") != "installed" else states.get("integration_suite", "uninstalled"))
PY
}

state=$(db_state)
if [ "$state" = empty ]; then
  echo "Database '$db' was left unfinished by an interrupted run: creating it again."
  "$venv_python" - "$conf" "$db" <<'PY'
import sys
import odoo.service.db, odoo.sql_db, odoo.tools  # 19.0: odoo is a namespace package
odoo.tools.config.parse_config(["-c", sys.argv[1]])
odoo.service.db.exp_drop(sys.argv[2])
PY
  state=missing
fi
log=$run_dir/run-install.log
case $state in
  missing)
    echo "Creating database '$db' with demo data and installing integration_suite (about a minute)..."
    args=(-i integration_suite $(demo_args)) ;;
  installed)
    echo "Upgrading integration_suite in database '$db'..."
    args=(-u integration_suite) ;;
  *)
    echo "Installing integration_suite in database '$db' (it was $state)..."
    args=(-i integration_suite $(demo_args)) ;;
esac
"$odoo_wrapper" -c "$conf" -d "$db" "${args[@]}" --stop-after-init --no-http >"$log" 2>&1 \
  || { tail -40 "$log" >&2; die "Installing integration_suite in '$db' failed (above; the whole log is $log)."; }
state=$(db_state)
[ "$state" = installed ] \
  || { tail -40 "$log" >&2; die "integration_suite is '$state' in database '$db' after the install, not installed (log: $log)."; }

# The API key of this database: the one kept in .run/api-key-DB while Odoo still accepts it,
# else a new one (keys are stored hashed: the plain key exists only in that file).
key_file=$run_dir/api-key-$db
key=$(INTEGRATION_SUITE_KEY=$(cat "$key_file" 2>/dev/null || true) \
  "$odoo_wrapper" shell -c "$conf" -d "$db" --no-http --log-level=error 2>>"$log" <<'PY' | sed -n 's/^KEY=//p'
import os
admin = env.ref("base.user_admin")
keys = env["res.users.apikeys"].with_user(admin).sudo()
key = os.environ.get("INTEGRATION_SUITE_KEY")
if not key or keys._check_credentials(scope="rpc", key=key) != admin.id:
    key = keys._generate("rpc", "make run", None)
    env.cr.commit()
print("KEY=" + key)
PY
)
[ -n "$key" ] || die "Could not get an API key for admin in '$db' (log: $log)."
(umask 077 && printf '%s\n' "$key" >"$key_file")

cat <<MSG

  Odoo $series + integration_suite on http://localhost:$port  (database '$db', login admin / admin)
  Stop it with Ctrl-C here (or make stop from another terminal); make clean deletes everything.
  The JSON/2 API key of admin for this database (kept in .run/api-key-$db; revoke it in
  Preferences > Account Security):

    $key

  Try it:
    curl -s -X POST http://localhost:$port/json/2/res.partner/search_read \\
      -H 'Authorization: bearer $key' -H 'Content-Type: application/json' \\
      -H 'X-Odoo-Database: $db' \\
      -d '{"domain": [["is_company", "=", true]], "fields": ["name"], "limit": 5}'

MSG
echo $$ >"$run_dir/run.pid"
exec "$odoo_wrapper" -c "$conf" -d "$db" --db-filter="^$db\$"
