# Two commands on a fresh machine: `make run` serves the portal, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi

TRANSLATIONS := portal/translations
# The catalogues (.po) are kept in git; the compiled .mo files are built from them, never committed.
CATALOGUES := $(wildcard $(TRANSLATIONS)/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)

.PHONY: run test lint bench clean messages translations screenshots

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

# The compiled catalogues Flask-Babel reads; rebuilt when a .po is newer.
translations: $(COMPILED)

$(COMPILED): %.mo: %.po | $(VENV)/.runtime
	$(BIN)/pybabel compile --statistics -i $< -o $@

run: $(VENV)/.runtime translations
	$(FLASK) db upgrade
	$(FLASK) regions load
	$(FLASK) demo seed --if-empty
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

test: $(VENV)/.dev translations
	$(BIN)/ruff check .
	$(BIN)/pytest

# The phone screenshots of the README (docs/screenshots/), written by the browser tests as they pass.
screenshots: $(VENV)/.dev translations
	SCREENSHOT_DIR=docs/screenshots $(BIN)/pytest -q tests/browser

# Every benchmark of benchmarks/ (about 12 minutes on 2 cores); BENCH_QUICK=1 for a smoke run,
# BENCH_DATABASE_URL=postgresql+psycopg://…/bench_x to add PostgreSQL (that database is wiped).
bench: $(VENV)/.dev translations
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache $(COMPILED)

# Every user-facing string, for translators (Bahasa Indonesia is the source language): extract
# messages.pot from the code, then bring both catalogues up to date with it. New or changed
# English entries come out empty or fuzzy until translated, and tests/test_i18n.py fails until then.
# Keep the keywords in step with tests/test_i18n.py.
messages: $(VENV)/.runtime
	$(BIN)/pybabel extract -F babel.cfg -k _l -k N_ --add-location=file --sort-output \
		--project="Portal Cek Bansos" -o messages.pot .
	$(BIN)/pybabel update -i messages.pot -d $(TRANSLATIONS) -l id --no-fuzzy-matching --ignore-obsolete \
		--ignore-pot-creation-date
	$(BIN)/pybabel update -i messages.pot -d $(TRANSLATIONS) -l en --ignore-obsolete --ignore-pot-creation-date
