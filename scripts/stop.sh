#!/usr/bin/env bash
# `make stop`: stops the server of `make run` and the private PostgreSQL clusters under .run/.
# `make clean` runs it first, so no server is left running on deleted files.
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"

pid=$(cat "$run_dir/run.pid" 2>/dev/null || true)
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q odoo; then
  echo "Stopping the Odoo server of make run (pid $pid)..."
  kill "$pid"
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
fi
rm -f "$run_dir/run.pid"
for dir in "$run_dir"/pg "$run_dir"/pg-*; do
  [ -d "$dir" ] && scripts/pg.sh stop "$dir"
done
exit 0
