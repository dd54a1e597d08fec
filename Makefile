# Tracebit detection pack for Panther. `make help` lists the targets.
# Everything runs from a project-local virtual environment (.venv) built from
# requirements.lock, so a fresh machine needs only python3 (3.11) and make.

SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.lock pyproject.toml | sha256sum | cut -c1-16)
PAT := $(BIN)/panther_analysis_tool --skip-version-check
SCENARIO ?= scenarios/blog_incident
FUZZ_EXAMPLES ?= 100000
BASE ?= main

.PHONY: help install demo test lint pytest pat-test validate-events test-correlation check-packs \
        zip queries fuzz bench mutate lock review upload clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION) 2>&1 | grep -v "is ignored" || true
	$(BIN)/uv pip install -q --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps -e .
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP) ## Create .venv and install the pinned dependencies and the tracebit-pack command

demo: install ## Main job: replay the bundled incident through the pack and print the investigation
	$(BIN)/tracebit-pack replay $(SCENARIO)

test: install lint validate-events pytest pat-test test-correlation check-packs ## Run every test (lint, schema checks, pytest, pat test, correlation tests, pack checks)
	@echo "make test: all checks passed"

lint: install ## ruff (lint + format), workflow schema check, generated queries in sync, secret scan
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/tracebit-pack generate-queries --check
	$(BIN)/python -m tracebit_pack.secrets_check

validate-events: install ## Check every test event, fixture and scenario event against its Panther schema
	$(BIN)/tracebit-pack validate-events

pytest: install ## Unit, integration and property tests
	$(BIN)/pytest

pat-test: install ## panther_analysis_tool test on every detection (2+ tests each, positive and negative)
	$(PAT) test --path . --minimum-tests 2

test-correlation: install ## Run the correlation rules' RuleOutputs tests offline
	$(BIN)/tracebit-pack test-correlation

check-packs: install ## pat check-packs: every item is in a pack with its dependencies
	$(PAT) check-packs --path .

zip: install ## Build the upload bundle with pat zip (into dist/)
	$(PAT) zip --path . --out dist

queries: install ## Regenerate queries/tracebit_pivot_*.yml from global_helpers/tracebit_pivots.py
	$(BIN)/tracebit-pack generate-queries

fuzz: install ## Fuzz every rule with FUZZ_EXAMPLES generated events (default 100000)
	$(BIN)/python -m tracebit_pack.fuzz --examples $(FUZZ_EXAMPLES)

bench: install ## Benchmark rules against the engine floor, the replay and each query
	$(BIN)/python -m tracebit_pack.bench

mutate: install ## Mutation testing of global_helpers/ and rules/ with cosmic-ray (~30 min; not part of make test)
	$(BIN)/python -m tracebit_pack.mutation

review: install ## Review report of this change against BASE (default main): item and behaviour diff
	$(BIN)/tracebit-pack review --base $(BASE)

upload: install ## pat upload to PANTHER_API_HOST with PANTHER_API_TOKEN (pat reads both from the environment)
	@test -n "$$PANTHER_API_HOST" -a -n "$$PANTHER_API_TOKEN" || { echo "Set PANTHER_API_HOST and PANTHER_API_TOKEN" >&2; exit 2; }
	$(PAT) upload --path .

lock: ## Re-resolve requirements.lock from pyproject.toml (needs network)
	@test -x $(BIN)/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install -q uv==$(UV_VERSION); }
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 -o requirements.lock

clean: ## Remove the virtual environment and build output
	rm -rf $(VENV) dist .pytest_cache .ruff_cache .hypothesis
