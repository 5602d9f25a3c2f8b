"""The 360° API answers byte-for-byte what it answered before the view was split into typed steps.

`customer_360_golden.json` was recorded from the dict-building version of app.desk.customers.view360
on main (6449b9a, with the survey answers, recoveries and the surveys library's health score, before
the typed steps were merged in), for the busiest customer of a seeded demo company on a fixed day;
re-recorded on 2026-12-07 when the seed began choosing survey tiers and templates with live
capture's rule (only `satisfaction` and the health score built on it changed: other answers);
on 2026-12-08 `account.language` was added (the seed writes most Munich accounts German; this
one is "de"): that key only, every other value is as recorded.
Row ids depend on the database's sequences (PostgreSQL does not roll them back), so ids and the
numbers made from them are replaced by their rank before comparing; everything else — names,
dates, statuses, amounts, health, entitlement, answers, list order — must match exactly.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import models as m
from app.desk.customers import view360
from app.seed.generate import seed

GOLDEN = Path(__file__).with_name("customer_360_golden.json")
NOW = datetime(2025, 6, 3, 9, 30, tzinfo=UTC)  # a Tuesday morning, as in tests/seed


def _is_id(key: str, value: Any) -> bool:
    return (key == "id" or key.endswith("_id")) and isinstance(value, int)


def _normalised(body: Any) -> Any:
    """Ids, and the numbers made from them (T-0000042), become ranks: the same order, any offset.

    An id is ranked among the values at the same place (e.g. `assets.contract_id`); a number among
    the numbers with the same prefix, and replaced wherever it is quoted (health reasons)."""
    ids: dict[str, set[int]] = {}
    numbers: set[str] = set()

    def collect(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if _is_id(k, v):
                    ids.setdefault(f"{path}.{k}", set()).add(v)
                elif k == "number" and isinstance(v, str):
                    numbers.add(v)
                collect(v, f"{path}.{k}")
        elif isinstance(node, list):
            for v in node:
                collect(v, path)

    collect(body, "")
    prefix = lambda n: n.rstrip("0123456789")  # noqa: E731
    renamed = {
        n: f"{prefix(n)}#{sorted(x for x in numbers if prefix(x) == prefix(n)).index(n)}" for n in numbers
    }

    def rename(text: str) -> str:
        for old in sorted(renamed, key=len, reverse=True):
            text = text.replace(old, renamed[old])
        return text

    def rank(node: Any, path: str) -> Any:
        if isinstance(node, dict):
            return {
                k: sorted(ids[f"{path}.{k}"]).index(v) if _is_id(k, v) else rank(v, f"{path}.{k}")
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [rank(v, path) for v in node]
        return rename(node) if isinstance(node, str) else node

    return rank(body, "")


def test_360_json_is_unchanged_for_a_seeded_customer(
    db: Session, client: TestClient, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(db, customers=20, seed=7, now=NOW, demo_users=False)
    db.commit()
    # the busiest account: most tickets, then most work orders (ties by external id)
    busiest = db.execute(
        select(m.Account.id)
        .outerjoin(m.Ticket, m.Ticket.account_id == m.Account.id)
        .group_by(m.Account.id, m.Account.external_id)
        .order_by(func.count(m.Ticket.id).desc(), m.Account.external_id)
        .limit(1)
    ).scalar_one()
    monkeypatch.setattr(view360, "local_today", lambda: NOW.date())
    monkeypatch.setattr(view360, "utcnow", lambda: NOW)

    r = client.get(f"/api/v1/customers/{busiest}/360", headers=login("agent"))

    assert r.status_code == 200, r.text
    body = _normalised(r.json())
    # a customer with something in every list, so that no part of the answer goes unchecked
    for key in ("contacts", "sites", "contracts", "assets", "open_tickets", "recent_tickets", "satisfaction"):
        assert body[key], key
    assert body["upcoming_visits"] or body["recent_visits"]
    assert body == json.loads(GOLDEN.read_text())
