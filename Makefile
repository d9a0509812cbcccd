# Agency Data Exchange — `make demo` and `make test` work on a fresh machine with Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
# Reinstall when the project's dependencies change.
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
export PATH := $(abspath $(BIN)):$(PATH)
export GX_ANALYTICS_ENABLED := False

.PHONY: demo test lint unit check install clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required, found " + sys.version' \
	  || { echo "set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

## demo: generate a synthetic city and run every feed on the embedded SQLite warehouse
demo: $(STAMP)
	$(BIN)/exchange demo

## test: import contracts, lint, then every test (integration tests need the local services)
test: $(STAMP)
	PYTHONPATH=dags $(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

## unit: the unit tests (no external service)
unit: $(STAMP)
	$(BIN)/python -m pytest -m "not integration and not slow"

## check: the inner loop (< 60 s on 2 cores): lint, import contracts, and the unit tests that need
## no Great Expectations, Airflow, PostgreSQL or subprocess
check: $(STAMP)
	PYTHONPATH=dags $(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests/unit -q -m "not integration and not slow and not gx and not airflow"

lint: $(STAMP)
	PYTHONPATH=dags $(BIN)/lint-imports
	$(BIN)/ruff check .

clean:
	rm -rf var .pytest_cache .ruff_cache
