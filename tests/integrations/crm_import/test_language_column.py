"""The customers file's optional `language` column: read on create and update, kept when absent,
a bad value refused by line like every other cell."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Account
from tests import factories as f
from tests.integrations.crm_import.test_import import imported

HEAD = "external_id,name,region_code,language\n"


@pytest.fixture
def manager(login: Any) -> dict[str, str]:
    return login("manager")


@pytest.fixture
def region(db: Session) -> None:
    f.make_region(db, code="IMP-N")
    db.commit()


def _languages(db: Session) -> dict[str, str]:
    db.expire_all()
    return dict(
        db.execute(select(Account.external_id, Account.language).where(Account.external_id.like("L-%"))).all()
    )


def test_the_language_column_is_read_and_checked_by_line(
    client: TestClient,
    db: Session,
    manager: dict[str, str],
    region: None,
) -> None:
    rows = (
        HEAD
        + "L-1,Huber Kälte GmbH,IMP-N,de\n"  # line 2
        + "L-2,Global Foods Ltd,IMP-N,EN\n"  # line 3: case does not matter
        + "L-3,Bäckerei Sonne,IMP-N,\n"  # line 4: blank: English
        + "L-4,Café Paris,IMP-N,fr\n"  # line 5: no French catalogue
    )
    report = imported(client, manager, "customers", rows)
    assert (report["created"], report["failed"]) == (3, 1)
    assert [(e["line"], e["field"], e["message"]) for e in report["errors"]] == [
        (5, "language", "unknown language; use one of en, de")
    ]
    assert _languages(db) == {"L-1": "de", "L-2": "en", "L-3": "en"}

    # re-imported without the column: the languages stay; with it: updated
    assert imported(client, manager, "customers", "external_id,name\nL-1,Huber Kälte GmbH\n")["failed"] == 0
    assert _languages(db)["L-1"] == "de"
    assert imported(client, manager, "customers", HEAD + "L-2,Global Foods Ltd,IMP-N,de\n")["updated"] == 1
    assert _languages(db) == {"L-1": "de", "L-2": "de", "L-3": "en"}
