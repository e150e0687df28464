# Shared by run.sh, test.sh and the benchmarks: the project's environment (env.sh: `ensure_env`
# first), stage the addon, pick ports.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# everything the commands make lives here (RUN_DIR: elsewhere, for the environment tests)
run_dir=${RUN_DIR:-$root/.run}
source "$root/scripts/env.sh"

# The Odoo command, run by the project's environment (made by ensure_env).
odoo_bin() {
  echo "$odoo_wrapper"
}

# The Odoo series importable in the project's environment (empty when none).
odoo_series() {
  "$venv_python" -c 'import odoo.release as r; print(r.serie)' 2>/dev/null || true
}

# The modules Odoo loads server-wide without the addon (19.0's legacy doors are its rpc module).
stock_load() {
  if [ "$series" = 18.0 ]; then echo base,web; else echo base,rpc,web; fi
}

# What makes Odoo load demo data into a new database (19.0 loads none unless told).
demo_args() {
  [ "$series" = 18.0 ] || echo --with-demo
}
no_demo_args() {
  [ "$series" != 18.0 ] || echo --without-demo=all
}

# Odoo's own addons folders, next to the imported odoo package.
odoo_addons_path() {
  "$venv_python" - <<'PY'
import os, odoo
base = os.path.abspath(list(odoo.__path__)[0])  # 19.0's odoo is a namespace package
paths = [os.path.join(base, "addons"), os.path.join(os.path.dirname(base), "addons")]
print(",".join(p for p in paths if os.path.isdir(os.path.join(p, "web"))
               or os.path.isdir(os.path.join(p, "base"))))
PY
}

# The folder that holds the addon under its technical name `integration_suite`.
# A checkout named otherwise is copied there (Odoo and pytest-odoo use the real name), into
# .run/addons-NAME (default: this process id).
stage_addon() {
  if [ "$(basename "$root")" = integration_suite ]; then
    dirname "$root"
    return
  fi
  local stage=$run_dir/addons-${1:-$$}/integration_suite
  rm -rf "$stage" && mkdir -p "$stage"
  (cd "$root" && tar -c --exclude=./.run --exclude=./.git --exclude=__pycache__ . ) | tar -x -C "$stage"
  dirname "$stage"
}

free_port() {
  "$venv_python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# An Odoo configuration for a throwaway cluster: write_conf FILE PG_PORT ADDONS_DIR DATA_DIR [EXTRA_LINE...]
write_conf() {
  local file=$1 pg_port=$2 addons_dir=$3 data_dir=$4
  shift 4
  {
    printf '[options]\ndb_host = 127.0.0.1\ndb_port = %s\ndb_user = odoo\n' "$pg_port"
    printf 'addons_path = %s,%s\ndata_dir = %s\nlog_level = warn\n' "$(odoo_addons_path)" "$addons_dir" "$data_dir"
    for line in "$@"; do printf '%s\n' "$line"; done
  } > "$file"
}
