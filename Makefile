# Tracebit detection pack for Panther. `make help` lists the targets.
# Everything runs from a project-local virtual environment (.venv) built from
# requirements.lock, so a fresh machine needs only python3 (3.11) and make.

SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
LOCKS := requirements.lock requirements-uv.lock
# The stamp follows the locks, pyproject.toml and how they are installed (INSTALL_RECIPE).
INSTALL_RECIPE := bytecode-compiled
STAMP := $(VENV)/.installed-$(shell (cat $(LOCKS) pyproject.toml; echo $(INSTALL_RECIPE)) | sha256sum | cut -c1-16)
PAT := $(BIN)/panther_analysis_tool --skip-version-check
SCENARIO ?= scenarios/blog_incident
FUZZ_EXAMPLES ?= 100000
BASE ?= main
PYTEST_WORKERS ?= auto
PAT_LOG := .pat-test.log
REPORT ?= dist/blog_incident_report.html
SCREENSHOT := docs/images/blog_incident_report.png

.PHONY: help install demo report report-screenshot test-browser test lint pytest pat-test pat-test-summary validate-events test-correlation check-packs pantherflow-docs \
        zip queries fuzz bench bench-scale mutate lock review upload clean

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

# Every install checks the sha256 in the locks; only the project itself (-e .) is built from source.
# Bytecode is compiled at install (as pip does by default, and uv only when asked): otherwise every
# command compiles its imports again, which is most of a short command's time where
# PYTHONDONTWRITEBYTECODE is set.
$(STAMP): $(LOCKS) pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@set -o pipefail; $(BIN)/python -m pip install -q --disable-pip-version-check --require-hashes \
		-r requirements-uv.lock 2>&1 | { grep -v "is ignored" || true; }
	$(BIN)/uv pip install -q --python $(BIN)/python --require-hashes --compile-bytecode -r requirements.lock
	$(BIN)/uv pip install -q --python $(BIN)/python --no-deps --no-build-isolation -e .
	$(BIN)/python -m compileall -q tracebit_pack global_helpers > /dev/null
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP) ## Create .venv and install the pinned dependencies and the tracebit-pack command

demo: install ## Main job: replay the bundled incident through the pack and print the investigation
	$(BIN)/tracebit-pack replay $(SCENARIO)

report: install ## Write the bundled incident's investigation as one HTML page (REPORT, default dist/blog_incident_report.html)
	@mkdir -p $(dir $(REPORT))
	$(BIN)/tracebit-pack replay $(SCENARIO) --format html --out $(REPORT)

report-screenshot: report ## Regenerate the README's screenshot of the report (needs Debian chromium)
	$(BIN)/python -m tracebit_pack.report.browser $(REPORT) --screenshot $(SCREENSHOT)

test-browser: install ## Open the HTML report in headless Debian chromium: charts drawn, no console error, no request
	$(BIN)/pytest -m browser -p no:xdist

# The checks run two at a time (pytest alone uses both cores; the others use one each), and each
# check's output is printed in one piece when it finishes.
TEST_CHECKS := pytest lint validate-events pat-test-summary test-correlation check-packs test-browser pantherflow-docs

test: install ## Run every test (lint, schema checks, pytest with the docs test, pat test, correlation tests, pack checks, the HTML report in chromium)
	@$(MAKE) --no-print-directory -j2 --output-sync=target $(TEST_CHECKS)
	@echo "make test: all checks passed"

lint: install ## ruff (lint + format), workflow schema check, zizmor (workflow security), generated queries in sync, secret scan
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/zizmor --offline --quiet --no-progress .github/workflows
	$(BIN)/tracebit-pack generate-queries --check
	$(BIN)/tracebit-pack dev secrets

validate-events: install ## Check every test event, fixture and scenario event against its Panther schema
	$(BIN)/tracebit-pack validate-events

pytest: install ## Unit, integration and property tests, in parallel (PYTEST_WORKERS, default one per core)
	$(BIN)/pytest -n $(PYTEST_WORKERS)

pat-test: install ## panther_analysis_tool test on every detection (2+ tests each, positive and negative)
	$(PAT) test --path . --minimum-tests 2

# `make test` runs the same pat test but keeps its per-test alert-context lines in $(PAT_LOG):
# the summary is printed, and the whole log only when something failed.
pat-test-summary: install
	@echo "$(PAT) test --path . --minimum-tests 2 > $(PAT_LOG)"
	@$(PAT) test --path . --minimum-tests 2 > $(PAT_LOG) 2>&1; rc=$$?; \
	  if [ $$rc -ne 0 ]; then cat $(PAT_LOG); else sed -n '/^Test Summary/,$$p' $(PAT_LOG); fi; \
	  echo "(full pat output: $(PAT_LOG))"; exit $$rc

test-correlation: install ## Run the correlation rules' RuleOutputs tests offline (failures and the summary)
	$(BIN)/tracebit-pack test-correlation --quiet

pantherflow-docs: install ## Run the examples of Panther's PantherFlow docs on the offline executor (prints K/N)
	$(BIN)/tracebit-pack dev pantherflow-docs

check-packs: install ## pat check-packs: every item is in a pack with its dependencies
	$(PAT) check-packs --path .

zip: install ## Build the upload bundle with pat zip (into dist/)
	$(PAT) zip --path . --out dist

queries: install ## Regenerate queries/tracebit_pivot_*.yml from the templates in global_helpers/tracebit_pivot_templates.py
	$(BIN)/tracebit-pack generate-queries

fuzz: install ## Fuzz every rule with FUZZ_EXAMPLES generated events (default 100000)
	$(BIN)/tracebit-pack dev fuzz --examples $(FUZZ_EXAMPLES)

bench: install ## Benchmark rules against the engine floor, the replay and each query
	$(BIN)/tracebit-pack dev bench --out docs/benchmarks.md

bench-scale: install ## Replay scaling: 10k, 100k and 1M CloudTrail events (S3 objects) against DuckDB's plain read (the floor)
	$(BIN)/tracebit-pack dev bench-scale --out docs/backtest-scaling.md

mutate: install ## Mutation testing of global_helpers/ and rules/ with cosmic-ray (about an hour; not part of make test)
	$(BIN)/tracebit-pack dev mutate

review: install ## Review report of this change against BASE (default main): item and behaviour diff
	$(BIN)/tracebit-pack review --base $(BASE)

upload: install ## pat upload to PANTHER_API_HOST with PANTHER_API_TOKEN (pat reads both from the environment)
	@test -n "$$PANTHER_API_HOST" -a -n "$$PANTHER_API_TOKEN" || { echo "Set PANTHER_API_HOST and PANTHER_API_TOKEN" >&2; exit 2; }
	$(PAT) upload --path .

lock: ## Re-resolve requirements.lock (with sha256 hashes) from pyproject.toml (needs network)
	@test -x $(BIN)/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install -q uv==$(UV_VERSION); }
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock
	printf 'uv==$(UV_VERSION)\n' | $(BIN)/uv pip compile - --python-version 3.11 --generate-hashes --no-header \
		-o requirements-uv.lock.tmp
	{ echo '# uv, the installer `make install` uses, with the sha256 of each of its files (`make lock`)'; \
		cat requirements-uv.lock.tmp; } > requirements-uv.lock && rm requirements-uv.lock.tmp

clean: ## Remove the virtual environment and build output
	rm -rf $(VENV) dist .pytest_cache .ruff_cache .hypothesis .bench-data $(PAT_LOG)
