#!/usr/bin/env bash
# Until the first release there is one migration: regenerate it from the models.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
rm -f alembic/versions/*_initial_schema.py
DEMO_MODE=1 .venv/bin/alembic -x url="sqlite:///$tmp/gen.db" revision --autogenerate \
  --rev-id 0001 -m "initial schema" >/dev/null
f=$(ls alembic/versions/*_initial_schema.py)
# Dated file names: keep the name stable across regenerations.
[ "$f" = alembic/versions/2026-11-24_initial_schema.py ] || mv "$f" alembic/versions/2026-11-24_initial_schema.py
.venv/bin/ruff format -q alembic/versions/ && .venv/bin/ruff check -q --fix alembic/versions/ || true
rm -rf "$tmp"
echo "regenerated alembic/versions/2026-11-24_initial_schema.py"
