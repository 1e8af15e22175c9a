# entryway: `make run` starts the platform (embedded default), `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
SIM_DEVICES ?= 6
export DJANGO_SETTINGS_MODULE ?= config.settings.local

.PHONY: run install test test-fast screenshots migrate demo messages bench lint clean

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed messages

messages: $(VENV)/.installed
	@$(PY) scripts/compile_messages.py

migrate: install
	$(PY) manage.py migrate --noinput -v 0

demo: migrate
	$(PY) manage.py seed_demo

run: demo
	$(PY) manage.py collectstatic --noinput -v 0
	@bash scripts/run-embedded.sh "$(HOST)" "$(PORT)" "$(SIM_DEVICES)"

test: install
	DJANGO_SETTINGS_MODULE=config.settings.test $(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: install
	DJANGO_SETTINGS_MODULE=config.settings.test $(VENV)/bin/pytest -m "not browser and not e2e" -x -q $(PYTEST_ARGS)

# The user guide's pictures (docs/user-guide/img), taken again by the browser tests.
screenshots: install
	GUIDE_SCREENSHOTS=1 DJANGO_SETTINGS_MODULE=config.settings.test $(VENV)/bin/pytest -q entryway/web/tests/test_browser.py $(PYTEST_ARGS)

bench: install
	$(PY) -m bench.run_all

lint: install
	$(VENV)/bin/ruff check entryway config bench

clean:
	rm -rf var/ $(VENV) .pytest_cache
