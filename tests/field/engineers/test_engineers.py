"""Engineers: profiles with weekly shifts and breaks, absences, a day's shift, live position."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditLog, StockLocation
from tests import factories as f

API = "/api/v1/engineers"
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = [
    {"weekday": d, "starts": "08:00", "ends": "16:30", "break_starts": "12:00", "break_ends": "12:45"}
    for d in range(5)
]


@pytest.fixture
def world(db: Session) -> dict[str, Any]:
    w = {
        "region": f.make_region(db),
        "north": f.make_region(db, timezone="Europe/London"),
        "eng_user": f.make_user(db, role="engineer"),
        "dispatch": f.bearer(f.make_user(db, role="dispatcher")),
        "agent": f.bearer(f.make_user(db, role="agent")),
    }
    db.commit()
    return w


def body(w: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {
        "name": "Jana Kühn",
        "region_id": w["region"].id,
        "skills": ["HVAC", "ELEC"],
        "home_latitude": 48.2,
        "home_longitude": 11.6,
        "shifts": WEEKDAYS,
        **kw,
    }


def create(client: TestClient, w: dict[str, Any], **kw: Any) -> dict:
    r = client.post(API, json=body(w, **kw), headers=w["dispatch"])
    assert r.status_code == 201, r.text
    return r.json()


def next_weekday(weekday: int) -> date:
    today = datetime.now(BERLIN).date()
    return today + timedelta(days=(weekday - today.weekday()) % 7 + 7)


def test_create_with_shifts_and_van(client: TestClient, db: Session, world) -> None:
    w = world
    r = client.post(API, json=body(w, user_id=w["eng_user"].id), headers=w["dispatch"])
    assert r.status_code == 201, r.text
    e = r.json()
    assert r.headers["Location"] == f"{API}/{e['id']}" and r.headers["ETag"] == f'"v{e["version"]}"'
    assert e["skills"] == ["HVAC", "ELEC"] and len(e["shifts"]) == 5
    assert e["shifts"][0] == {
        "weekday": 0,
        "starts": "08:00:00",
        "ends": "16:30:00",
        "break_starts": "12:00:00",
        "break_ends": "12:45:00",
    }
    van = db.scalars(select(StockLocation).where(StockLocation.engineer_id == e["id"])).one()
    assert van.kind == "van" and e["van_location_id"] == van.id
    again = client.post(API, json=body(w, user_id=w["eng_user"].id), headers=w["dispatch"])
    assert again.status_code == 422 and "already engineer" in again.json()["detail"]


def test_bad_input_names_fields(client: TestClient, db: Session, world) -> None:
    w = world
    shifts = [
        {"weekday": 0, "starts": "17:00", "ends": "08:00"},
        {"weekday": 0, "starts": "08:00", "ends": "12:00", "break_starts": "13:00", "break_ends": "13:30"},
    ]
    r = client.post(
        API,
        json=body(w, shifts=shifts, region_id=999999, user_id=w["eng_user"].id - 100000),
        headers=w["dispatch"],
    )
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"region_id", "user_id", "shifts.0.ends", "shifts.1.weekday", "shifts.1.break_starts"}
    r = client.post(
        API, json=body(w, home_latitude=123, skills=['a"b'], shifts=[{"weekday": 9}]), headers=w["dispatch"]
    )
    assert r.status_code == 422
    assert {"home_latitude", "skills.0", "shifts.0.weekday", "shifts.0.starts"} <= {
        e["field"] for e in r.json()["errors"]
    }
    agent_user = f.make_user(db, role="agent")
    db.commit()
    r = client.post(API, json=body(w, user_id=agent_user.id), headers=w["dispatch"])
    assert r.status_code == 422 and "not engineer" in r.json()["detail"]


def test_roles(client: TestClient, world) -> None:
    w = world
    assert client.post(API, json=body(w), headers=w["agent"]).status_code == 403
    e = create(client, w)
    assert client.get(f"{API}/{e['id']}", headers=w["agent"]).status_code == 200
    assert client.get(API, headers=f.bearer(w["eng_user"])).status_code == 403


def test_list_filters_by_region_skill_and_pages(client: TestClient, world) -> None:
    w = world
    a = create(client, w, skills=["HVAC"])
    b = create(client, w, skills=["ELEC", "HVAC_PLUS"])
    c = create(client, w, skills=["ELEC"], region_id=w["north"].id)
    h = w["dispatch"]

    def ids(**params: Any) -> list[int]:
        return [x["id"] for x in client.get(API, params=params, headers=h).json()["items"]]

    assert ids(skill="HVAC", region_id=w["region"].id) == [a["id"]]  # not HVAC_PLUS
    assert ids(skill="ELEC", region_id=w["region"].id) == [b["id"]]
    assert ids(region_id=w["north"].id) == [c["id"]]
    assert ids(skill="HVAC%") == []  # LIKE wildcards are taken literally
    page = client.get(API, params={"region_id": w["region"].id, "limit": 1}, headers=h).json()
    rest = client.get(
        API, params={"region_id": w["region"].id, "limit": 1, "cursor": page["next_cursor"]}, headers=h
    ).json()
    assert [x["id"] for x in page["items"] + rest["items"]] == [b["id"], a["id"]] and rest[
        "next_cursor"
    ] is None


def test_update_needs_if_match_and_shift_change_bumps_etag(client: TestClient, db: Session, world) -> None:
    w = world
    e = create(client, w)
    url = f"{API}/{e['id']}"
    assert client.patch(url, json={"name": "J. Kühn"}, headers=w["dispatch"]).status_code == 428
    etag = client.get(url, headers=w["dispatch"]).headers["ETag"]
    sat = [*WEEKDAYS[:4], {"weekday": 5, "starts": "09:00", "ends": "13:00"}]
    r = client.patch(
        url, json={"shifts": sat, "skills": ["HVAC"]}, headers={**w["dispatch"], "If-Match": etag}
    )
    assert r.status_code == 200, r.text
    assert [s["weekday"] for s in r.json()["shifts"]] == [0, 1, 2, 3, 5] and r.headers["ETag"] != etag
    stale = client.patch(url, json={"active": False}, headers={**w["dispatch"], "If-Match": etag})
    assert stale.status_code == 412
    log = db.scalars(select(AuditLog).where(AuditLog.entity == "engineer", AuditLog.action == "update")).one()
    assert set(log.changes) == {"shifts", "skills"}
    r = client.patch(url, json={"name": None}, headers={**w["dispatch"], "If-Match": r.headers["ETag"]})
    assert r.status_code == 422


def test_day_shift_with_break_absence_and_day_off(client: TestClient, world) -> None:
    w = world
    e = create(client, w)
    monday = next_weekday(0)
    r = client.get(f"{API}/{e['id']}/shift", params={"date": monday.isoformat()}, headers=w["agent"])
    assert r.status_code == 200, r.text
    s = r.json()
    assert s["working"] is True and s["timezone"] == "Europe/Berlin"
    local = {
        k: datetime.fromisoformat(s[k]).astimezone(BERLIN).time()
        for k in ("starts_at", "ends_at", "break_starts_at", "break_ends_at")
    }
    assert local == {
        "starts_at": time(8),
        "ends_at": time(16, 30),
        "break_starts_at": time(12),
        "break_ends_at": time(12, 45),
    }
    assert datetime.fromisoformat(s["starts_at"]).tzinfo is not None
    saturday = client.get(
        f"{API}/{e['id']}/shift", params={"date": next_weekday(5).isoformat()}, headers=w["agent"]
    ).json()
    assert saturday["working"] is False and saturday["starts_at"] is None and saturday["absent"] is False
    r = client.post(
        f"{API}/{e['id']}/absences", json={"day": monday.isoformat(), "reason": "sick"}, headers=w["dispatch"]
    )
    assert r.status_code == 201
    absent = client.get(
        f"{API}/{e['id']}/shift", params={"date": monday.isoformat()}, headers=w["agent"]
    ).json()
    assert absent["absent"] is True and absent["absence_reason"] == "sick" and absent["working"] is False
    dup = client.post(f"{API}/{e['id']}/absences", json={"day": monday.isoformat()}, headers=w["dispatch"])
    assert dup.status_code == 409
    listed = client.get(
        f"{API}/{e['id']}/absences", params={"from": monday.isoformat()}, headers=w["agent"]
    ).json()
    assert [a["day"] for a in listed] == [monday.isoformat()]
    assert (
        client.delete(
            f"{API}/{e['id']}/absences/{r.json()['id']}",
            headers=w["dispatch"] | {"If-Match": r.headers["ETag"]},
        ).status_code
        == 204
    )
    back = client.get(
        f"{API}/{e['id']}/shift", params={"date": monday.isoformat()}, headers=w["agent"]
    ).json()
    assert back["working"] is True
    bad = client.get(f"{API}/{e['id']}/shift", params={"date": "someday"}, headers=w["agent"])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "date"


def test_shift_times_follow_the_region_time_zone_across_dst(client: TestClient, world) -> None:
    w = world
    e = create(client, w, region_id=w["north"].id)
    # 08:00 London is 08:00 UTC in winter and 07:00 UTC in summer
    winter = client.get(f"{API}/{e['id']}/shift", params={"date": "2030-01-07"}, headers=w["agent"]).json()
    summer = client.get(f"{API}/{e['id']}/shift", params={"date": "2030-07-01"}, headers=w["agent"]).json()
    assert datetime.fromisoformat(winter["starts_at"]) == datetime(2030, 1, 7, 8, tzinfo=UTC)
    assert datetime.fromisoformat(summer["starts_at"]) == datetime(2030, 7, 1, 7, tzinfo=UTC)


def test_engineer_reads_only_own_profile(client: TestClient, db: Session, world) -> None:
    w = world
    mine = create(client, w, user_id=w["eng_user"].id)
    other = create(client, w)
    me = f.bearer(w["eng_user"])
    assert client.get(f"{API}/{mine['id']}", headers=me).status_code == 200
    for path in ("", "/shift?date=2030-01-07", "/absences"):
        r = client.get(f"{API}/{other['id']}{path}", headers=me)
        assert r.status_code == 404, path
    assert (
        client.put(
            f"{API}/{other['id']}/position", json={"latitude": 1, "longitude": 1}, headers=me
        ).status_code
        == 404
    )


def test_position_by_engineer_or_dispatch_last_fix_wins(client: TestClient, world) -> None:
    w = world
    e = create(client, w, user_id=w["eng_user"].id)
    url = f"{API}/{e['id']}"
    etag = client.get(url, headers=w["dispatch"]).headers["ETag"]
    now = datetime.now(UTC)
    me = f.bearer(w["eng_user"])
    r = client.put(
        f"{url}/position", json={"latitude": 48.1, "longitude": 11.5, "at": now.isoformat()}, headers=me
    )
    assert r.status_code == 200 and r.json()["applied"] is True
    older = {"latitude": 1.0, "longitude": 1.0, "at": (now - timedelta(minutes=5)).isoformat()}
    r = client.put(f"{url}/position", json=older, headers=w["dispatch"])
    assert r.status_code == 200 and r.json()["applied"] is False and r.json()["latitude"] == 48.1
    got = client.get(url, headers=w["dispatch"])
    assert got.json()["current_latitude"] == 48.1 and got.headers["ETag"] == etag  # telemetry keeps the ETag
    assert (
        client.put(f"{url}/position", json={"latitude": 1, "longitude": 1}, headers=w["agent"]).status_code
        == 403
    )
    r = client.put(
        f"{url}/position", json={"latitude": 91, "longitude": 1, "at": "2030-01-01T00:00:00"}, headers=me
    )
    assert r.status_code == 422 and {e["field"] for e in r.json()["errors"]} == {"latitude", "at"}
    future = {"latitude": 1, "longitude": 1, "at": (now + timedelta(hours=1)).isoformat()}
    assert client.put(f"{url}/position", json=future, headers=me).status_code == 422


def test_on_call_cover_is_added_listed_checked_and_removed(client: TestClient, db: Session, world) -> None:
    e = client.post(API, json=body(world), headers=world["dispatch"]).json()
    friday = datetime(2030, 1, 4, 17, tzinfo=BERLIN)
    cover = {"starts_at": friday.isoformat(), "ends_at": (friday + timedelta(days=2, hours=15)).isoformat()}
    r = client.post(f"{API}/{e['id']}/on-call", json={**cover, "note": "weekend"}, headers=world["dispatch"])
    assert r.status_code == 201, r.text
    row = r.json()
    assert row["note"] == "weekend" and row["engineer_id"] == e["id"]
    # Overlapping cover for the same engineer is refused; an agent may not add any.
    clash = client.post(f"{API}/{e['id']}/on-call", json=cover, headers=world["dispatch"])
    assert clash.status_code == 409 and "already on call" in clash.json()["detail"]
    assert client.post(f"{API}/{e['id']}/on-call", json=cover, headers=world["agent"]).status_code == 403
    backwards = {"starts_at": cover["ends_at"], "ends_at": cover["starts_at"]}
    bad = client.post(f"{API}/{e['id']}/on-call", json=backwards, headers=world["dispatch"])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "ends_at"
    listed = client.get(f"{API}/{e['id']}/on-call", headers=world["agent"]).json()
    assert [x["id"] for x in listed] == [row["id"]]
    fresh = world["dispatch"] | {"If-Match": r.headers["ETag"]}
    gone = client.delete(f"{API}/{e['id']}/on-call/{row['id']}", headers=fresh)
    assert gone.status_code == 204
    assert client.get(f"{API}/{e['id']}/on-call", headers=world["agent"]).json() == []


@pytest.mark.parametrize("kind", ["absences", "on-call"])
def test_absences_and_on_call_cover_have_etags_and_their_deletes_need_if_match(
    client: TestClient, world: dict[str, Any], kind: str
) -> None:
    """As everywhere in the API: the POST and the GET give the ETag, a DELETE without If-Match is 428,
    with a stale one 412 (problem+json naming the current ETag), with the fresh one 204. Stale here:
    the ETag of a removed row, sent for the one saved after it (SQLite may even give it the same id)."""
    w = world
    e = create(client, w)
    url = f"{API}/{e['id']}/{kind}"
    starts = datetime(2030, 1, 4, 17, tzinfo=BERLIN)

    def add(n: int) -> Any:
        if kind == "absences":
            payload: dict[str, Any] = {"day": "2030-01-07", "reason": ["leave", "sickness"][n]}
        else:  # sent with Berlin's offset, read back in UTC: the same ETag
            payload = {
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=3 + n)).isoformat(),
            }
        r = client.post(url, json=payload, headers=w["dispatch"])
        assert r.status_code == 201, r.text
        assert r.headers["Location"] == f"{url}/{r.json()['id']}"
        return r

    first = add(0)
    got = client.get(first.headers["Location"], headers=w["agent"])
    assert got.status_code == 200 and got.json()["id"] == first.json()["id"]
    assert got.headers["ETag"] == first.headers["ETag"]
    old_etag = first.headers["ETag"]
    assert old_etag.startswith('"v1.')
    gone = client.delete(first.headers["Location"], headers=w["dispatch"] | {"If-Match": old_etag})
    assert gone.status_code == 204, gone.text
    assert client.get(first.headers["Location"], headers=w["agent"]).status_code == 404
    second = add(1)
    item = second.headers["Location"]

    missing = client.delete(item, headers=w["dispatch"])
    assert missing.status_code == 428 and missing.headers["content-type"].startswith(
        "application/problem+json"
    )
    stale = client.delete(item, headers=w["dispatch"] | {"If-Match": old_etag})
    assert stale.status_code == 412 and stale.headers["content-type"].startswith("application/problem+json")
    assert stale.json()["current_etag"] == second.headers["ETag"] != old_etag
    assert client.get(item, headers=w["agent"]).status_code == 200  # still there
    fresh = client.get(item, headers=w["agent"]).headers["ETag"]
    assert client.delete(item, headers=w["dispatch"] | {"If-Match": fresh}).status_code == 204
    assert client.get(url, headers=w["agent"]).json() == []


def test_shift_times_with_a_utc_offset_are_refused(client: TestClient, world) -> None:
    """Found while fuzzing: an offset time next to a plain one made the shift checks compare aware with
    naive times (TypeError, a 500); alone, the offset was silently dropped on storage."""
    w = world
    shifts = [
        {"weekday": 0, "starts": "08:00:00+05:00", "ends": "16:00"},
        {"weekday": 1, "starts": "08:00", "ends": "16:00Z", "break_starts": "12:00", "break_ends": "12:30"},
    ]
    r = client.post(API, json=body(w, shifts=shifts), headers=w["dispatch"])
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert {e["field"] for e in r.json()["errors"]} == {"shifts.0.starts", "shifts.1.ends"}
    assert "UTC offset" in r.json()["detail"]
    # The schema describes what is sent and accepted: a local time of day, not RFC 3339's "time".
    shift = client.get("/openapi.json").json()["components"]["schemas"]["ShiftIn"]["properties"]["starts"]
    assert "format" not in shift and shift["pattern"].startswith("^")


def test_an_engineer_with_open_visits_stays_in_planning_until_they_are_moved(
    client: TestClient, db: Session, world
) -> None:
    """`active: false` took the engineer off the board while their visits stayed scheduled with
    them and on their route: in no row and not under Unassigned. Refused as for their account."""
    from app.models import Engineer, WorkOrder

    w = world
    e = create(client, w, user_id=w["eng_user"].id)
    account = f.make_account(db, region=w["region"])
    ticket = f.open_ticket(db, account, asset=f.make_asset(db, f.make_site(db, account, region=w["region"])))
    visit = f.make_work_order(db, ticket)
    visit.engineer_id, visit.status = e["id"], "scheduled"  # on their route
    db.commit()
    url = f"{API}/{e['id']}"
    etag = client.get(url, headers=w["dispatch"]).headers["ETag"]
    r = client.patch(url, json={"active": False}, headers={**w["dispatch"], "If-Match": etag})
    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    assert f"Jana Kühn still has 1 open visit ({visit.number}). Nothing was changed" in r.json()["detail"]
    assert [x["field"] for x in r.json()["errors"]] == ["active"]
    db.expire_all()
    assert db.get_one(Engineer, e["id"]).active
    assert client.get(url, headers=w["dispatch"]).headers["ETag"] == etag  # nothing saved
    # their visit moved off their route: they leave planning
    moved = db.get_one(WorkOrder, visit.id)
    moved.engineer_id, moved.status = None, "unscheduled"
    db.commit()
    r = client.patch(url, json={"active": False}, headers={**w["dispatch"], "If-Match": etag})
    assert r.status_code == 200 and r.json()["active"] is False, r.text


def test_an_absence_may_end_within_the_day(client: TestClient, world: dict[str, Any]) -> None:
    """Until a time: a late start (the shift starts then); from and until: a gap inside the shift,
    which must end after it starts (problem+json 422 naming until_time)."""
    w = world
    e = create(client, w)
    # the Tuesday after that Monday: on a Tuesday next_weekday(1) comes before next_weekday(0)
    monday = next_weekday(0)
    tuesday = monday + timedelta(days=1)

    def add(day: date, **times: str) -> Any:
        return client.post(
            f"{API}/{e['id']}/absences", json={"day": day.isoformat(), **times}, headers=w["dispatch"]
        )

    def shift(day: date) -> dict[str, Any]:
        return client.get(
            f"{API}/{e['id']}/shift", params={"date": day.isoformat()}, headers=w["agent"]
        ).json()

    def local(value: str | None) -> time | None:
        return datetime.fromisoformat(value).astimezone(BERLIN).time() if value else None

    for times in (
        {"from_time": "15:00", "until_time": "13:00"},
        {"from_time": "13:00", "until_time": "13:00"},
    ):
        refused = add(monday, reason="training", **times)
        assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
        assert [x["field"] for x in refused.json()["errors"]] == ["until_time"]
        assert "must be after the time absent from (" in refused.json()["errors"][0]["message"]
    midnight = add(monday, until_time="00:00")
    assert midnight.status_code == 422 and midnight.json()["errors"][0]["field"] == "until_time"

    late = add(monday, reason="dentist", until_time="10:30")
    assert (
        late.status_code == 201
        and late.json()["until_time"] == "10:30:00"
        and late.json()["from_time"] is None
    )
    day = shift(monday)
    assert (
        day["working"] is True
        and local(day["starts_at"]) == time(10, 30)
        and local(day["ends_at"]) == time(16, 30)
    )

    gap = add(tuesday, reason="training", from_time="13:00", until_time="15:00")
    assert gap.status_code == 201
    day = shift(tuesday)
    assert (local(day["starts_at"]), local(day["ends_at"])) == (time(8), time(16, 30))
    assert (local(day["gap_starts_at"]), local(day["gap_ends_at"])) == (time(13), time(15))
    listed = client.get(f"{API}/{e['id']}/absences", headers=w["agent"]).json()
    assert [(a["from_time"], a["until_time"]) for a in listed] == [
        (None, "10:30:00"),
        ("13:00:00", "15:00:00"),
    ]


def test_a_position_of_0_0_is_refused_and_the_last_fix_kept(client: TestClient, world) -> None:
    """A device without a GPS fix sends 0, 0; stored, it became the start of the next re-plan."""
    w = world
    e = create(client, w, user_id=w["eng_user"].id)
    url = f"{API}/{e['id']}"
    me = f.bearer(w["eng_user"])
    assert (
        client.put(f"{url}/position", json={"latitude": 48.1, "longitude": 11.5}, headers=me).status_code
        == 200
    )
    r = client.put(f"{url}/position", json={"latitude": 0, "longitude": 0.0}, headers=me)
    assert r.status_code == 422 and [x["field"] for x in r.json()["errors"]] == ["latitude"]
    assert "GPS" in r.json()["errors"][0]["message"]
    assert client.get(url, headers=w["dispatch"]).json()["current_latitude"] == 48.1
    ok = client.put(f"{url}/position", json={"latitude": 0, "longitude": 11.5}, headers=me)
    assert ok.status_code == 200  # on the equator is a place


def test_a_start_in_an_absence_gap_is_refused_naming_its_reason(
    client: TestClient, db: Session, world: dict[str, Any]
) -> None:
    """The refusal read "… falls in Ada's absence 13:00–15:00 (None)": a day with part of it away
    kept no reason."""
    from app.field.engineers import service
    from app.models import Engineer

    w = world
    e = create(client, w)
    monday = next_weekday(0)
    r = client.post(
        f"{API}/{e['id']}/absences",
        json={"day": monday.isoformat(), "reason": "training", "from_time": "13:00", "until_time": "15:00"},
        headers=w["dispatch"],
    )
    assert r.status_code == 201, r.text
    engineer = db.get_one(Engineer, e["id"])
    at = datetime.combine(monday, time(14), tzinfo=ZoneInfo("Europe/Berlin"))
    problem = service.shift_problem(db, engineer, at)
    assert problem is not None and problem.endswith("absence 13:00–15:00 (training).")
    shift = client.get(f"{API}/{e['id']}/shift", params={"date": monday.isoformat()}, headers=w["agent"])
    assert shift.json()["working"] is True and shift.json()["absence_reason"] == "training"
