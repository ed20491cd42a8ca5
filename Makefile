# hcmgov — the digital-government platform of Ho Chi Minh City.
#   make up     install, build assets, migrate, load the demo city, serve on http://$(HOST):$(PORT)
#   make test   lint, types, architecture contracts, tests on SQLite, then on PostgreSQL if one answers
#   make bench  benchmarks under bench/ (results in bench/results/)
#   make soak   citizens, officials, API clients and sensors for 10 minutes: p50/p95/p99, memory (bench/results/soak.md)
#   make failover  a PostgreSQL primary and a synchronous standby, the primary killed under load (docs/operations/failover.md)
#   make scale-test  the city on one machine: nginx, 3 web, 2 gateway, 3 workers, a scheduler, 2 ingesters, one of each killed under load (docs/operations/scale-test.md)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 2
# Python threads per server process: each holds its own database connection, and granian's
# default (256) exhausted PostgreSQL's connections under load (bench/results/README.md)
THREADS ?= 2
SIM_PAY_PORT ?= 8101
SIM_POST_PORT ?= 8102
SIM_TSA_PORT ?= 8103
SIM_NDXP_PORT ?= 8104
# The data sharing platform's gateway (/x/...): an ASGI process of its own (docs/decisions/0016)
GATEWAY_PORT ?= 8001
# its fast path: nginx with its Lua module, and the control plane beside it (docs/decisions/0024, 0029)
EDGE_PORT ?= 8002
GATEWAY_WORKERS ?= 1
VENV := .venv
PY := $(VENV)/bin/python
HCMGOV := $(VENV)/bin/hcmgov
UV := $(shell command -v uv 2>/dev/null || echo "python3 -m uv")
PG_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/hcmgov)
export DJANGO_SETTINGS_MODULE := hcmgov.settings
-include .env
export

.PHONY: help up install assets migrate demo static serve worker test lint test-sqlite test-postgres bench soak failover scale-test configdoc openapi clean

help:
	@grep -E '^#   ' Makefile | sed 's/^#   //'

$(VENV)/.installed: pyproject.toml uv.lock
	@command -v uv >/dev/null 2>&1 || python3 -m uv --version >/dev/null 2>&1 || python3 -m pip install --quiet "uv>=0.5"
	$(UV) sync --frozen
	@touch $@

# an NGSI-LD client library (ngsildclient) for the broker's test: its own virtualenv, its pins conflict with
# ours (src/hcmgov/ngsi/tests/ngsildclient.requirements.txt, hashed)
NGSILD_VENV := .venv-ngsildclient
NGSILD_REQ := src/hcmgov/ngsi/tests/ngsildclient.requirements.txt
$(NGSILD_VENV)/.installed: $(NGSILD_REQ) $(VENV)/.installed
	$(UV) venv -q --clear -p $(VENV)/bin/python $(NGSILD_VENV)
	$(UV) pip install -q --python $(NGSILD_VENV)/bin/python --require-hashes -r $(NGSILD_REQ)
	@touch $@

install: $(VENV)/.installed $(NGSILD_VENV)/.installed

src/hcmgov/web/static/vendor/.built: frontend/package.json frontend/package-lock.json scripts/build_assets.sh
	bash scripts/build_assets.sh
	@touch $@

assets: src/hcmgov/web/static/vendor/.built
	@# axe-core (browser tests only, never served) lives in frontend/node_modules: reinstall if it went
	@test -e frontend/node_modules/axe-core/axe.min.js || bash scripts/build_assets.sh

migrate: install
	$(HCMGOV) migrate --noinput

demo: migrate
	$(HCMGOV) demo
	$(HCMGOV) pki_demo

static: install assets
	$(HCMGOV) collectstatic --noinput --verbosity 0

up: install assets migrate demo static serve

# The web server (granian, WSGI) and the worker beside it; Ctrl-C stops both. Where no payment
# gateway, postal carrier or time-stamping authority is configured, the demo runs their simulators
# beside it (their well-known test accounts: src/hcmgov/simulators/pay.py, post.py, tsa.py) so
# fees, the post and signed results work.
serve: install
	@mkdir -p var/prometheus && rm -f var/prometheus/*.db
	@export PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/var/prometheus; sims=""; \
	export HCMGOV_PUBLIC_URL=$${HCMGOV_PUBLIC_URL:-http://$(HOST):$(PORT)}; \
	if [ -z "$${HCMGOV_VNPAY_PAY_URL:-}" ]; then \
		HCMGOV_SIM_PAY_IPN_URL=http://$(HOST):$(PORT)/api/v1/payments/vnpay/ipn \
			$(HCMGOV) sim pay --port $(SIM_PAY_PORT) > var/sim-pay.log 2>&1 & sims="$$sims $$!"; \
		export HCMGOV_VNPAY_PAY_URL=http://127.0.0.1:$(SIM_PAY_PORT)/paymentv2/vpcpay.html \
			HCMGOV_VNPAY_API_URL=http://127.0.0.1:$(SIM_PAY_PORT)/merchant_webapi/api/transaction \
			HCMGOV_VNPAY_STATEMENT_URL='http://127.0.0.1:$(SIM_PAY_PORT)/_sim/statement?date={date}' \
			HCMGOV_VNPAY_TMN_CODE=HCMGOV01 HCMGOV_VNPAY_HASH_SECRET=HCMGOVSIMHASHSECRET0123456789ABC; \
		echo "payment gateway simulator: http://127.0.0.1:$(SIM_PAY_PORT)/"; \
	fi; \
	if [ -z "$${HCMGOV_POST_URL:-}" ]; then \
		HCMGOV_SIM_POST_WEBHOOK_URL=http://$(HOST):$(PORT)/api/v1/postal/tracking \
			$(HCMGOV) sim post --port $(SIM_POST_PORT) > var/sim-post.log 2>&1 & sims="$$sims $$!"; \
		export HCMGOV_POST_URL=http://127.0.0.1:$(SIM_POST_PORT) HCMGOV_POST_TOKEN=SIM-POST-TOKEN-0123456789 \
			HCMGOV_POST_WEBHOOK_SECRET=SIM-POST-WEBHOOK-SECRET-0123456789 \
			HCMGOV_POST_DESK_PHONE=$${HCMGOV_POST_DESK_PHONE:-0280000000}; \
		echo "postal carrier simulator: http://127.0.0.1:$(SIM_POST_PORT)/"; \
	fi; \
	if [ -z "$${HCMGOV_TSA_URL:-}" ]; then \
		HCMGOV_SIM_TSA_DIR=$(CURDIR)/var/sim-tsa $(HCMGOV) sim tsa --port $(SIM_TSA_PORT) > var/sim-tsa.log 2>&1 & sims="$$sims $$!"; \
		export HCMGOV_TSA_URL=http://127.0.0.1:$(SIM_TSA_PORT)/ \
			HCMGOV_TRUSTED_ROOTS=$${HCMGOV_TRUSTED_ROOTS:+$$HCMGOV_TRUSTED_ROOTS,}$(CURDIR)/var/sim-tsa/ca.pem; \
		echo "time-stamping authority simulator: http://127.0.0.1:$(SIM_TSA_PORT)/"; \
	fi; \
	if [ -z "$${EXCHANGE_NDXP_URL:-}" ]; then \
		$(HCMGOV) sim ndxp --port $(SIM_NDXP_PORT) > var/sim-ndxp.log 2>&1 & sims="$$sims $$!"; \
		echo "national data exchange platform (NDXP) simulator: http://127.0.0.1:$(SIM_NDXP_PORT)/"; \
	fi; \
	$(HCMGOV) worker > var/worker.log 2>&1 & worker=$$!; \
	EXCHANGE_GATEWAY_URL=$${EXCHANGE_GATEWAY_URL:-http://$(HOST):$(GATEWAY_PORT)} \
		$(VENV)/bin/granian --interface asgi --loop uvloop --host $(HOST) --port $(GATEWAY_PORT) --workers $(GATEWAY_WORKERS) \
		--no-ws --log-level warning hcmgov.exchange.gateway.asgi:application > var/gateway.log 2>&1 & gateway=$$!; \
	edge=""; if [ -e /usr/lib/nginx/modules/ngx_http_lua_module.so ] && command -v nginx >/dev/null; then \
		EXCHANGE_GATEWAY_URL=http://$(HOST):$(GATEWAY_PORT) $(HCMGOV) exchange edge --port $(EDGE_PORT) > var/edge.log 2>&1 & edge=$$!; \
		echo "data sharing gateway, fast path (nginx + Lua): http://$(HOST):$(EDGE_PORT)/x/  (log: var/edge.log)"; \
	fi; \
	trap "kill $$worker $$gateway $$edge $$sims 2>/dev/null" EXIT INT TERM; \
	echo "hcmgov: http://$(HOST):$(PORT)/  (worker log: var/worker.log)"; \
	echo "data sharing gateway: http://$(HOST):$(GATEWAY_PORT)/x/  (log: var/gateway.log)"; \
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

# every benchmark, or a few: make bench BENCHES="gateway pages"; then bench/results/REPORT.md
# (bench/report.py: our number, the peer's, the ratio, the target, the machine) marks as stale any
# result older than this run. A benchmark that fails does not stop the others; make fails at the end.
BENCHES ?= run signing ocr prefill portal_sync package_search datastore_search quality_index gateway iot_ingest ngsi pages capacity
BENCH_START := $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
bench: install assets
	@failed=""; for b in $(BENCHES); do \
		echo "== bench/$$b.py =="; \
		if [ "$$b" = ngsi ]; then $(PY) -m bench.ngsi || failed="$$failed $$b"; \
		else $(PY) bench/$$b.py || failed="$$failed $$b"; fi; \
	done; \
	$(PY) bench/report.py --since $(BENCH_START); \
	if [ -n "$$failed" ]; then echo "benchmarks that failed:$$failed"; exit 1; fi

# the load and soak run of issue 13 (MINUTES=2 for a shorter one)
soak: install assets
	$(PY) bench/soak/run.py --minutes $(or $(MINUTES),10)

scale-test: install assets
	$(PY) scripts/scale_test.py

failover: install
	HCMGOV_FAILOVER=1 $(VENV)/bin/pytest -q -rA -p no:xdist tests/operations/test_failover.py

clean:
	rm -rf var $(VENV) $(NGSILD_VENV) frontend/node_modules src/hcmgov/web/static/vendor
