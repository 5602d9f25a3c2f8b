"""How the board's data is built and sent (docs/board.md "Speed"): the plan's stops are read as
plain rows, not as objects (at 1 000 stops the objects, kept to the end of the build, set off a full
garbage collection every second or third request: the p95 at twice the p50), and the JSON is
encoded once, its hash the ETag (it was encoded sorted for the tag, then again for the body)."""

from __future__ import annotations

import collections
import hashlib
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.models import PlanStop, Site, User, Warehouse, WorkOrder
from app.planning import board as plan_board
from tests.web.test_board_pages import _planned_world


def test_the_plans_stops_are_read_as_rows_not_objects(
    client: TestClient, db: Session, login: Any, sign_in: Callable[..., User]
) -> None:
    w, day = _planned_world(client, db, login("dispatcher"))
    region_id = w.region.id
    db.expunge_all()  # nothing already in the session: every object the build needs is loaded
    loaded: collections.Counter[str] = collections.Counter()

    def count(target: Any, _: Any) -> None:
        loaded[type(target).__name__] += 1

    kinds = (PlanStop, WorkOrder, Site, Warehouse)
    for kind in kinds:
        event.listen(kind, "load", count)
    try:
        data = plan_board.board(db, region_id=region_id, day=day)
    finally:
        for kind in kinds:
            event.remove(kind, "load", count)
    on_rows = [s for e in data["engineers"] for s in e["stops"] if s.get("work_order_id")]
    assert len(on_rows) == 4 and data["unassigned"]  # the plan's visits, and the one left out
    assert loaded["PlanStop"] == 0
    # only the unassigned visits (and their sites) are objects; none of those on the rows
    assert loaded["WorkOrder"] == loaded["Site"] == len(data["unassigned"])


def test_the_etag_is_the_hash_of_the_body_sent_and_the_pages_own(
    client: TestClient, db: Session, login: Any, sign_in: Callable[..., User]
) -> None:
    w, day = _planned_world(client, db, login("dispatcher"))
    sign_in("dispatcher")
    params = {"region": w.region.id, "day": day.isoformat()}
    r = client.get("/board/data", params=params)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    etag = r.headers["ETag"]
    assert etag == f'"{hashlib.sha256(r.content).hexdigest()[:32]}"'
    assert r.json()["engineers"] and r.json()["unassigned"]
    assert f"data-etag={etag}" in client.get("/board", params=params).text  # the page polls with it
    again = client.get("/board/data", params=params, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["ETag"] == etag and not again.content
