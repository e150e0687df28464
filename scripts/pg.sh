#!/usr/bin/env bash
# Private PostgreSQL cluster for `make run` / `make test`, owned by the `postgres` OS user.
# usage: scripts/pg.sh start|stop DIR PORT
# Prints nothing on success; the cluster listens on 127.0.0.1:PORT and on a socket inside DIR,
# with a trusted superuser role `odoo` (Odoo refuses to connect as `postgres`).
set -euo pipefail
cmd=$1 dir=$2 port=$3
bindir=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$bindir/initdb" ] || { echo "PostgreSQL server binaries not found (set PG_BINDIR)" >&2; exit 1; }
as_pg() { if [ "$(id -un)" = postgres ]; then "$@"; elif [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case $cmd in
start)
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
  fi
  if ! as_pg "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
  fi
  as_pg "$bindir/psql" -h "$dir" -p "$port" -U postgres -d postgres -qtAc \
    "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='odoo') THEN CREATE ROLE odoo LOGIN SUPERUSER; END IF; END\$\$" >/dev/null
  ;;
stop)
  if [ -f "$dir/data/PG_VERSION" ]; then
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  ;;
*) echo "usage: $0 start|stop DIR PORT" >&2; exit 2 ;;
esac
