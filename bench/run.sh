#!/usr/bin/env bash
# `make bench`: every benchmark of bench/, one after the other.
set -euo pipefail
cd "$(dirname "$0")"
for script in bench_*.py; do
  echo "== $script"
  "${PYTHON:-python3}" "$script"
done
