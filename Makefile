# coda-jupyter: `make lab` sets up and starts JupyterLab, `make test` runs every test.
# Both are incremental: stamps under .make/ record what is already done.

SHELL := /bin/bash
.DEFAULT_GOAL := lab

PYTHON ?= python3
VENV ?= .venv
PORT ?= 8888
STAMPS := .make
BIN := $(CURDIR)/$(VENV)/bin
# jlpm and jupyter-builder live in the venv; node comes from the system.
export PATH := $(BIN):$(PATH)

LAB_SOURCES := $(shell find labextension/src labextension/style labextension/schema -type f 2>/dev/null) \
	labextension/package.json labextension/tsconfig.json
BUILT_LAB := coda_jupyter/labextension/static/style.js
LAB_DEPS := labextension/node_modules/.yarn-state.yml
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
CHROMIUM ?= /usr/bin/chromium
CHP_VERSION := 5.3.0
CHP := $(STAMPS)/chp/node_modules/.bin/configurable-http-proxy

.PHONY: lab test lint build clean help deploy app-status screenshots

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

lab: $(STAMPS)/installed ## set up (incrementally) and start JupyterLab on $$PORT
	exec $(BIN)/jupyter lab --no-browser --port=$(PORT) $(ROOT_FLAG) $(LAB_ARGS)

build: $(BUILT_LAB) ## build the lab extension into coda_jupyter/labextension

# Lint comes first: a lint error fails `make test` before the slow tests start.
test: lint $(STAMPS)/chromium $(CHP) ## install test deps, lint, and run all tests
	$(BIN)/python -m pytest -ra $(PYTEST_ARGS)

# The lab extension's linters come from its node_modules, installed from yarn.lock.
lint: $(STAMPS)/test-deps $(LAB_DEPS) ## ruff and mypy over the Python code, eslint and prettier over the lab extension
	$(BIN)/ruff check coda_jupyter tests bench
	$(BIN)/ruff format --check coda_jupyter tests bench
	$(BIN)/mypy coda_jupyter
	cd labextension && jlpm lint:check

# The first-run pictures in docs/deployment.md, taken by the journey test.
screenshots: $(STAMPS)/test-deps $(STAMPS)/chromium ## regenerate docs/images/ from the Databricks App journey test
	CODA_SCREENSHOTS=$(CURDIR)/docs/images $(BIN)/python -m pytest -q tests/apps/test_journey.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# JupyterLab brings jlpm (yarn) and jupyter-builder, needed to build the extension.
$(STAMPS)/toolchain: | $(BIN)/python
	$(BIN)/pip install --quiet "jupyterlab>=4.6,<4.7" "hatchling>=1.5" "hatch-jupyter-builder>=0.9.1" "hatch-nodejs-version>=0.3.2" editables
	@mkdir -p $(STAMPS) && touch $@

$(LAB_DEPS): labextension/package.json labextension/yarn.lock labextension/.yarnrc.yml $(STAMPS)/toolchain
	cd labextension && jlpm install --immutable
	@touch $@

$(BUILT_LAB): $(LAB_SOURCES) $(LAB_DEPS)
	cd labextension && jlpm build:prod
	@touch $@

# The extension is already built above, so the build hook is told to skip it.
$(STAMPS)/installed: pyproject.toml $(BUILT_LAB) jupyter-config/server-config/coda_jupyter.json
	SKIP_JUPYTER_BUILDER=1 $(BIN)/pip install --quiet --no-build-isolation --editable .
	$(BIN)/jupyter labextension develop --overwrite . > /dev/null
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/test-deps: pyproject.toml $(STAMPS)/installed
	SKIP_JUPYTER_BUILDER=1 $(BIN)/pip install --quiet --no-build-isolation --editable ".[test]"
	@touch $@

# tests/hub runs a real JupyterHub, whose proxy is configurable-http-proxy from npm (pinned).
$(CHP):
	npm install --prefix $(STAMPS)/chp --no-audit --no-fund --loglevel=error configurable-http-proxy@$(CHP_VERSION)

# Browser tests drive Debian's Chromium: Playwright cannot download its own here.
$(STAMPS)/chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null; \
	  else \
	    echo "Chromium is missing: run 'sudo apt-get install chromium' (or set CHROMIUM=/path)"; exit 1; \
	  fi; \
	fi
	@mkdir -p $(STAMPS) && touch $@

# Databricks App deployment through the Databricks CLI (see docs/deployment.md).
APP_NAME ?= coda-jupyter
PROFILE ?= DEFAULT
DATABRICKS ?= databricks
DBX = $(DATABRICKS) --profile $(PROFILE)
APP_STAGE := build/app

deploy: $(BUILT_LAB) $(STAMPS)/toolchain ## build, upload and deploy the Databricks App $$APP_NAME (CLI profile $$PROFILE)
	rm -rf $(APP_STAGE) && mkdir -p $(APP_STAGE)
	$(BIN)/pip install --quiet build
	$(BIN)/python -m build --wheel --outdir $(APP_STAGE) .
	cp app.yaml $(APP_STAGE)/
	cd $(APP_STAGE) && ls coda_jupyter-*.whl | sed 's|^|./|' > requirements.txt
	@set -euo pipefail; \
	email=$$($(DBX) current-user me --output json | $(BIN)/python -c 'import json,sys; print(json.load(sys.stdin)["userName"])'); \
	src="/Workspace/Users/$$email/apps/$(APP_NAME)"; \
	echo "Uploading $(APP_STAGE) to $$src"; \
	$(DBX) workspace mkdirs "$$src"; \
	$(DBX) workspace import-dir $(APP_STAGE) "$$src" --overwrite; \
	if ! $(DBX) apps get $(APP_NAME) > /dev/null 2>&1; then \
	  echo "Creating app $(APP_NAME) (waits for its compute)"; \
	  $(DBX) apps create $(APP_NAME) --description "Coding agents in JupyterLab"; \
	fi; \
	$(DBX) apps deploy $(APP_NAME) --source-code-path "$$src"
	@$(MAKE) --no-print-directory app-status

app-status: ## show state, deployment and URL of the Databricks App $$APP_NAME
	@$(DBX) apps get $(APP_NAME) --output json | $(BIN)/python -c 'import json, sys; \
	a = json.load(sys.stdin); dep = a.get("active_deployment") or {}; \
	state = lambda d: " ".join(x for x in ((d or {}).get("state"), (d or {}).get("message")) if x); \
	rows = [("app", a.get("name")), ("url", a.get("url") or "(none yet)"), ("state", state(a.get("app_status"))), \
	        ("compute", state(a.get("compute_status"))), ("deployment", state(dep.get("status")) or "none"), \
	        ("source", dep.get("source_code_path") or "-")]; \
	print("\n".join("%-11s %s" % (k + ":", v) for k, v in rows))'

clean: ## remove build output and stamps (keeps the venv)
	rm -rf $(STAMPS) coda_jupyter/labextension labextension/lib labextension/tsconfig.tsbuildinfo dist build
