# Backroom: the targets CI calls verbatim.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
BACKROOM := $(VENV)/bin/backroom
PYTEST_WORKERS ?= 2

# Byte-compile once per checkout: every later step, each xdist worker of both test runs and the
# tests' own subprocesses import all of backroom (and pytest rewrites every test module), which
# takes each process seconds of CPU when nothing may be cached. __pycache__ is gitignored.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup demo test checks test-sqlite test-postgres lint typecheck importlint messages schema clean

## setup: Python 3.12 venv with pinned packages, npm assets, Debian's chromium (when root).
setup: $(VENV)/.installed node_modules/.installed browser var

$(VENV)/.installed: requirements/base.txt requirements/dev.txt pyproject.toml
	@PY312=$$(scripts/find-python312) || exit 1; \
	  [ -x $(PY) ] || $$PY312 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt -e .
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

browser:
	@scripts/ensure-chromium

var:
	@mkdir -p var

## demo: set up, migrate the embedded SQLite database, seed the demo chain, serve with the worker.
## Seeds only an empty database, so running it again reuses what is there.
DEMO_HOST ?= 127.0.0.1
DEMO_PORT ?= 8000
demo: setup
	DEBUG=$${DEBUG:-1} $(BACKROOM) migrate --no-input -v 0
	DEBUG=$${DEBUG:-1} $(BACKROOM) demo
	DEBUG=$${DEBUG:-1} $(BACKROOM) serve --host $(DEMO_HOST) --port $(DEMO_PORT)

## test: lint, meta-checks and the whole suite on SQLite, then on PostgreSQL when DATABASE_URL points at one.
test: setup checks test-sqlite test-postgres

## checks: lint and typecheck side by side (each runs on one core).
checks:
	$(MAKE) -f $(firstword $(MAKEFILE_LIST)) --no-print-directory -j2 --output-sync=target lint typecheck

lint:
	$(VENV)/bin/ruff check backroom tests bench
	$(VENV)/bin/ruff format --check backroom tests bench
	$(VENV)/bin/lint-imports --no-cache
	DEBUG=1 DATABASE_URL=sqlite:///var/check.sqlite3 $(BACKROOM) makemigrations --check --dry-run -v 1
	DEBUG=1 DATABASE_URL=sqlite:///var/check.sqlite3 $(BACKROOM) check

test-sqlite:
	DATABASE_URL=sqlite:///var/test.sqlite3 $(VENV)/bin/pytest -n $(PYTEST_WORKERS) -q

test-postgres:
	@if [[ "$${DATABASE_URL:-}" == postgres* ]]; then \
	  echo "== PostgreSQL: $${DATABASE_URL}"; \
	  $(VENV)/bin/pytest -n $(PYTEST_WORKERS) -q -m "not browser and not whole_demo"; \
	else echo "== PostgreSQL: skipped (DATABASE_URL does not point at PostgreSQL)"; fi

typecheck:
	DEBUG=1 $(VENV)/bin/mypy backroom

messages:
	cd backroom && DEBUG=1 ../$(BACKROOM) makemessages -l zh_Hans --no-obsolete --ignore=tests && DEBUG=1 ../$(BACKROOM) compilemessages

## schema: rewrite the committed OpenAPI schema (a test fails while it is stale).
schema:
	DEBUG=1 $(BACKROOM) export_openapi_schema --api backroom.config.api.api --indent 2 --sorted --output docs/openapi.json

clean:
	rm -rf $(VENV) node_modules var
	find backroom tests bench -name __pycache__ -prune -exec rm -rf {} +
