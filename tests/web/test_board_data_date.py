"""`/board/data` names its day `day=`, as the board page's address does, while the API names a day
`date=` (/api/v1/plans?date=, an engineer's route). A script asking for `date=` silently got the
board of today; it now takes either. Both naming different days, or a malformed one, is a 422
naming the parameter, nothing drawn for a day that was not asked for."""

from __future__ import annotations

import html
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import User
from tests import factories as f

DAY = "2026-12-09"


def test_the_board_data_takes_date_as_the_api_names_a_day(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    region = f.make_region(db, code="A-1", name="First")
    db.commit()
    sign_in("dispatcher")

    def day_of(params: dict[str, str]) -> str:
        r = client.get("/board/data", params={"region": str(region.id), **params})
        assert r.status_code == 200, r.text
        return str(r.json()["day"])

    assert day_of({"day": DAY}) == DAY
    assert day_of({"date": DAY}) == DAY  # was today's board
    assert day_of({"date": DAY, "day": DAY}) == DAY
    assert day_of({"date": f" {DAY} ", "day": DAY}) == DAY  # the same day, spaces aside
    assert day_of({"date": DAY, "day": ""}) == DAY  # an empty `day=` from a form names nothing
    # with region_id= too, as the API names both
    assert client.get("/board/data", params={"region_id": str(region.id), "date": DAY}).json()["day"] == DAY


def test_a_date_that_differs_from_day_or_is_no_date_is_refused(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    region = f.make_region(db, code="A-1", name="First")
    db.commit()
    sign_in("dispatcher")
    refused = [
        ({"date": "2026-12-10", "day": DAY}, "date", f"date=2026-12-10 and day={DAY} differ"),
        ({"date": "9.12.2026"}, "date", "'9.12.2026' is not a date (YYYY-MM-DD)"),
        ({"date": "2026-02-30", "day": DAY}, "date", "'2026-02-30' is not a date"),
        ({"date": DAY, "day": "tomorrow"}, "day", "'tomorrow' is not a date"),
        ({"day": "tomorrow"}, "day", "'tomorrow' is not a date"),  # as before
    ]
    for params, field, message in refused:
        r = client.get("/board/data", params={"region": str(region.id), **params})
        assert r.status_code == 422, (params, r.text)
        # the board's pages answer a readable page (as for region=/region_id=), naming the parameter
        assert f"{field.capitalize()}: {message}" in html.unescape(r.text), (params, r.text)
