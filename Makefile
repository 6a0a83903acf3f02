# Every target installs what it needs: the venv, the Python packages, Debian's chromium and nginx for e2e,
# and Debian's nodejs and npm for the JavaScript client's tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST := $(BIN)/python -m pytest
# Integration and e2e tests wait on I/O: they run side by side in XDIST processes, then the few
# that measure time, memory or load (marked `serial`) run alone.
XDIST  ?= 4
PARALLEL := $(PYTEST) -n $(XDIST) -m "not serial"
SERIAL   := scripts/serial-tests.sh $(PYTEST) -m serial

.PHONY: run test lint unit integration e2e bench venv chromium nginx node lock clean

run: $(STAMP)
	$(BIN)/codestory-progress demo

test: lint unit integration e2e

# The distributions of this repository, editable: the worker SDK and the client, then the gateway
# (which depends on both).
WORKER_SDK := packages/worker
CLIENT := packages/client

$(STAMP): pyproject.toml requirements.lock $(WORKER_SDK)/pyproject.toml $(CLIENT)/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e $(WORKER_SDK)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e '$(CLIENT)[watch]'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

chromium:
	scripts/ensure-chromium.sh

nginx:
	scripts/ensure-nginx.sh

node:
	scripts/ensure-node.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests testkit bench packages
	$(BIN)/ruff format --check src tests testkit bench packages
	$(BIN)/mypy

unit: $(STAMP) node
	$(PYTEST) tests/unit

integration: $(STAMP)
	$(PARALLEL) tests/integration
	$(SERIAL) tests/integration

e2e: $(STAMP) chromium nginx node
	$(PARALLEL) tests/e2e
	$(SERIAL) tests/e2e

bench: $(STAMP)
	$(BIN)/python -m bench

# Regenerate the pinned versions from the ranges in pyproject.toml.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --disable-pip-version-check -e $(WORKER_SDK) -e '$(CLIENT)[watch]'
	.lock-venv/bin/pip install --quiet --disable-pip-version-check -e '.[dev]'
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^-e ' > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache artifacts
