# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.run-stamp
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8080
# Test processes: most integration tests wait on servers, workers and receivers, so two
# processes halve the suite's time on two cores. `make test TEST_PROCESSES=0` runs it in one.
TEST_PROCESSES ?= 2

.PHONY: python-version install run test unit lint bench bench-query bench-export bench-verify bench-ratelimit bench-tenants bench-streams bench-alerts bench-transparency bench-receipts bench-client bench-viewer bench-deletion bench-retention bench-rotation bench-witnesses bench-chain-checks bench-soak bench-commands clean

# Python 3.11 or newer, or a clear word before anything is made (Ubuntu 22.04's python3
# is 3.10); a .venv an older Python left is made again.
NEEDS_PYTHON := import sys; sys.exit(0 if sys.version_info >= (3, 11) else f"Auditrail needs Python 3.11 or newer, and {sys.executable} is {sys.version.split()[0]}: install a newer one, then run for example: make run PYTHON=python3.11")

python-version:
	@$(PYTHON) -c '$(NEEDS_PYTHON)'
	@if [ -e $(BIN)/python ] && ! $(BIN)/python -c '$(NEEDS_PYTHON)' 2>/dev/null; then \
	  echo "$(VENV) was made by an older Python: making it again"; rm -rf $(VENV); fi

# What running needs: the service and its dependencies, nothing else.
$(RUN_STAMP): pyproject.toml | python-version
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

# What testing adds: the test and lint tools, and the Python client (tested against us).
$(STAMP): $(RUN_STAMP) clients/python/pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e clients/python
	touch $(STAMP)

install: $(STAMP)

## Run the service: embedded SQLite under ./var and an in-process worker.
run: $(RUN_STAMP)
	$(BIN)/auditrail serve --host $(HOST) --port $(PORT)

## Run every test (PostgreSQL/Redis tests skip with a reason when those are unreachable).
test: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_PROCESSES)

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	cd clients/python && ../../$(BIN)/mypy

## Benchmarks against PostgreSQL + Redis; see README "Performance".
bench: $(STAMP)
	$(BIN)/python bench/ingest.py

bench-query: $(STAMP)
	$(BIN)/python bench/query.py

bench-export: $(STAMP)
	$(BIN)/python bench/export.py

bench-verify: $(STAMP)
	$(BIN)/python bench/verify.py

bench-ratelimit: $(STAMP)
	$(BIN)/python bench/ratelimit.py

bench-tenants: $(STAMP)
	$(BIN)/python bench/tenants.py

bench-streams: $(STAMP)
	$(BIN)/python bench/streams.py

bench-alerts: $(STAMP)
	$(BIN)/python bench/alerts.py

bench-transparency: $(STAMP)
	$(BIN)/python bench/transparency.py

bench-receipts: $(STAMP)
	$(BIN)/python bench/receipts.py

bench-client: $(STAMP)
	$(BIN)/python bench/client.py

bench-viewer: $(STAMP)
	$(BIN)/python bench/viewer.py

bench-deletion: $(STAMP)
	$(BIN)/python bench/deletion.py

bench-retention: $(STAMP)
	$(BIN)/python bench/retention.py

bench-rotation: $(STAMP)
	$(BIN)/python bench/rotation.py

bench-witnesses: $(STAMP)
	$(BIN)/python bench/witnesses.py

bench-chain-checks: $(STAMP)
	$(BIN)/python bench/chain_checks.py

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache

bench-soak: $(STAMP)
	$(BIN)/python bench/soak.py

bench-commands: $(STAMP)
	$(BIN)/python bench/commands.py
