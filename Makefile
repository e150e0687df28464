# The two commands of the README: `make run` and `make test`; `make lint` runs OCA's linters.
.PHONY: run test lint bench screenshots pot readme clean

PYTHON ?= python3
# The linters live in their own virtualenv: their pinned dependencies must not change the
# Python that runs Odoo and the tests.
LINT_VENV = .run/lint-venv

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh

$(LINT_VENV)/installed: requirements-lint.txt
	rm -rf $(LINT_VENV)
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/pip install -q -r requirements-lint.txt
	touch $@

lint: $(LINT_VENV)/installed
	ODOO_PYTHON="$$(command -v $(PYTHON))" PATH="$(abspath $(LINT_VENV))/bin:$$PATH" \
	  PRE_COMMIT_HOME="$(CURDIR)/.run/pre-commit" \
	  pre-commit run --all-files --color=never

bench:
	bash bench/run.sh

screenshots:
	$(PYTHON) scripts/screenshots.py

# the translation template, exported by Odoo from a throwaway database
pot:
	bash scripts/i18n.sh

# README.md assembled from the OCA fragments in readme/
readme:
	$(PYTHON) scripts/readme.py

clean:
	bash -c 'source scripts/common.sh; for d in $$run_dir/pg*; do [ -d "$$d" ] && scripts/pg.sh stop "$$d" 0; done; rm -rf $$run_dir'
