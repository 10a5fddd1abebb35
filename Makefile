# regsync: `make run` starts the whole stack on the embedded default, `make test` checks it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format migrate demo bench kill-matrix races fuzz-model soak clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

.env: | $(STAMP)
	$(BIN)/python scripts/make_env.py .env

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Tests use their own filesystem broker dir, so they never share a queue with `make run`.
test: $(STAMP) .env lint
	CELERY_BROKER_DIR=var/test-broker $(BIN)/python -m pytest $(PYTEST_ARGS)

# The model-based tests (odoo_sync/tests/test_model.py, the control plane, then
# test_model_onboarding.py, onboarding and the audit) on random seeds for
# MODEL_FUZZ_MINUTES each; prints each seed, then examples, steps, failures (the
# sync's own log goes to var/fuzz-model.log). Needs PostgreSQL (DATABASE_URL).
# Replay a failure: MODEL_SEED=<seed> make fuzz-model (MODEL_FILES=<the one file>).
MODEL_FUZZ_MINUTES ?= 10
MODEL_FILES ?= odoo_sync/tests/test_model.py odoo_sync/tests/test_model_onboarding.py
fuzz-model: $(STAMP) .env
	mkdir -p var
	HYPOTHESIS_PROFILE=fuzz MODEL_FUZZ_MINUTES=$(MODEL_FUZZ_MINUTES) \
		CELERY_BROKER_DIR=var/test-broker $(BIN)/python -m pytest -q -s -p no:cacheprovider \
		$(MODEL_FILES) 2>var/fuzz-model.log

migrate: $(STAMP) .env
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py seed_demo --odoo-url http://127.0.0.1:$(SANDBOX_PORT)

# The demo's ports: the web admin and the sandbox Odoo (not 8069, where a real Odoo may run).
WEB_PORT ?= 8000
SANDBOX_PORT ?= 8169
export WEB_PORT SANDBOX_PORT

run: demo
	@$(BIN)/python scripts/check_ports.py WEB_PORT=$(WEB_PORT) SANDBOX_PORT=$(SANDBOX_PORT)
	@echo "regsync: admin on http://127.0.0.1:$(WEB_PORT)/admin/, sandbox Odoo on http://127.0.0.1:$(SANDBOX_PORT)"
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

# Issue 14's figures (docs/performance.md): prints them, writes bench/results.json and the
# table in docs/performance.md. Needs DATABASE_URL (PostgreSQL) and REDIS_URL; a throwaway
# database. BENCH_ARGS: e.g. --only tick cpu, --set cpu_rows=100,1000, --smoke (CI's size).
bench: $(STAMP) .env
	$(BIN)/python bench/run.py --docs docs/performance.md $(BENCH_ARGS)

# docs/reliability.md: need DATABASE_URL (PostgreSQL) and REDIS_URL; each uses a throwaway
# database and writes bench/results/*.json. BENCH_ARGS: e.g. --runs 5, --workers 2 4.
kill-matrix: $(STAMP) .env
	$(BIN)/python bench/kill_matrix.py $(BENCH_ARGS)

races: $(STAMP) .env
	$(BIN)/python bench/races.py $(BENCH_ARGS)

# An hour of steady edits over 100 tenants with 1 % of Odoo calls failing; exits 1 if
# memory, connections or the queue grew, or the end state is wrong (docs/reliability.md).
# Wants DATABASE_URL (PostgreSQL) and REDIS_URL for production's figures.
SOAK_MINUTES ?= 60
TENANTS ?= 100
EDITS_PER_SECOND ?= 4
soak: $(STAMP) .env
	$(BIN)/python bench/soak.py --minutes $(SOAK_MINUTES) --tenants $(TENANTS) \
		--rate $(EDITS_PER_SECOND) --json bench/results/soak.json

clean:
	rm -rf var .pytest_cache .ruff_cache
