# Every target bootstraps its own virtualenv from pyproject.toml on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
RUNTIME := $(VENV)/.runtime
SOURCE ?=
ARGS   ?=
JOBS   ?= auto

.PHONY: help test migrate validate sandbox bench lint clean screenshots

help:
	@echo "make migrate SOURCE=<file>   migrate an export (into the embedded sandbox unless BME_API_KEY is set)"
	@echo "make validate SOURCE=<file>  dry-run validation report, no API request"
	@echo "make test                    run the test suite"
	@echo "make sandbox                 run the local Benchmark-compatible server"
	@echo "make bench                   print throughput and request-count figures"
	@echo "make lint                    ruff + mypy"
	@echo "make screenshots             PNGs of each sample's migrate report into docs/screenshots/ (needs chromium)"

# Two stamps: `make migrate` needs only the runtime dependencies; tests, lint and bench add the dev tools.
$(RUNTIME): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $(RUNTIME)

$(STAMP): $(RUNTIME)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

# one test worker per core (JOBS=0: in this process, one at a time — for a debugger or -x)
test: $(STAMP)
	$(BIN)/python -m pytest -n $(JOBS) --dist worksteal $(ARGS)

migrate: $(RUNTIME)
	@test -n "$(SOURCE)" || { echo "usage: make migrate SOURCE=<export file>"; exit 2; }
	$(BIN)/bme-migrate migrate $(SOURCE) $(ARGS)

validate: $(RUNTIME)
	@test -n "$(SOURCE)" || { echo "usage: make validate SOURCE=<export file>"; exit 2; }
	$(BIN)/bme-migrate validate $(SOURCE) $(ARGS)

sandbox: $(RUNTIME)
	$(BIN)/bme-migrate sandbox $(ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff format --check etl tests bench
	$(BIN)/ruff check etl tests bench
	$(BIN)/mypy etl

clean:
	rm -rf $(VENV) .etl .pytest_cache .mypy_cache .ruff_cache

screenshots: $(STAMP)
	$(BIN)/python -m tests.e2e.screenshots
