#!/usr/bin/env bash
# `make lint`: OCA's linters (pre-commit, versions pinned in requirements-lint.txt) from their own
# virtualenv .run/lint-venv, made by the Python that runs Odoo and rebuilt when the pins change.
# The manifestoo hook reads Odoo's own addons through the project's environment (ODOO_PYTHON).
set -euo pipefail
source "$(dirname "$0")/common.sh"
cd "$root"

ensure_env
lint_venv=$run_dir/lint-venv
want=$(cat requirements-lint.txt | cksum)
if [ "$(cat "$lint_venv/stamp" 2>/dev/null)" != "$want" ]; then
  echo "Installing the linters into .run/lint-venv..."
  rm -rf "$lint_venv"
  "$odoo_python" -m venv "$lint_venv"
  "$lint_venv/bin/python" -m pip install --disable-pip-version-check -q -r requirements-lint.txt
  echo "$want" >"$lint_venv/stamp"
fi
ODOO_PYTHON=$venv_python PATH="$lint_venv/bin:$PATH" PRE_COMMIT_HOME="$run_dir/pre-commit" \
  exec pre-commit run --all-files --color=never
