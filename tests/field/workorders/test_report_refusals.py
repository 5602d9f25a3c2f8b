"""The service report through the API: a report of invisible characters is no report (422, the
visit stays on site, the ticket open), and a second report names when and by whom the first was
filed, booking nothing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Ticket, WorkOrder
from tests.field.workorders.world import on_site, report, van_level


def test_a_report_of_invisible_characters_is_refused(client: TestClient, db: Session, world: Any) -> None:
    w = world
    wo = on_site(client, w)
    for blank in ("  \u200b ", "\u200b\u200b", "\ufeff\u2060"):
        r = report(client, w, wo["id"], blank)
        assert r.status_code == 422, blank
        assert r.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in r.json()["errors"]] == ["work_done"], blank
    db.expire_all()
    assert db.get_one(WorkOrder, wo["id"]).status == "on_site"
    assert db.get_one(Ticket, w["ticket"].id).status == "in_progress"


def test_a_second_report_says_when_and_by_whom_the_first_was_filed(
    client: TestClient, db: Session, world: Any
) -> None:
    w = world
    wo = on_site(client, w)
    assert report(client, w, wo["id"], "Replaced the fan relay.", fixed=False).status_code == 200
    db.expire_all()
    before = van_level(db, w).quantity

    mine = report(client, w, wo["id"], "Another text", parts=[{"part_id": w["part"].id, "quantity": 1}])
    theirs = report(client, w, wo["id"], "Another text", h=w["dispatch"])

    assert mine.status_code == theirs.status_code == 409
    hint = mine.json()["hint"]
    assert hint.startswith("This visit is already finished: its report was filed on ")
    assert hint.endswith(" by you, and it needs a follow-up visit.")
    assert (
        mine.json()["detail"].startswith(hint) and "already has its service report" in mine.json()["detail"]
    )
    assert theirs.json()["hint"].endswith(f" by {w['eng_user'].name}, and it needs a follow-up visit.")
    db.expire_all()
    assert van_level(db, w).quantity == before
    assert db.get_one(WorkOrder, wo["id"]).report_work_done == "Replaced the fan relay."
