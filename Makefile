# Two commands do everything on a fresh clone: `make run` and `make test`.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
DATABASE_URL ?= sqlite+aiosqlite:///demo.sqlite3
export DATABASE_URL
APP := webapp.app:create_app
LITESTAR := $(BIN)/litestar --app $(APP)

.PHONY: install migrate seed superuser run serve browse test lint format clean screenshots

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

migrate: install
	$(LITESTAR) database upgrade --no-prompt

seed: migrate
	$(BIN)/python -m webapp.demo.seed

# The first account comes from ADMIN_USERNAME/ADMIN_PASSWORD, or gets a generated password printed once.
superuser: migrate
	$(LITESTAR) admin ensure-superuser

run: seed superuser
	$(LITESTAR) run --reload --host $(HOST) --port $(PORT) --reload-dir webapp --reload-dir templates

# Production: WORKERS uvicorn processes (default: the core count), no reload or debug, access logs, graceful
# shutdown, proxy headers from FORWARDED_ALLOW_IPS; several workers need SECRET_KEY (README, "Serving in production").
serve: seed superuser
	HOST=$(HOST) PORT=$(PORT) $(BIN)/python -m webapp.serve

# Any existing database, no model code: `DATABASE_URL=<async URL> make browse`. The admin's own tables go to
# ADMIN_STATE_URL (default: admin_state.sqlite3 here); the browsed database's schema is left as it is.
BROWSE := $(BIN)/litestar --app webapp.browse:create_app
browse: install
	$(BROWSE) database upgrade --no-prompt
	$(BROWSE) admin ensure-superuser
	$(BROWSE) run --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check webapp tests
	$(BIN)/ruff format --check webapp tests

format: install
	$(BIN)/ruff format webapp tests
	$(BIN)/ruff check --fix webapp tests

# One worker per core, a whole test file to each (`python -m pytest tests/x.py` alone runs in one process).
test: install lint
	$(BIN)/python -m pytest -n auto --dist loadfile

# Regenerates docs/screenshots/*.png from a freshly seeded database in a temporary folder (needs Chromium).
screenshots: install
	$(BIN)/python -m tests.e2e.screenshots

clean:
	rm -rf $(VENV) demo.sqlite3 demo.sqlite3-* admin_state.sqlite3 admin_state.sqlite3-*

# Benchmark against a hand-written floor (not part of `make test`): `make bench BENCH_ARGS="--quick"`, see bench/README.md.
.PHONY: bench
bench: install
	$(BIN)/python -m bench.run $(BENCH_ARGS)
