# dify-mock: `make run` starts the mock, `make test` runs every check. Both set themselves up.
SHELL := /bin/bash
VENV := .venv
SDK_VENV := .venv-sdk
PY := $(VENV)/bin/python
# Python 3.12: the plugin SDK requires it. Override with `make PYTHON=/path/to/python3.12`.
PYTHON ?= $(shell for p in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' 2>/dev/null; then command -v $$p; break; fi; done)

.PHONY: run test lint typecheck unit bench setup clean compat compat-venvs official-agent official-sweep dist docs conformance conformance-official

# Environments are made with uv, from uv.lock. uv on PATH is used; otherwise it is installed once into .uv/ (a small
# venv of its own, from the package index). `make UV=/path/to/uv` picks another.
UV ?= $(shell command -v uv 2>/dev/null || echo .uv/bin/uv)
export UV_PYTHON_DOWNLOADS := never
# Installed libraries are compiled once: where PYTHONDONTWRITEBYTECODE is set (CI), every process would compile what
# it imports again (`import dify_plugin` takes 2.6 s instead of 1.0 s, and every test starts plugins and mocks).
export UV_COMPILE_BYTECODE := 1
NO_PYTHON := echo "Python 3.12 not found: install it or run make PYTHON=/path/to/python3.12"; exit 1

.uv/bin/uv:
	@test -n "$(PYTHON)" || { $(NO_PYTHON); }
	$(PYTHON) -m venv .uv
	.uv/bin/python -m pip install -q 'uv>=0.5,<1'

# `make run`: only what `serve` needs (--inexact keeps the dev tools a `make test` installed).
$(VENV)/.installed-run: pyproject.toml uv.lock | $(UV)
	@test -n "$(PYTHON)" || { $(NO_PYTHON); }
	$(UV) sync -q --frozen --no-dev --inexact --python $(PYTHON)
	$(VENV)/bin/python -m compileall -q server/dify_mock
	touch $@

# `make test` and the other checks: the dev group too. --locked: a pyproject.toml changed without `uv lock` stops here.
$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	@test -n "$(PYTHON)" || { $(NO_PYTHON); }
	$(UV) sync -q --locked --python $(PYTHON)
	$(VENV)/bin/python -m compileall -q server/dify_mock
	touch $@ $(VENV)/.installed-run

$(SDK_VENV)/.installed: tests/plugins/requirements.txt | $(UV)
	@test -n "$(PYTHON)" || { $(NO_PYTHON); }
	$(UV) venv -q --allow-existing --python $(PYTHON) $(SDK_VENV)
	$(UV) pip install -q --python $(SDK_VENV)/bin/python -r tests/plugins/requirements.txt
	touch $@

setup: $(VENV)/.installed $(SDK_VENV)/.installed

# The compatibility matrix: one dify-plugin release per line on PyPI, each in .venv-compat/<release>/ (a release
# that .venv-sdk already has is run from there). 0.0.1b72 stands for the betas: 0.0.1b77 is byte-identical to 0.1.0.
COMPAT_RELEASES ?= 0.0.1b72 0.1.0 0.2.4 0.3.5 0.4.5 0.5.1 0.6.2 0.7.4 0.8.0 0.9.1 0.10.2
# `make test` runs the oldest and the newest (tests/compat/test_sdk_releases.py's default).
COMPAT_CI_RELEASES := 0.0.1b72 0.10.2

.venv-compat/%/.installed: | $(SDK_VENV)/.installed $(UV)
	@test -n "$(PYTHON)" || { $(NO_PYTHON); }
	@if ls -d $(SDK_VENV)/lib/python3.*/site-packages/dify_plugin-$*.dist-info >/dev/null 2>&1; then \
		mkdir -p $(@D); echo "dify-plugin $* runs from $(SDK_VENV)"; \
	else \
		$(UV) venv -q --allow-existing --python $(PYTHON) $(@D) && $(UV) pip install -q --python $(@D)/bin/python dify-plugin==$*; \
	fi
	touch $@

compat-venvs: $(foreach release,$(COMPAT_RELEASES),.venv-compat/$(release)/.installed)

compat: setup compat-venvs
	DIFY_MOCK_COMPAT_RELEASES="$(COMPAT_RELEASES)" DIFY_MOCK_PLUGIN_PYTHON=$(CURDIR)/$(SDK_VENV)/bin/python \
		$(VENV)/bin/pytest -q tests/compat --durations=15

run: $(VENV)/.installed-run
	$(VENV)/bin/dify-mock serve $(ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check server tests bench
	$(VENV)/bin/ruff format --check server tests bench
	$(VENV)/bin/lint-imports --no-cache

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

# The tests mostly wait on plugin processes and sockets: two workers per core keep a 2-core CI machine busy.
TEST_WORKERS ?= 4
unit: setup $(foreach release,$(COMPAT_CI_RELEASES),.venv-compat/$(release)/.installed)
	DIFY_MOCK_PLUGIN_PYTHON=$(CURDIR)/$(SDK_VENV)/bin/python $(VENV)/bin/pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=10

test: lint typecheck docs unit

# The docs/ site, with README.md as its home page (mkdocs.yml). --strict: a broken link or a page left out fails.
docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# Every section; the inner API's is followed by where its time goes (py-spy). `make bench BENCH_ARGS="--only startup"`.
BENCH_ARGS ?= --inner-api-profile 5
bench: setup
	DIFY_MOCK_PLUGIN_PYTHON=$(CURDIR)/$(SDK_VENV)/bin/python $(PY) -m bench $(BENCH_ARGS)

# The official agent strategies (dify-official-plugins/agent-strategies/cot_agent) scripted by
# tests/fixtures/official_agent.yaml. It fetches nothing: OFFICIAL is a checkout you made, e.g.
#   git clone https://github.com/langgenius/dify-official-plugins && make official-agent OFFICIAL=dify-official-plugins
# The report, with the checkout's commit and the SDK's version, goes to docs/reports/official-agent-strategies.txt.
OFFICIAL_PYTHON ?= $(CURDIR)/$(SDK_VENV)/bin/python
OFFICIAL_AGENT_REPORT := docs/reports/official-agent-strategies.txt
official-agent: setup
	@test -n "$(OFFICIAL)" || { echo "usage: make official-agent OFFICIAL=/path/to/dify-official-plugins (a checkout; nothing is fetched)"; exit 2; }
	@test -f "$(OFFICIAL)/agent-strategies/cot_agent/manifest.yaml" || { echo "$(OFFICIAL)/agent-strategies/cot_agent/manifest.yaml: not found; OFFICIAL must be a dify-official-plugins checkout"; exit 2; }
	@mkdir -p $(dir $(OFFICIAL_AGENT_REPORT))
	@{ echo "# make official-agent OFFICIAL=$(OFFICIAL)"; \
	   echo "date: $$(date -u +%Y-%m-%dT%H:%M:%SZ)"; \
	   echo "dify-official-plugins: $$(git -C '$(OFFICIAL)' log -1 --format='%H (%cs)' 2>/dev/null || echo 'not a git checkout')"; \
	   echo "cot_agent: $$(grep -m1 '^version:' '$(OFFICIAL)/agent-strategies/cot_agent/manifest.yaml')"; \
	   echo "dify-plugin: $$($(OFFICIAL_PYTHON) -c 'import importlib.metadata as m; print(m.version("dify-plugin"))')"; \
	   echo "dify-mock: $(shell git describe --always --dirty 2>/dev/null || echo unknown)"; echo; } > $(OFFICIAL_AGENT_REPORT)
	set -o pipefail; DIFY_MOCK_OFFICIAL_AGENT_PLUGIN=$(abspath $(OFFICIAL))/agent-strategies/cot_agent \
		DIFY_MOCK_OFFICIAL_AGENT_PYTHON=$(OFFICIAL_PYTHON) DIFY_MOCK_PLUGIN_PYTHON=$(CURDIR)/$(SDK_VENV)/bin/python \
		$(VENV)/bin/pytest -v -p no:cacheprovider tests/official/test_agent_strategies.py 2>&1 | tee -a $(OFFICIAL_AGENT_REPORT)
	DIFY_MOCK_OFFICIAL_AGENT_PLUGIN=$(abspath $(OFFICIAL))/agent-strategies/cot_agent DIFY_MOCK_PLUGIN_PYTHON=$(OFFICIAL_PYTHON) \
		$(VENV)/bin/pytest -q -p no:cacheprovider tests/test_docs_examples.py -k official_agent

# `dify-mock check` over every plugin of a dify-official-plugins checkout (OFFICIAL, as for official-agent; nothing is
# fetched): docs/official-plugins.md. Environments are cached under ~/.cache/dify-mock; SWEEP_JOBS plugins at a time.
SWEEP_JOBS ?= 3
official-sweep: $(VENV)/.installed
	@test -n "$(OFFICIAL)" || { echo "usage: make official-sweep OFFICIAL=/path/to/dify-official-plugins (a checkout; nothing is fetched)"; exit 2; }
	$(PY) -m bench.official_sweep $(OFFICIAL) --jobs $(SWEEP_JOBS)

# The conformance suite against the real dify-plugin-daemon (tests/conformance); it writes docs/conformance.md.
# DIFY_DAEMON_CTL is the path of the daemon's daemonctl, e.g. make conformance DIFY_DAEMON_CTL=../shared/tools/daemon/daemonctl
# (`make test` runs the same suite whenever DIFY_DAEMON_CTL is set, without writing the page).
conformance: setup
	@test -n "$(DIFY_DAEMON_CTL)" || { echo "usage: make conformance DIFY_DAEMON_CTL=/path/to/daemonctl (the real daemon's)"; exit 2; }
	DIFY_DAEMON_CTL=$(abspath $(DIFY_DAEMON_CTL)) DIFY_CONFORMANCE_REPORT=$(CURDIR)/docs/conformance.md DIFY_CONFORMANCE_CORPUS=all \
		DIFY_MOCK_PLUGIN_PYTHON=$(CURDIR)/$(SDK_VENV)/bin/python $(VENV)/bin/pytest -q -p no:cacheprovider tests/conformance

# Package verdicts against the real CLI and daemon (docs/conformance.md, its package section): every plugin of a
# dify-official-plugins checkout (OFFICIAL; nothing is fetched) packaged by the real `dify plugin package`, uploaded to
# and installed in the real daemon (CONFORMANCE_CTL, default DIFY_DAEMON_CTL), and checked by `dify-mock check`. Installing makes an environment
# per plugin, so start-up runs until CONFORMANCE_UNTIL (HH:MM UTC, default: no limit) with CONFORMANCE_JOBS at a time;
# a later run resumes where the results file stops.
CONFORMANCE_CTL ?= $(or $(DIFY_DAEMON_CTL),../shared/tools/daemon/daemonctl)
CONFORMANCE_STATE ?= /var/tmp/dify-mock-conformance-official
CONFORMANCE_JOBS ?= 1
CONFORMANCE_UNTIL ?=
CONFORMANCE_RESULTS := docs/reports/conformance-official.jsonl
conformance-official: $(VENV)/.installed
	@test -n "$(OFFICIAL)" || { echo "usage: make conformance-official OFFICIAL=/path/to/dify-official-plugins (a checkout; nothing is fetched)"; exit 2; }
	@test -x "$(CONFORMANCE_CTL)" || { echo "CONFORMANCE_CTL=$(CONFORMANCE_CTL): not the daemon's daemonctl"; exit 2; }
	$(CONFORMANCE_CTL) up --inner-api-url http://127.0.0.1:9 --state $(CONFORMANCE_STATE) >/dev/null
	@mkdir -p $(dir $(CONFORMANCE_RESULTS))
	DIFY_DAEMON_CTL=$(abspath $(CONFORMANCE_CTL)) UV_PATH=$(CURDIR)/$(VENV)/bin/uv $(PY) tests/conformance/packages/official.py \
		$(OFFICIAL) --state $(CONFORMANCE_STATE) --out $(CONFORMANCE_RESULTS) --start --jobs $(CONFORMANCE_JOBS) \
		$(if $(CONFORMANCE_UNTIL),--until $(CONFORMANCE_UNTIL)); status=$$?; \
		$(CONFORMANCE_CTL) down --state $(CONFORMANCE_STATE); exit $$status
	$(PY) tests/conformance/packages/agreement_page.py docs/conformance.md --official $(CONFORMANCE_RESULTS)

# A wheel in dist/ (docs/install.md: how a plugin project installs it).
dist: | $(UV)
	@test -n "$(PYTHON)" || { $(NO_PYTHON); }
	$(UV) build -q --wheel --out-dir dist --python $(PYTHON)
	@ls dist/*.whl

clean:
	rm -rf dist $(VENV) $(SDK_VENV) .venv-compat .uv .dify-mock .pytest_cache .mypy_cache .ruff_cache

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
