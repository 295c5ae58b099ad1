# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEV_STAMP := $(VENV)/.dev-stamp
LOWEST := .venv-lowest
PYTEST_ARGS ?=

.PHONY: install demo test test-lowest postgres chromium lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The main job on an embedded SQLite ledger: two sample sources and the Salesforce and
# Workfront sandboxes synced in full, the PSA's and the sandboxes' control totals verified,
# then the report (scripts/demo).
demo: install
	BIN=$(BIN) bash scripts/demo

# The suite runs every ledger test on SQLite and on PostgreSQL.
test: install postgres chromium
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

postgres:
	@bash scripts/ensure-postgres

# The browser tests (tests/browser) drive Debian's chromium through Playwright: installed with
# the system's package manager when it is missing (Playwright's own browser download is never
# used).
chromium:
	@command -v chromium >/dev/null 2>&1 || { echo "installing chromium (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The suite with every runtime and test dependency at the lower bound pyproject.toml declares
# (constraints/lowest.txt pins them; tests/packaging/test_dependencies.py keeps the two equal),
# in a venv of its own, built afresh each time.
test-lowest: postgres chromium
	rm -rf $(LOWEST)
	$(PYTHON) -m venv $(LOWEST)
	$(LOWEST)/bin/python -m pip install --quiet --upgrade pip
	$(LOWEST)/bin/python -m pip install --quiet -c constraints/lowest.txt -e '.[test]'
	$(LOWEST)/bin/python -m pytest -n 2 $(PYTEST_ARGS)

# ruff and mypy --strict. The folders install as `pmo_ledger.<folder>` through setuptools'
# editable finder, which mypy cannot follow: it reads them through a tree of links instead.
# The dev tools go in once, after `make install`, with their own stamp: `make test` never waits
# for them.
$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(DEV_STAMP)

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	@mkdir -p .lint/pmo_ledger
	@for d in config connectors jobs ledger migrations; do ln -sfn ../../$$d .lint/pmo_ledger/$$d; done
	MYPYPATH=.lint $(BIN)/mypy -p pmo_ledger.ledger -p pmo_ledger.jobs -p pmo_ledger.connectors

clean:
	rm -rf $(VENV) $(LOWEST) .lint .artifacts build pmo-ledger.db pmo-ledger.db-wal pmo-ledger.db-shm .pytest_cache .sandbox
