# regsync: `make run` starts the whole stack on the embedded default, `make test` checks it.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format migrate demo bench soak clean

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

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Tests use their own filesystem broker dir, so they never share a queue with `make run`.
test: $(STAMP) .env lint
	CELERY_BROKER_DIR=var/test-broker $(BIN)/python -m pytest $(PYTEST_ARGS)

migrate: $(STAMP) .env
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py seed_demo

run: demo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

bench: $(STAMP) .env
	$(BIN)/python bench/run.py

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
