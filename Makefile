# Two set-up commands: `make run` (demo company on http://127.0.0.1:8000) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint bench-api bench-overload bench-dispatch bench-smoke faults faults-smoke fuzz clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# The route map's library (Leaflet) comes from npm through package.json. Without npm the pages
# still work: the route is drawn as a plain sketch instead of a map.
node_modules/.package-lock.json: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the engineer's route map falls back to a plain sketch"; fi

install: $(STAMP) node_modules/.package-lock.json

run: install
	DEMO_MODE=$${DEMO_MODE:-1} $(BIN)/fieldline migrate
	DEMO_MODE=$${DEMO_MODE:-1} $(BIN)/fieldline seed --if-empty
	DEMO_MODE=$${DEMO_MODE:-1} $(BIN)/fieldline serve

# One test process per core (pytest-xdist; each has its own database, tests/xdist.py); a module's
# tests stay in one process so its expensive fixtures (a browser, a real worker) start once.
TEST_JOBS ?= auto
test: install
	$(BIN)/pytest -n $(TEST_JOBS) --dist loadfile $(PYTEST_ARGS)

# Style, types ([tool.mypy]), then the import rules of [tool.importlinter] (docs/architecture.md).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench-install: $(STAMP)
	$(BIN)/pip install -q -e '.[dev,bench]'

# Open-loop API load test against a seeded PostgreSQL database (see bench/README.md).
bench-api: $(STAMP)
	$(BIN)/python bench/api_load.py $(BENCH_ARGS)

# Fault suite (bench/faults.py): Redis stopped, a worker killed -9, a webhook receiver down,
# PostgreSQL cut through a proxy — each under load, each ending with an audit. Needs PostgreSQL on
# 127.0.0.1:5432 and redis-server on the PATH (it starts its own on port 6390).
faults: $(STAMP)
	$(BIN)/python bench/faults.py $(FAULTS_ARGS)

faults-smoke: $(STAMP)
	$(BIN)/python bench/faults.py --smoke $(FAULTS_ARGS)

# The overload curve: 0.5-2.5 x the sustainable rate, goodput and 503s (see bench/README.md).
bench-overload: $(STAMP)
	$(BIN)/python bench/overload.py $(BENCH_ARGS)

# Every script in bench/ at its smallest size, 3 at a time: does it still run? (bench/README.md, "Smoke").
# PostgreSQL on 127.0.0.1:5432 (throw-away databases fl_smoke_*) and Redis on 127.0.0.1:6379 db 14.
bench-smoke: $(STAMP)
	$(BIN)/python bench/smoke.py $(SMOKE_ARGS)

# Schemathesis over the whole OpenAPI on a fresh database: exit 1 on any 5xx (see bench/README.md).
# SQLite by default; FUZZ_ARGS="--database-url postgresql+psycopg://postgres@127.0.0.1:5432/fl_fuzz".
fuzz: $(STAMP)
	$(BIN)/python bench/fuzz_api.py $(FUZZ_ARGS)

clean:
	rm -rf $(VENV) var
