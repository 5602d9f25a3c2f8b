"""The field visits' shared world: a ticket on an HVAC asset, its engineer with a stocked van,
another engineer, dispatch, desk and manager users; and the API steps the tests share (create,
schedule, move, check in, report) and the van's stock level. The `world` fixture (conftest.py) builds it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, time, timedelta
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import StockLevel
from tests import factories as f

API = "/api/v1/work-orders"
BERLIN = ZoneInfo("Europe/Berlin")


def next_local(weekday: int, hour: int, minute: int = 0) -> datetime:
    """A Berlin wall-clock time on `weekday` (0=Mon) next week, as UTC."""
    today = datetime.now(BERLIN).date()
    day = today + timedelta(days=(weekday - today.weekday()) % 7 + 7)
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN).astimezone(UTC)


def build(db: Session) -> dict[str, Any]:
    region = f.make_region(db)
    acc = f.make_account(db, region=region)
    site = f.make_site(db, acc, region=region)
    asset = f.make_asset(db, site, product_model=f.make_product_model(db, skill="HVAC"))
    eng_user, other_user = f.make_user(db, role="engineer"), f.make_user(db, role="engineer")
    eng = f.make_engineer(db, region, skills=["HVAC"], user=eng_user)
    other = f.make_engineer(db, region, skills=["HVAC", "ELEC"], user=other_user)
    part, part2 = f.make_part(db), f.make_part(db)
    van = f.location_of(db, engineer=eng)
    f.set_stock(db, van, part, 5)
    f.set_stock(db, van, part2, 1)
    w = {
        "region": region,
        "account": acc,
        "site": site,
        "asset": asset,
        "ticket": f.open_ticket(db, acc, asset=asset),
        "eng": eng,
        "eng_user": eng_user,
        "other": other,
        "part": part,
        "part2": part2,
        "van": van,
        "dispatch": f.bearer(f.make_user(db, role="dispatcher")),
        "agent": f.bearer(f.make_user(db, role="agent")),
        "manager": f.bearer(f.make_user(db, role="manager")),
        "me": f.bearer(eng_user),
        "them": f.bearer(other_user),
    }
    db.commit()
    return w


def create(client: TestClient, w: dict[str, Any], h: dict[str, str] | None = None, **kw: Any) -> dict:  # type: ignore[type-arg]
    r = client.post(API, json={"ticket_id": w["ticket"].id, **kw}, headers=h or w["agent"])
    assert r.status_code == 201, r.text
    return dict(r.json())


def etag_of(client: TestClient, h: dict[str, str], wid: int) -> str:
    r = client.get(f"{API}/{wid}", headers=h)
    assert r.status_code == 200, r.text
    return str(r.headers["ETag"])


def schedule(client: TestClient, w: dict[str, Any], wid: int, eng: Any = None, at: datetime | None = None):  # type: ignore[no-untyped-def]
    h = w["dispatch"]
    body = {"engineer_id": (eng or w["eng"]).id, "planned_start": (at or next_local(0, 10)).isoformat()}
    return client.post(f"{API}/{wid}/schedule", json=body, headers={**h, "If-Match": etag_of(client, h, wid)})


def move(client: TestClient, h: dict[str, str], wid: int, to: str, **kw: Any):  # type: ignore[no-untyped-def]
    return client.post(
        f"{API}/{wid}/transitions", json={"to": to, **kw}, headers={**h, "If-Match": etag_of(client, h, wid)}
    )


@contextmanager
def on_the_day(at: datetime) -> Iterator[None]:
    """Status moves happen at `at` (a time on the planned day): the visits here are planned next
    week, and "On my way" is refused on any other day than the planned one."""
    from app.field.workorders import service

    with mock.patch.object(service, "utcnow", lambda: at):
        yield


def check_in(client: TestClient, w: dict[str, Any], wid: int) -> dict[str, Any]:
    r = client.post(f"{API}/{wid}/check-in", headers=w["me"])
    assert r.status_code == 200, r.text
    return dict(r.json())


def on_site(client: TestClient, w: dict[str, Any], **kw: Any) -> dict:  # type: ignore[type-arg]
    wo = create(client, w, **kw)
    assert schedule(client, w, wo["id"]).status_code == 200
    return check_in(client, w, wo["id"])


def report(
    client: TestClient,
    w: dict[str, Any],
    wid: int,
    work_done: str = "x",
    *,
    fixed: bool = True,
    parts: list[dict[str, Any]] | None = None,
    h: dict[str, str] | None = None,
) -> Response:
    """The service report (by the engineer unless `h` says who); `parts`: its `parts_used` lines."""
    body: dict[str, Any] = {"work_done": work_done, "fixed_first_time": fixed}
    if parts is not None:
        body["parts_used"] = parts
    return client.post(f"{API}/{wid}/report", headers=h or w["me"], json=body)


def van_level(db: Session, w: dict[str, Any]) -> StockLevel:
    """The engineer's van's stock level of `w["part"]`, as the session has it (expire it first)."""
    return db.scalars(
        select(StockLevel).where(StockLevel.location_id == w["van"].id, StockLevel.part_id == w["part"].id)
    ).one()


def count(db: Session, model: Any, *where: Any) -> int:
    return int(db.scalar(select(func.count()).select_from(model).where(*where)) or 0)
