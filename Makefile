# dify-mock: `make run` starts the mock, `make test` runs every check. Both set themselves up.
SHELL := /bin/bash
VENV := .venv
SDK_VENV := .venv-sdk
PY := $(VENV)/bin/python
# Python 3.12: the plugin SDK requires it. Override with `make PYTHON=/path/to/python3.12`.
PYTHON ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then command -v $$p; break; fi; done)

.PHONY: run test lint typecheck unit bench setup clean

$(VENV)/.installed: pyproject.toml
	@test -n "$(PYTHON)" || { echo "Python 3.12 not found: install it or run make PYTHON=/path/to/python3.12"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

$(SDK_VENV)/.installed: tests/plugins/requirements.txt
	@test -n "$(PYTHON)" || { echo "Python 3.12 not found: install it or run make PYTHON=/path/to/python3.12"; exit 1; }
	$(PYTHON) -m venv $(SDK_VENV)
	$(SDK_VENV)/bin/python -m pip install -q -r tests/plugins/requirements.txt
	touch $@

setup: $(VENV)/.installed $(SDK_VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/dify-mock serve --fixtures fixtures/

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check server tests bench
	$(VENV)/bin/ruff format --check server tests bench

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

unit: setup
	DIFY_MOCK_PLUGIN_PYTHON=$(CURDIR)/$(SDK_VENV)/bin/python $(VENV)/bin/pytest -q

test: lint typecheck unit

bench: setup
	DIFY_MOCK_PLUGIN_PYTHON=$(CURDIR)/$(SDK_VENV)/bin/python $(PY) -m bench

clean:
	rm -rf $(VENV) $(SDK_VENV) .dify-mock .pytest_cache .mypy_cache .ruff_cache

# tests/test_dashboard.py drives Debian's chromium headless; `make test` installs it when it is missing.
.PHONY: browser
browser:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "installing Debian's chromium for the dashboard test (apt-get install -y chromium)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "apt-get is not available: tests/test_dashboard.py will be skipped (install chromium at /usr/bin/chromium)"; \
	fi

unit: browser
