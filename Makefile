# hcmgov — the digital-government platform of Ho Chi Minh City.
#   make up     install, build assets, migrate, load the demo city, serve on http://$(HOST):$(PORT)
#   make test   lint, types, architecture contracts, tests on SQLite, then on PostgreSQL if one answers
#   make bench  benchmarks under bench/ (results in bench/results/)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
# Python threads per server process: each holds its own database connection, and granian's
# default (256) exhausted PostgreSQL's connections under load (bench/results/README.md)
THREADS ?= 2
VENV := .venv
PY := $(VENV)/bin/python
HCMGOV := $(VENV)/bin/hcmgov
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PG_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/hcmgov)
export DJANGO_SETTINGS_MODULE := hcmgov.settings
-include .env
export

.PHONY: help up install assets migrate demo static serve worker test lint test-sqlite test-postgres bench configdoc openapi clean

help:
	@grep -E '^#   ' Makefile | sed 's/^#   //'

$(VENV)/.installed: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv>=0.5"
	$(UV) sync --frozen
	@touch $@

install: $(VENV)/.installed

src/hcmgov/web/static/vendor/.built: frontend/package.json frontend/package-lock.json scripts/build_assets.sh
	bash scripts/build_assets.sh
	@touch $@

assets: src/hcmgov/web/static/vendor/.built

migrate: install
	$(HCMGOV) migrate --noinput

demo: migrate
	$(HCMGOV) demo

static: install assets
	$(HCMGOV) collectstatic --noinput --verbosity 0

up: install assets migrate demo static serve

# The web server (granian, WSGI) and the worker beside it; Ctrl-C stops both.
serve: install
	@mkdir -p var/prometheus && rm -f var/prometheus/*.db
	@export PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/var/prometheus; \
	$(HCMGOV) worker > var/worker.log 2>&1 & worker=$$!; \
	trap "kill $$worker 2>/dev/null" EXIT INT TERM; \
	echo "hcmgov: http://$(HOST):$(PORT)/  (worker log: var/worker.log)"; \
	$(VENV)/bin/granian --interface wsgi --host $(HOST) --port $(PORT) --workers $(WORKERS) --blocking-threads $(THREADS) \
		--no-ws --log-level warning hcmgov.wsgi:application

worker: install
	$(HCMGOV) worker

configdoc: install
	$(HCMGOV) configdoc

openapi: install
	$(HCMGOV) openapi --write

lint: install assets
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy src/hcmgov
	$(VENV)/bin/deptry src
	$(HCMGOV) check --fail-level WARNING
	$(HCMGOV) makemigrations --check --dry-run
	$(HCMGOV) configdoc --check
	$(HCMGOV) openapi --check

test-sqlite: install assets
	$(VENV)/bin/pytest -n auto -q

test-postgres: install assets
	@if $(PY) scripts/pg_available.py "$(PG_URL)"; then \
		echo "== the suite again on PostgreSQL ($(PG_URL)) =="; \
		DATABASE_URL="$(PG_URL)" $(VENV)/bin/pytest -n auto -q; \
	else echo "== PostgreSQL not reachable at $(PG_URL): skipped =="; fi

test: lint test-sqlite test-postgres

bench: install assets
	$(PY) bench/run.py

clean:
	rm -rf var $(VENV) frontend/node_modules src/hcmgov/web/static/vendor
