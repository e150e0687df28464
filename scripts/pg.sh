#!/usr/bin/env bash
# Private PostgreSQL cluster for `make run` / `make test`.
# usage: scripts/pg.sh start DIR PORT | stop DIR | remove DIR | status DIR
# start: the cluster listens on 127.0.0.1:PORT with a trusted superuser role `odoo` (Odoo refuses
# to connect as `postgres`); prints nothing on success. remove: stops it and deletes its files.
#
# The server binaries: PG_BINDIR, else a system installation, else the embedded PostgreSQL of
# the project's environment (installed on first use; PG_EMBEDDED=1 prefers it to a system one).
# PostgreSQL refuses to run as root: as root the server runs as PG_OS_USER (default `postgres`
# when that user exists, else `nobody`), and when that user cannot reach DIR (a checkout under
# /root or any 0700 folder) the cluster lives in a private folder of the temporary directory
# that DIR/location names, with a copy of the binaries when those cannot be reached either.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cmd=${1:-} dir=${2:-} port=${3:-}
[ -n "$dir" ] || { echo "usage: $0 start DIR PORT | stop DIR | remove DIR | status DIR" >&2; exit 2; }

find_bindir() {
  local d
  [ -n "${PG_EMBEDDED:-}" ] && { pg_wheel_bindir; return; }
  for d in "${PG_BINDIR:-}" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) \
    $(ls -d /usr/pgsql-*/bin 2>/dev/null | sort -V -r) "$(dirname "$(command -v initdb 2>/dev/null || echo /none/x)")"; do
    [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && { echo "$d"; return; }
  done
  [ -z "${PG_BINDIR:-}" ] || die "PG_BINDIR=$PG_BINDIR holds no initdb and postgres."
  [ -x "$venv_python" ] || die "No PostgreSQL server binaries found and the project's environment is not prepared (make test or make run does it)."
  pg_wheel_bindir
}

pg_user=$(id -un)
if [ "$(id -u)" = 0 ]; then
  pg_user=${PG_OS_USER:-$(id -u postgres >/dev/null 2>&1 && echo postgres || echo nobody)}
fi
# util-linux's runuser lives in sbin, which a minimal PATH (cron, env -i) leaves out
runuser_bin=$(PATH="$PATH:/usr/sbin:/sbin" command -v runuser || true)
as_pg() {
  # from /: the server user may not enter the current folder
  if [ "$(id -un)" = "$pg_user" ]; then "$@"; else (cd / && "${runuser_bin:-runuser}" -u "$pg_user" -- "$@"); fi
}

# The folder that holds the cluster: DIR itself, or the one DIR/location names.
home_of() {
  if [ -f "$dir/location" ]; then cat "$dir/location"; else echo "$dir"; fi
}

start() {
  [ -n "$port" ] || die "usage: $0 start DIR PORT"
  local home bindir
  mkdir -p "$dir"
  home=$(home_of)
  if [ "$home" = "$dir" ] && [ ! -f "$dir/data/PG_VERSION" ] && [ "$(id -un)" != "$pg_user" ]; then
    chown "$pg_user" "$dir"
    if ! as_pg test -w "$dir"; then
      home=$(mktemp -d "${TMPDIR:-/tmp}/integration_suite-pg.XXXXXX")
      chown "$pg_user" "$home"
      as_pg test -w "$home" || die "The PostgreSQL server user '$pg_user' can reach neither $dir nor $home: set TMPDIR to a folder it can write to."
      echo "$home" >"$dir/location"
    fi
  fi
  mkdir -p "$home"
  if [ -f "$home/bindir" ]; then
    bindir=$(cat "$home/bindir")
  else
    bindir=$(find_bindir)
    if ! as_pg test -x "$bindir/postgres"; then
      # the server user cannot reach the binaries (an embedded PostgreSQL under /root): a copy,
      # with the package's libraries when a wheel keeps them beside it (reached by a relative RPATH)
      local install pkg
      install=$(dirname "$bindir") pkg=$(dirname "$(dirname "$bindir")")
      mkdir -p "$home/pgcopy"
      if [ -d "$pkg.libs" ]; then
        cp -a "$pkg" "$pkg.libs" "$home/pgcopy/"
        bindir=$home/pgcopy/$(basename "$pkg")/$(basename "$install")/bin
      else
        cp -a "$install" "$home/pgcopy/"
        bindir=$home/pgcopy/$(basename "$install")/bin
      fi
      chmod -R a+rX "$home/pgcopy"
    fi
    echo "$bindir" >"$home/bindir"
  fi
  if [ ! -f "$home/data/PG_VERSION" ]; then
    as_pg "$bindir/initdb" -D "$home/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$home/initdb.log" 2>&1 \
      || { cat "$home/initdb.log" >&2; die "initdb failed (above)."; }
  fi
  if ! as_pg "$bindir/pg_ctl" -D "$home/data" status >/dev/null 2>&1; then
    as_pg "$bindir/pg_ctl" -D "$home/data" -l "$home/server.log" -w -t 60 \
      -o "-p $port -k $home -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null \
      || { tail -20 "$home/server.log" >&2; die "PostgreSQL did not start on port $port (its log is above)."; }
  fi
  as_pg "$bindir/psql" -h "$home" -p "$port" -U postgres -d postgres -qtAc \
    "DO \$\$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='odoo') THEN CREATE ROLE odoo LOGIN SUPERUSER; END IF; END\$\$" >/dev/null
}

stop() {
  local home bindir
  home=$(home_of)
  if [ -f "$home/data/PG_VERSION" ]; then
    bindir=$(cat "$home/bindir" 2>/dev/null || find_bindir)
    as_pg "$bindir/pg_ctl" -D "$home/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}

case $cmd in
  start) start ;;
  stop) stop ;;
  remove)
    stop
    [ -f "$dir/location" ] && rm -rf "$(cat "$dir/location")"
    rm -rf "$dir"
    ;;
  status)
    home=$(home_of)
    [ -f "$home/bindir" ] && as_pg "$(cat "$home/bindir")/pg_ctl" -D "$home/data" status >/dev/null 2>&1
    ;;
  *) echo "usage: $0 start DIR PORT | stop DIR | remove DIR | status DIR" >&2; exit 2 ;;
esac
