# Two set-up commands: `make run` (demo company on http://127.0.0.1:8000) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint bench-api bench-dispatch clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	DEMO_MODE=$${DEMO_MODE:-1} $(BIN)/fieldline migrate
	DEMO_MODE=$${DEMO_MODE:-1} $(BIN)/fieldline seed --if-empty
	DEMO_MODE=$${DEMO_MODE:-1} $(BIN)/fieldline serve

test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

bench-install: $(STAMP)
	$(BIN)/pip install -q -e '.[dev,bench]'

# Open-loop API load test against a seeded PostgreSQL database (see bench/README.md).
bench-api: $(STAMP)
	$(BIN)/python bench/api_load.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var
