# The two commands of the README: `make run` and `make test`; `make lint` runs OCA's linters.
# Each prepares what it needs under .run/ (scripts/env.sh): nothing outside the checkout changes.
.PHONY: run stop test core-tests lint bench screenshots pot readme clean

PYTHON ?= python3

run:
	bash scripts/run.sh

# stops the server of `make run` (also Ctrl-C in its terminal) and the private PostgreSQL
stop:
	bash scripts/stop.sh

# ARGS go to pytest, e.g. make test ARGS='-k json2'
test:
	bash scripts/test.sh $(ARGS)

# Odoo's own tests of what the addon touches, stock vs with the addon (README: Differences from stock 18.0)
core-tests:
	bash scripts/core_suites.sh

lint:
	bash scripts/lint.sh

# the benchmarks run with the environment's python3 (PATH, not PYTHON: that would name another environment)
bench:
	bash -c 'source scripts/common.sh && ensure_env && PATH=$$venv/bin:$$PATH exec bash bench/run.sh'

screenshots:
	bash -c 'source scripts/common.sh && ensure_env && exec $$venv_python scripts/screenshots.py'

# the translation template, exported by Odoo from a throwaway database
pot:
	bash scripts/i18n.sh

# README.md and static/description/index.html, assembled from the OCA fragments in readme/
readme:
	$(PYTHON) scripts/readme.py

# everything under .run/ (databases, environments, an Odoo installed there), servers stopped first
clean:
	bash scripts/stop.sh
	bash -c 'source scripts/common.sh; for d in $$run_dir/pg*; do [ -d "$$d" ] && scripts/pg.sh remove "$$d"; done; rm -rf $$run_dir'
