# Keel: `make run` serves the portal with demo data; `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := wsgi

.PHONY: run test venv test-deps migrate seed scheduler bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed-run: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-test: requirements.txt requirements-test.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-test.txt
	touch $@ $(VENV)/.installed-run

venv: $(VENV)/.installed-run

migrate: venv
	@mkdir -p instance
	$(BIN)/flask db upgrade

seed: migrate
	$(BIN)/flask seed-demo --if-empty

run: seed
	@$(BIN)/flask demo-logins
	@echo "Keel is at http://127.0.0.1:$(PORT)"
	KEEL_SCHEDULER=1 $(BIN)/flask run --host 127.0.0.1 --port $(PORT) --no-reload --with-threads

scheduler: migrate
	$(BIN)/flask scheduler

test-deps: $(VENV)/.installed-test
	@scripts/install_test_system_packages.sh

test: test-deps
	@scripts/run_tests.sh

bench: $(VENV)/.installed-test
	for b in bench/[a-z]*.py; do $(BIN)/python -m bench.$$(basename $$b .py) || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
