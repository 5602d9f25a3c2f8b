"""Schemathesis over the whole OpenAPI, a few cases per operation: no request may get a 5xx.

The short, fixed-seed version of bench/fuzz_api.py (same core, `run_fuzz`): a small demo company is
seeded into the test's transaction; every operation gets FUZZ_COVERAGE of schemathesis' boundary
cases and FUZZ_EXAMPLES generated ones (half valid, half invalid) as the five roles, with ids drawn
from the seeded rows, and the inferred links run as a short state machine. On SQLite by default,
on PostgreSQL with TEST_DATABASE_URL (where int4 overflows and NUL bytes fail for real).
`FUZZ_EXAMPLES=50 FUZZ_COVERAGE=100 pytest tests/platform/test_fuzz_api.py` goes deeper; the bench
script starts from a fresh database with real sign-ins.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import models as m
from app.platform.auth import issue_token
from app.platform.config import get_settings
from app.seed.generate import seed

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
COVERAGE = int(os.environ.get("FUZZ_COVERAGE", "2"))  # boundary cases per operation, evenly spread


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_api", ROOT / "bench" / "fuzz_api.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def demo_company(db: Session) -> list[int]:
    """The seeded demo company (with its users); the ids that path parameters are drawn from."""
    seed(db, customers=4, seed=5, now=datetime(2026, 3, 2, 9, 0, tzinfo=UTC), demo_users=True)
    db.commit()
    ids: set[int] = set()
    for model in (m.Ticket, m.WorkOrder, m.Engineer, m.Account, m.Part, m.Team, m.Warehouse):
        ids.update(db.scalars(select(model.id).order_by(model.id).limit(6)))
    return sorted(ids)


def test_no_server_error_anywhere(
    client: TestClient, db: Session, demo_company: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    fuzz = _bench()
    monkeypatch.setattr(get_settings(), "inbound_email_token", fuzz.RELAY_TOKEN)
    users = {u.role: u for u in db.scalars(select(m.User).order_by(m.User.id))}

    def login(role: str) -> str:
        return issue_token(users[role])

    report = fuzz.run_fuzz(
        client.app,
        login,
        examples=EXAMPLES,
        coverage=COVERAGE,
        seed=0,
        stateful_steps=5,
        known_ids=demo_company,
    )
    operations = len(client.app.openapi()["paths"])
    tried = {label.split(" ")[1] for label in report.calls if not label.endswith("(linked)")}
    assert len(tried) == operations  # every path was tried
    assert any(label.endswith("(linked)") for label in report.calls)
    assert report.links > 0 and report.stateful_steps > 0
    statuses = {code for c in report.statuses.values() for code in c}
    assert {200, 404, 422} <= statuses  # cases reached the endpoints, not only the guards
    errors = "\n\n".join(
        f"{f.operation} → {f.status}\n{f.request}\n{f.detail[-1200:]}" for f in report.server_errors
    )
    assert not report.server_errors, errors
