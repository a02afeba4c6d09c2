# Two commands on a fresh machine: `make run` serves the portal, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi

.PHONY: run test lint bench clean messages

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(FLASK) db upgrade
	$(FLASK) regions load
	$(FLASK) demo seed --if-empty
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

test: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/pytest

# Every benchmark of benchmarks/ (about 12 minutes on 2 cores); BENCH_QUICK=1 for a smoke run,
# BENCH_DATABASE_URL=postgresql+psycopg://…/bench_x to add PostgreSQL (that database is wiped).
bench: $(VENV)/.dev
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache

# Every user-facing string, for translators (Bahasa Indonesia is the source language).
messages: $(VENV)/.dev
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ -o messages.pot .
