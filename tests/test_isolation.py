"""Each test's writes are rolled back, even those a request commits (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Region
from tests.factories import make_region


def test_a_commits_a_row(db: Session) -> None:
    make_region(db, code="ISOLATION")
    db.commit()
    assert db.scalar(select(func.count()).where(Region.code == "ISOLATION")) == 1


def test_b_does_not_see_it(db: Session) -> None:
    assert db.scalar(select(func.count()).where(Region.code == "ISOLATION")) == 0
