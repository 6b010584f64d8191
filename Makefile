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

.PHONY: install migrate seed run test lint format clean

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

run: seed
	$(LITESTAR) run --reload --host $(HOST) --port $(PORT) --reload-dir webapp --reload-dir templates

lint: install
	$(BIN)/ruff check webapp tests
	$(BIN)/ruff format --check webapp tests

format: install
	$(BIN)/ruff format webapp tests
	$(BIN)/ruff check --fix webapp tests

test: install lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) demo.sqlite3 demo.sqlite3-*
