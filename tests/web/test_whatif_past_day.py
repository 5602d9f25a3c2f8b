"""A what-if for a day that is over says so at once: the preview is refused (422, the day's
message on the board, no publish button), as the service is. It used to show a plan and "Open the
emergency visit and publish this plan", whose publish was always refused (409, "… is over") with a
"Preview it again" leading back to the same dead end."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import User
from app.platform.errors import Unprocessable
from tests.planning import world as pw
from tests.web.test_board_pages import _planned_world
from tests.web.test_whatif_publish import _on_the_board, _publish_form, _refusal


def _past_day(w: pw.World) -> Any:
    # a weekday a week ago: engineers worked it, so only its being over can refuse the what-if
    return pw.next_weekday(0, w.region.timezone) - timedelta(days=14)


@pytest.mark.parametrize("kind", ["emergency", "absence"])
def test_a_what_if_for_a_past_day_says_the_day_is_over_without_a_publish_button(
    client: TestClient, db: Session, sign_in: Callable[..., User], kind: str
) -> None:
    w = pw.build(db, jobs=2)
    db.commit()
    sign_in("dispatcher")
    day = _past_day(w)
    params: dict[str, Any] = {"region": w.region.id, "day": day.isoformat(), "kind": kind}
    if kind == "emergency":
        params |= {"latitude": "48.15", "longitude": "11.55", "skill": "ELEC", "duration_min": "60"}
    else:
        params |= {"engineer_id": w.engineers[0].id, "absent_from": "12:00"}
    page = client.get("/board/what-if", params=params)
    assert page.status_code == 422, page.text[:300]
    assert 'id="board-data"' in page.text  # the board with the message, not an error page
    said = _refusal(page.text)
    assert f"{day:%a %d %b %Y} is over" in said and "today or a later day" in said
    assert "publish this plan" not in page.text and 'action="/board/what-if/publish"' not in page.text


def test_the_service_refuses_a_past_days_what_if(db: Session) -> None:
    from app.planning import whatif

    w = pw.build(db, jobs=1)
    db.commit()
    day = _past_day(w)
    with pytest.raises(Unprocessable) as refused:
        whatif.preview(
            db, region_id=w.region.id, day=day, emergency=whatif.Emergency(48.15, 11.55, 60, "ELEC")
        )
    assert refused.value.errors == [
        {
            "field": "day",
            "message": f"{day:%a %d %b %Y} is over, so its plan is not changed any more: "
            "a what-if is for today or a later day",
        }
    ]


def test_a_publish_refused_because_the_day_is_over_offers_no_preview_again(
    client: TestClient, db: Session, login: Any, sign_in: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.planning import whatif

    w, day = _planned_world(client, db, login("dispatcher"))
    sign_in("dispatcher")
    params = {"region": w.region.id, "day": day.isoformat(), "kind": "absence"}
    preview = client.get(
        "/board/what-if", params={**params, "engineer_id": w.engineers[0].id, "absent_from": "12:30"}
    )
    assert preview.status_code == 200, preview.text[:300]
    form = _publish_form(preview.text)
    later = datetime.combine(day + timedelta(days=1), time(9), UTC)  # the page stayed open past midnight
    monkeypatch.setattr(whatif, "utcnow", lambda: later)
    page = _on_the_board(client.post("/board/what-if/publish", data=form), 409)
    assert f"{day:%a %d %b %Y} is over" in _refusal(page)
    assert 'id="whatif-again"' not in page  # its preview would be refused as well
