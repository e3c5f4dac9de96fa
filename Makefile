# The two commands a new user runs: `make dev` and `make test`. Both install what they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
# Lambda runs Python 3.12 and pgserver ships wheels up to 3.12: prefer 3.12, else 3.11.
PYTHON ?= $(shell for p in python3.12 $$(ls -d $$HOME/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null) python3.11 $$(ls -d $$HOME/.pyenv/versions/3.11*/bin/python3.11 2>/dev/null) python3; do \
	if "$$p" -c 'import sys; assert (3, 11) <= sys.version_info[:2] <= (3, 12)' >/dev/null 2>&1; then echo "$$p"; break; fi; done)
export SAM_CLI_TELEMETRY := 0
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help dev test lint format typecheck unit conformance browser sam-validate sam-build openapi lock bench clean

help:
	@echo "make dev    install what is needed, then serve the API on http://127.0.0.1:3000 (PORT=8080 make dev: another port)"
	@echo "make test   install what is needed, then run lint, types, the whole suite, sam validate and sam build"
	@echo "make browser  only the web app's browser tests (screenshots in .test-output/screenshots/)"
	@echo "make bench  run the benchmarks in bench/"

# uv installs exactly what uv.lock pins (--locked: a lock that disagrees with pyproject.toml is
# an error, not a silent re-resolve). uv itself comes from pip, at the version pyproject pins.
UV := $(VENV)/bin/uv
UV_VERSION := $(shell sed -n 's/.*"uv==\([^"]*\)".*/\1/p' pyproject.toml)
export UV_PYTHON_DOWNLOADS := never

# uv alone, so that `make lock` can re-lock a pyproject.toml the current lock no longer matches.
$(UV):
	@test -n "$(PYTHON)" || { echo "Python 3.11 or 3.12 is required"; exit 1; }
	@test -x $(PY) || { echo "Creating $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@$(PY) -m pip install -q "uv==$(UV_VERSION)"

$(VENV)/.installed: pyproject.toml uv.lock $(UV)
	@UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync -q --locked --python $(PY)
	@touch $@

$(SAM_VENV)/.installed: pyproject.toml uv.lock $(VENV)/.installed
	@test -x $(SAM_VENV)/bin/python || $(PYTHON) -m venv $(SAM_VENV)
	@UV_PROJECT_ENVIRONMENT=$(SAM_VENV) $(UV) sync -q --locked --only-group sam --python $(SAM_VENV)/bin/python
	@touch $@

dev: $(VENV)/.installed
	$(PY) -m local

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Every function folder holds an app.py (as Lambda wants), so each is checked on its own.
typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy
	@for app in functions/*/app.py; do $(VENV)/bin/mypy --no-error-summary "$$app" || exit 1; done

# The browser tests drive Debian's Chromium through Playwright (Playwright's own browser
# download is never used): installed with apt-get when missing (root, or sudo).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@command -v apt-get >/dev/null 2>&1 || { echo "The browser tests need Chromium at $(CHROMIUM) (Debian's chromium package), and apt-get is not here to install it."; exit 1; }
	@echo "Installing Debian's chromium package for the browser tests"
	@SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	{ $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; } \
	|| { echo "Could not install chromium with apt-get (it needs root or sudo): the browser tests need it at $(CHROMIUM)."; exit 1; }
	@test -x $(CHROMIUM) || { echo "apt-get installed chromium, but $(CHROMIUM) is missing."; exit 1; }

# Real L402 clients nobody here wrote (Alby's fetchWithL402) run under Node.js: Node and npm
# from Debian's packages when missing, the client from npm at the version package-lock.json pins.
NODE_CLIENTS := tests/clients/node_modules/.installed
$(NODE_CLIENTS): tests/clients/package.json tests/clients/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
		command -v apt-get >/dev/null 2>&1 || { echo "The real-client tests need Node.js and npm (Debian's nodejs and npm packages)."; exit 1; }; \
		echo "Installing Debian's nodejs and npm for the real-client tests"; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		{ $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nodejs npm >/dev/null; } \
		|| { echo "Could not install nodejs and npm with apt-get (it needs root or sudo)."; exit 1; }; }
	@npm ci --prefix tests/clients --no-audit --no-fund --silent
	@touch $@

# The whole suite, schemathesis' conformance run of the API, the browser tests and the
# real-client tests included.
unit: $(VENV)/.installed $(CHROMIUM) $(NODE_CLIENTS)
	$(PY) -m pytest

# Only the web app in a real browser; screenshots of every page in .test-output/screenshots/.
browser: $(VENV)/.installed $(CHROMIUM)
	$(PY) -m pytest -q tests/e2e/webapp

# Only schemathesis against the local stack: every operation of shared/openapi.json.
conformance: $(VENV)/.installed
	$(PY) -m pytest -q tests/e2e/test_openapi_conformance.py

# sam build runs pip for the python3.12 runtime: the project venv provides python3.12.
sam-validate: $(SAM_VENV)/.installed
	$(SAM_VENV)/bin/sam validate --lint --region us-east-1

sam-build: $(SAM_VENV)/.installed $(VENV)/.installed
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(SAM_VENV)/bin/sam build --parallel --cached

test: lint typecheck unit sam-validate sam-build

openapi: $(VENV)/.installed
	$(PY) -m local.openapi --write

# After editing a dependency in pyproject.toml: re-lock, and export the layer's requirements.
lock: $(UV)
	$(UV) lock
	$(UV) export -q --frozen --only-group runtime --no-hashes --no-emit-project -o layers/core/requirements.txt

bench: $(VENV)/.installed
	$(PY) bench/cold_start.py

clean:
	rm -rf $(VENV) $(SAM_VENV) .aws-sam .local .mypy_cache .ruff_cache .hypothesis tests/clients/node_modules
