# Karabakh 2020 news-events data package. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-16)
SEEDS ?= seeds
OUT ?= datapackage
# Options passed through to the command: make publish ARGS=--dry-run
ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install check publish lint test coverage validate schema lock clean

help: ## List the targets
	@echo "make TARGET [ARGS=...]   ARGS: options for check, publish, coverage, validate-fast, report, release"
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP) ## Create the virtualenv (reinstalls only when requirements.lock changes)

check: $(STAMP) ## Validate the annotations in seeds/ (every problem, file:line)
	$(BIN)/pipeline check --seeds $(SEEDS) $(ARGS)

publish: $(STAMP) ## Check, build and publish datapackage/ (atomic, versioned)
	$(BIN)/pipeline publish --seeds $(SEEDS) --out $(OUT) $(ARGS)

coverage: $(STAMP) ## List sentences of each source that no evidence covers
	$(BIN)/pipeline coverage --seeds $(SEEDS) $(ARGS)

validate: $(STAMP) ## Validate the published package with frictionless
	$(BIN)/frictionless validate $(OUT)/datapackage.json

lint: $(STAMP) ## Lint, check the formatting and the types (ruff, mypy)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint ## Lint, then run the test suite
	$(BIN)/python -m pytest

schema: $(STAMP) ## Regenerate schemas/annotation.schema.json from the table schemas
	$(BIN)/pipeline annotation-schema

lock: ## Re-resolve dependencies from pyproject.toml into requirements.lock
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install -q --disable-pip-version-check ".[test,bench]"
	.venv-lock/bin/pip freeze --exclude-editable | grep -v '^karabakh-news-events' > requirements.lock
	rm -rf .venv-lock

# -- targets: versions --
DIST ?= dist

.PHONY: release
release: $(STAMP) ## Zip the published package into dist/ (reproducible) with its .sha256, its SQLite database and Datasette metadata
	$(BIN)/pipeline release --package $(OUT) --out $(DIST) $(ARGS)
	$(BIN)/pipeline database --package $(OUT) --out $(DIST) $(ARGS)

# -- targets: explore --
PORT ?= 8001
# dist/<name>-<version>, the database of the published package without .db, as `pipeline database`
# names it; read only by the explore recipe, once the virtualenv is there.
DATABASE = $(basename $(shell $(BIN)/python -c 'import sys, pathlib; from pipeline.package.database import database_path; print(database_path(*map(pathlib.Path, sys.argv[1:])))' $(OUT) $(DIST)))

.PHONY: explore
explore: $(STAMP) ## Serve the package's SQLite database with Datasette on 127.0.0.1:8001 (PORT=), built into dist/ if needed
	test $(DATABASE).db -nt $(OUT)/datapackage.json -a $(DATABASE).metadata.json -nt $(OUT)/datapackage.json \
		|| $(BIN)/pipeline database --package $(OUT) --out $(DIST)
	$(BIN)/datasette serve -i $(DATABASE).db -m $(DATABASE).metadata.json --host 127.0.0.1 --port $(PORT)

# -- targets: validate --
.PHONY: validate-fast conformance bench
validate-fast: $(STAMP) ## Validate the published package with pipeline validate (CSV and Parquet, all checks)
	$(BIN)/pipeline validate $(OUT) $(ARGS)

conformance: $(STAMP) ## Hold pipeline validate to frictionless: the conformance cases and 2000 generated packages
	DIFFERENTIAL_EXAMPLES=2000 $(BIN)/python -m pytest tests/validate/test_conformance.py tests/validate/test_differential.py

bench: $(STAMP) ## Benchmark check, publish and validate on synthetic corpora; writes bench/RESULTS.md
	$(BIN)/python -m bench.run


# -- targets: report --
.PHONY: report
report: $(STAMP) ## Build the HTML review report of the package into report/
	$(BIN)/pipeline report --package $(OUT) --seeds $(SEEDS) --out report $(ARGS)

clean: ## Remove the virtualenv and caches
	rm -rf $(VENV) .pytest_cache .hypothesis .mypy_cache .ruff_cache build *.egg-info
