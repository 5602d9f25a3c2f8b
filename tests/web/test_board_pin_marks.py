"""The board marks a visit pinned by hand (who set its time, and when) and its Unpin form lets the
planner choose again. Before, such a visit looked like any other and Unpin only cleared the
published stop's `locked` flag, so the next re-plan still kept it at the time set by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import User
from tests.planning.test_unpin import _pinned_by_hand, _replan_inputs
from tests.web.conftest import csrf_of


def _stop(data: dict[str, Any], wo_id: int) -> dict[str, Any]:
    return next(s for e in data["engineers"] for s in e["stops"] if s.get("work_order_id") == wo_id)


def test_the_board_marks_the_pin_and_its_unpin_form_releases_it(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    w, today, moved, _ = _pinned_by_hand(db)
    version = moved.version
    scheduler = db.get_one(User, w.users[0].id)
    dispatcher = sign_in("dispatcher")
    params = {"region": w.region.id, "day": today.isoformat()}
    stop = _stop(client.get("/board/data", params=params).json(), moved.id)
    assert stop["pinned"] is True
    assert f"scheduled by hand at 18:30 by {scheduler.name}" in stop["pin_note"]
    others = [s for e in client.get("/board/data", params=params).json()["engineers"] for s in e["stops"]]
    assert not any(s["pinned"] for s in others if s.get("work_order_id") not in (None, moved.id))

    page = client.get("/board", params=params)
    form = {"csrf": csrf_of(page.text), "version": str(version - 1), "pinned": "0", "back": "/board"}
    assert client.post(f"/board/visits/{moved.id}/pin", data=form).status_code == 409
    assert _replan_inputs(db, w, today, moved.id)[0]
    done = client.post(
        f"/board/visits/{moved.id}/pin", data={**form, "version": str(version)}, follow_redirects=False
    )
    assert done.status_code == 303 and "done=unpinned" in done.headers["location"]
    stop = _stop(client.get("/board/data", params=params).json(), moved.id)
    assert (stop["pinned"], stop["pin_note"]) == (False, None)
    assert not _replan_inputs(db, w, today, moved.id)[0]
    assert dispatcher.role == "dispatcher"

    for role in ("engineer", "agent"):  # the board's routes are the dispatchers'
        sign_in(role)
        r = client.post(f"/board/visits/{moved.id}/pin", data={**form, "version": str(version + 1)})
        assert r.status_code == 403
