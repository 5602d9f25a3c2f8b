"""Dispatcher QA on the board's edges. A stale Pin/Unpin form (the visit changed since the board
was drawn) answered a 409 page about "the preview" with only a Start-page link: it says what
happened and links back to the same board (region and day). `/board/data` took `region=` and
silently ignored `region_id=`, the name the API gives a region: it takes either (both naming
different regions, or a region_id that is none, is a 422 naming region_id)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import User, WorkOrder
from tests import factories as f
from tests.planning.test_unpin import _pinned_by_hand, _replan_inputs
from tests.web.conftest import csrf_of


def test_a_stale_unpin_form_says_the_visit_changed_and_links_back_to_its_board(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    w, today, moved, _ = _pinned_by_hand(db)
    sign_in("dispatcher")
    board = f"/board?region={w.region.id}&day={today.isoformat()}"
    page = client.get(board)
    form = {"csrf": csrf_of(page.text), "version": str(moved.version - 1), "pinned": "0", "back": board}

    r = client.post(f"/board/visits/{moved.id}/pin", data=form)  # no Referer: the link comes from the form

    assert r.status_code == 409
    text = html.unescape(r.text)
    assert f"{moved.number} changed after the board was drawn" in text and "not unpinned" in text
    assert "preview" not in text
    links = {
        html.unescape(href): label for href, label in re.findall(r'<a href="([^"]+)">([^<]+)</a>', r.text)
    }
    assert links.get(board) == "Back to the board"
    db.expire_all()
    assert db.get_one(WorkOrder, moved.id).version == moved.version  # nothing written
    assert _replan_inputs(db, w, today, moved.id)[0]  # still pinned


def test_the_board_data_takes_region_id_as_the_api_names_it(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    first = f.make_region(db, code="A-1", name="First")
    second = f.make_region(db, code="B-2", name="Second")
    db.commit()
    sign_in("dispatcher")
    day = "2026-12-09"

    def region_of(params: dict[str, object]) -> int:
        r = client.get("/board/data", params={**params, "day": day})
        assert r.status_code == 200, r.text
        return int(r.json()["region"]["id"])

    assert region_of({}) == first.id  # none named: the first region, as before
    assert region_of({"region": second.id}) == second.id
    assert region_of({"region_id": second.id}) == second.id  # was the first region's board
    assert region_of({"region": second.id, "region_id": second.id}) == second.id

    refused = {
        "abc": "choose a region from the list",
        "999999": "choose a region from the list",
        str(second.id): f"region_id={second.id} and region={first.id} differ",
    }
    for named, message in refused.items():
        params = {"region_id": named, "day": day} | ({"region": first.id} if named == str(second.id) else {})
        r = client.get("/board/data", params=params)
        assert r.status_code == 422 and message in html.unescape(r.text), params
