# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install demo test postgres lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# The main job on an embedded SQLite ledger: two sample sources and the Salesforce sandbox
# synced in full, the PSA's and the sandbox's control totals verified, then the report
# (scripts/demo).
demo: install
	BIN=$(BIN) bash scripts/demo

# The suite runs every ledger test on SQLite and on PostgreSQL.
test: install postgres
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

postgres:
	@bash scripts/ensure-postgres

# ruff and mypy --strict (not part of `make test`).
lint: install
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	$(BIN)/ruff check .
	$(BIN)/mypy ledger jobs connectors

clean:
	rm -rf $(VENV) pmo-ledger.db pmo-ledger.db-wal pmo-ledger.db-shm .pytest_cache .sandbox
