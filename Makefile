# Two entry points (see README): `make demo` serves the demo web app against the bundled emulator, `make test` runs
# every check CI runs. Both create .venv and install what they need on a fresh machine. `make walkthrough` is the
# older terminal walk-through of the engine; `make demo DEMO_ARGS="--port 0 --no-browser"` passes options.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NODE_DIR := tests/interop/node
BENCH_NODE_DIR := benchmarks/node

.PHONY: demo walkthrough test bench lint typecheck venv node-deps clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@

venv: $(BIN)/.installed

# `make demo` installs only what the demo needs (a first run takes seconds, with pip's progress shown); `make test`
# installs everything (its own stamp), into the same .venv.
$(BIN)/.demo-installed: pyproject.toml
	@echo "== creating .venv and installing the demo's packages (authkit-session[demo])"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --progress-bar on --disable-pip-version-check -e '.[demo]'
	touch $@

$(NODE_DIR)/node_modules/.package-lock.json: $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error

$(BENCH_NODE_DIR)/node_modules/.package-lock.json: $(BENCH_NODE_DIR)/package-lock.json
	cd $(BENCH_NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error

node-deps: $(NODE_DIR)/node_modules/.package-lock.json $(BENCH_NODE_DIR)/node_modules/.package-lock.json

DEMO_ARGS ?=

demo: $(BIN)/.demo-installed
	$(BIN)/python -m examples.demo $(DEMO_ARGS)

walkthrough: venv
	$(BIN)/python -m authkit_core.testing.walkthrough

lint: venv
	$(BIN)/ruff check $(wildcard src tests benchmarks examples)
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

test: venv node-deps lint
	$(BIN)/python tests/run_families.py

clean:
	rm -rf $(VENV) $(NODE_DIR)/node_modules $(BENCH_NODE_DIR)/node_modules

bench: venv node-deps
	$(BIN)/python -m benchmarks.run
