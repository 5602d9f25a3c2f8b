"""Absences and on-call cover on the engineer's profile page: listed in the region's time, added and
removed through the API's service functions (so the API's refusals), a refused form kept with a
message per field (422/409, never 500), a double submit saved once, another engineer's id refused,
only the roles the absences API allows; and the page says what planning does with the change, which
is what it does for the API: adding or removing re-plans a published day."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.field.engineers import service as engineers
from app.models import (
    Absence,
    AuditLog,
    Engineer,
    OnCallShift,
    PlanDay,
    PlanRun,
    PlanStop,
    Region,
    WorkOrder,
)
from app.planning import runs as plan_runs
from tests import factories as f
from tests.planning import world as pw
from tests.web.conftest import csrf_of

BERLIN = ZoneInfo("Europe/Berlin")


def _today() -> date:
    return datetime.now(BERLIN).date()


def _text(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


@pytest.fixture
def ada(db: Session) -> Any:
    region = f.make_region(db, name="Bavaria", timezone="Europe/Berlin")
    engineer = f.make_engineer(db, region, name="Ada Lovelace")
    db.commit()
    return engineer


def _tags(db: Session, *absence_ids: int) -> str:
    """A remove button's hidden tags, as the page writes them (the API's ETags)."""
    return ",".join(engineers.absence_tag(db.get_one(Absence, i)) for i in absence_ids)


def _cover_tag(db: Session, cover_id: int) -> str:
    return engineers.on_call_tag(db.get_one(OnCallShift, cover_id))


def _page(client: TestClient, engineer_id: int) -> str:
    r = client.get(f"/admin/engineers/{engineer_id}")
    assert r.status_code == 200, r.text
    return r.text


def _key(html: str, action: str) -> str:
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', html, re.S)
    assert form, f"no form posting to {action}"
    return re.search(r'name="key" value="([^"]+)"', form[0])[1]  # type: ignore[index]


def _error(html: str, form: str, name: str) -> str:
    match = re.search(rf'<p class="field-error" id="{form}-{name}-error">([^<]*)</p>', html)
    assert match, f"no message under {name}"
    return match.group(1)


def _flash(html: str) -> str:
    match = re.search(r'<p class="flash" role="status">([^<]*)</p>', html)
    assert match, "no message after saving"
    return match.group(1).replace("&#39;", "'")


def _absences(db: Session, engineer_id: int) -> list[tuple[date, time | None, str]]:
    db.expire_all()
    rows = db.scalars(select(Absence).where(Absence.engineer_id == engineer_id).order_by(Absence.day))
    return [(a.day, a.from_time, a.reason) for a in rows]


def _covers(db: Session, engineer_id: int) -> list[OnCallShift]:
    db.expire_all()
    return list(db.scalars(select(OnCallShift).where(OnCallShift.engineer_id == engineer_id)))


def test_a_dispatcher_records_an_absence_over_days_and_removes_it(
    client: TestClient, db: Session, sign_in: Any, ada: Any
) -> None:
    sign_in("dispatcher")
    url = f"/admin/engineers/{ada.id}"
    page = _page(client, ada.id)
    assert "No absence from today on." in page and "No on-call cover from now on." in page
    first = _today() + timedelta(days=10)
    form = {
        "csrf": csrf_of(page),
        "key": _key(page, f"{url}/absences"),
        "first_day": first.isoformat(),
        "from_time": "13.30",  # typed as people type it, as the shifts accept it
        "last_day": (first + timedelta(days=2)).isoformat(),
        "reason": "sickness",
    }
    r = client.post(f"{url}/absences", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    # one service call per day: the first from 13:30 (sent home), the others whole days
    assert _absences(db, ada.id) == [
        (first, time(13, 30), "sickness"),
        (first + timedelta(days=1), None, "sickness"),
        (first + timedelta(days=2), None, "sickness"),
    ]
    audits = db.scalar(select(func.count()).select_from(AuditLog).where(AuditLog.action == "absence_add"))
    assert audits == 3  # the service's audit, as for the API
    shown = client.get(r.headers["location"])
    assert "The absence is saved." in _flash(shown.text)
    assert "No published plan of today or later is affected." in _flash(shown.text)
    row = re.search(r'<tr data-absence="(\d+)">(.*?)</tr>', shown.text, re.S)
    assert row, "the absence is not listed"
    assert f"{_text(first)}" in row[2] and "from 13:30" in row[2] and "(3 days)" in row[2]
    assert "sickness" in row[2] and "Europe/Berlin" in shown.text

    # one day of it removed on its own (back a day early), then the rest with the period's button
    third = db.scalar(
        select(Absence.id).where(Absence.engineer_id == ada.id, Absence.day == first + timedelta(days=2))
    )
    csrf = csrf_of(shown.text)
    one = client.post(
        f"{url}/absences/{third}/remove",
        data={"csrf": csrf, "tags": _tags(db, third)},
        follow_redirects=False,
    )
    assert one.status_code == 303 and "done=absence_removed" in one.headers["location"]
    assert len(_absences(db, ada.id)) == 2
    period = re.search(
        r'action="(/admin/engineers/\d+/absences/\d+/remove)" class="inline">\s*'
        r'<input type="hidden" name="csrf" value="[^"]+"><input type="hidden" name="also" value="([^"]*)">\s*'
        r'<input type="hidden" name="tags" value="([^"]*)">',
        client.get(url).text,
    )
    assert period
    shown_form = {"csrf": csrf, "also": period[2], "tags": period[3]}
    gone = client.post(period[1], data=shown_form, follow_redirects=False)
    assert gone.status_code == 303
    assert _absences(db, ada.id) == []
    assert "The absence is removed." in _flash(client.get(gone.headers["location"]).text)
    # the same button again (a second click): nothing to remove, said so, no error page
    again = client.post(period[1], data=shown_form, follow_redirects=False)
    assert again.status_code == 303 and "done=absence_gone" in again.headers["location"]


def test_on_call_cover_is_added_in_the_regions_time_and_removed(
    client: TestClient, db: Session, sign_in: Any, ada: Any
) -> None:
    sign_in("manager")
    url = f"/admin/engineers/{ada.id}"
    page = _page(client, ada.id)
    friday = _today() + timedelta(days=(4 - _today().weekday()) % 7 + 7)
    form = {
        "csrf": csrf_of(page),
        "key": _key(page, f"{url}/on-call"),
        "starts_day": friday.isoformat(),
        "starts_time": "17:00",
        "ends_day": (friday + timedelta(days=3)).isoformat(),
        "ends_time": "8:00",
        "note": "weekend standby",
    }
    r = client.post(f"{url}/on-call", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    (cover,) = _covers(db, ada.id)
    assert cover.starts_at == datetime.combine(friday, time(17), BERLIN).astimezone(UTC)
    assert cover.ends_at == datetime.combine(friday + timedelta(days=3), time(8), BERLIN).astimezone(UTC)
    shown = client.get(r.headers["location"])
    assert "The on-call cover is saved." in _flash(shown.text)
    row = re.search(rf'<tr data-on-call="{cover.id}">(.*?)</tr>', shown.text, re.S)
    assert row and f"{friday:%a %d %b %Y}, 17:00" in row[1] and "weekend standby" in row[1]

    removed = client.post(
        f"{url}/on-call/{cover.id}/remove",
        data={"csrf": csrf_of(shown.text), "tag": _cover_tag(db, cover.id)},
        follow_redirects=False,
    )
    assert removed.status_code == 303 and _covers(db, ada.id) == []
    assert "The on-call cover is removed." in _flash(client.get(removed.headers["location"]).text)


def test_bad_input_comes_back_with_the_typed_values_and_a_message_per_field(
    client: TestClient, db: Session, sign_in: Any, ada: Any
) -> None:
    sign_in("dispatcher")
    url = f"/admin/engineers/{ada.id}"
    page = _page(client, ada.id)
    csrf = csrf_of(page)
    day = _today() + timedelta(days=20)

    def absence(**kw: str) -> Any:
        data = {
            "csrf": csrf,
            "first_day": day.isoformat(),
            "from_time": "",
            "last_day": "",
            "reason": "leave",
        }
        return client.post(f"{url}/absences", data=data | kw)

    backwards = absence(last_day=(day - timedelta(days=1)).isoformat())
    assert backwards.status_code == 422
    assert "must not be before the first day" in _error(backwards.text, "abs", "last_day")
    assert f'value="{(day - timedelta(days=1)).isoformat()}"' in backwards.text
    assert "Nothing was saved" in backwards.text
    unreadable = absence(first_day="8.12.2025", from_time="25:00", reason="x" * 41)
    assert unreadable.status_code == 422
    assert "is not a date" in _error(unreadable.text, "abs", "first_day")
    assert "a time of day" in _error(unreadable.text, "abs", "from_time")
    assert "at most 40 characters" in _error(unreadable.text, "abs", "reason")
    assert 'name="first_day" type="text" value="8.12.2025"' in unreadable.text  # plain text now
    assert 'value="25:00"' in unreadable.text
    too_long = absence(last_day=(day + timedelta(days=400)).isoformat())
    assert too_long.status_code == 422 and "at most 62 days" in _error(too_long.text, "abs", "last_day")
    assert _absences(db, ada.id) == []

    # the service's rule, one absence a day: a range over a day already taken saves none of its days
    taken = client.post(
        f"{url}/absences",
        data={"csrf": csrf, "first_day": (day + timedelta(days=1)).isoformat()},
        follow_redirects=False,
    )
    assert taken.status_code == 303
    clash = absence(last_day=(day + timedelta(days=2)).isoformat(), reason="training")
    assert clash.status_code == 409
    message = _error(clash.text, "abs", "first_day")
    assert "Ada Lovelace is already marked absent on" in message and _text(day + timedelta(days=1)) in message
    assert 'value="training"' in clash.text
    assert [a[0] for a in _absences(db, ada.id)] == [day + timedelta(days=1)]

    def cover(**kw: str) -> Any:
        data = {
            "csrf": csrf,
            "starts_day": day.isoformat(),
            "starts_time": "17:00",
            "ends_day": day.isoformat(),
            "ends_time": "23:00",
            "note": "",
        }
        return client.post(f"{url}/on-call", data=data | kw)

    backwards = cover(ends_time="16:00")  # the service's rule, under the field it names
    assert backwards.status_code == 422
    assert "must end after it starts" in _error(backwards.text, "oc", "ends_time")
    assert 'value="16:00"' in backwards.text
    long = cover(ends_day=(day + timedelta(days=15)).isoformat())
    assert long.status_code == 422 and "at most 14 days" in _error(long.text, "oc", "ends_time")
    blank = cover(starts_time="", ends_day="tomorrow", note="n" * 201)
    assert blank.status_code == 422
    assert "give the time" in _error(blank.text, "oc", "starts_time")
    assert "is not a date" in _error(blank.text, "oc", "ends_day")
    assert "at most 200 characters" in _error(blank.text, "oc", "note")
    assert cover().status_code == 200  # saved (followed to the page)
    overlap = cover(starts_time="22.00", ends_day=(day + timedelta(days=1)).isoformat(), ends_time="06:00")
    assert overlap.status_code == 409
    message = _error(overlap.text, "oc", "starts_day")
    assert "overlaps the cover already recorded" in message and "17:00" in message  # Berlin time
    assert 'value="22.00"' in overlap.text
    assert len(_covers(db, ada.id)) == 1


@pytest.mark.parametrize(
    ("typed", "read"), [("1330", time(13, 30)), ("9", time(9)), ("13.30:15", time(13, 30, 15))]
)
def test_absent_from_is_read_as_people_type_it(
    client: TestClient, db: Session, sign_in: Any, ada: Any, typed: str, read: time
) -> None:
    """The what-if's forms too (1330) and more (9, seconds after 13.30): one parser, app/web/shared.py."""
    sign_in("dispatcher")
    page = _page(client, ada.id)
    day = _today() + timedelta(days=30)
    r = client.post(
        f"/admin/engineers/{ada.id}/absences",
        data={"csrf": csrf_of(page), "first_day": day.isoformat(), "from_time": typed, "reason": "leave"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert _absences(db, ada.id) == [(day, read, "leave")]


def test_a_double_submit_saves_once(client: TestClient, db: Session, sign_in: Any, ada: Any) -> None:
    sign_in("dispatcher")
    url = f"/admin/engineers/{ada.id}"
    page = _page(client, ada.id)
    day = _today() + timedelta(days=30)
    absence = {"csrf": csrf_of(page), "key": _key(page, f"{url}/absences"), "first_day": day.isoformat()}
    cover = {
        "csrf": csrf_of(page),
        "key": _key(page, f"{url}/on-call"),
        "starts_day": day.isoformat(),
        "starts_time": "18:00",
        "ends_day": day.isoformat(),
        "ends_time": "22:00",
    }
    for path, data in ((f"{url}/absences", absence), (f"{url}/on-call", cover)):
        first = client.post(path, data=data, follow_redirects=False)
        second = client.post(path, data=data, follow_redirects=False)
        assert first.status_code == second.status_code == 303, second.text
        assert second.headers["location"].endswith("done=replayed")
        assert "saved once" in _flash(client.get(second.headers["location"]).text)
    assert _absences(db, ada.id) == [(day, None, "leave")] and len(_covers(db, ada.id)) == 1
    # the page sends a fresh key each time it is shown: the next absence is a new one
    assert _key(client.get(url).text, f"{url}/absences") != absence["key"]


def test_a_double_submit_of_a_new_profile_without_an_account_creates_one(
    client: TestClient, db: Session, sign_in: Any, ada: Any
) -> None:
    sign_in("admin")
    form = client.get("/admin/engineers/new")
    key = re.search(r'name="key" value="([^"]+)"', form.text)
    assert key, "the new-profile form has no one-time key"
    data = {
        "csrf": csrf_of(form.text),
        "key": key[1],
        "name": "Sub Contractor",
        "user_id": "",
        "region_id": str(ada.region_id),
        "skills": "HVAC",
        "home_latitude": "48.1",
        "home_longitude": "11.5",
        "active": "yes",
        "starts_0": "08:00",
        "ends_0": "16:00",
    }
    first = client.post("/admin/engineers", data=data, follow_redirects=False)
    second = client.post("/admin/engineers", data=data, follow_redirects=False)
    assert first.status_code == second.status_code == 303
    assert second.headers["location"] == first.headers["location"]  # the profile the first click made
    db.expire_all()
    assert db.scalar(select(func.count()).where(Engineer.name == "Sub Contractor")) == 1
    # a refused form keeps its key, so fixing it and saving still counts once
    fresh = client.get("/admin/engineers/new")
    other = re.search(r'name="key" value="([^"]+)"', fresh.text)[1]  # type: ignore[index]
    refused = client.post(
        "/admin/engineers", data=data | {"key": other, "name": "Other", "home_latitude": "x"}
    )
    assert refused.status_code == 422 and f'name="key" value="{other}"' in refused.text


def test_another_engineers_absence_or_cover_is_refused_not_removed(
    client: TestClient, db: Session, sign_in: Any, ada: Any
) -> None:
    bob = f.make_engineer(db, _region(db, ada), name="Bob")
    day = _today() + timedelta(days=5)
    his = Absence(engineer_id=bob.id, day=day, reason="leave")
    mine = Absence(engineer_id=ada.id, day=day, reason="leave")
    start = datetime.combine(day, time(18), BERLIN)
    his_cover = OnCallShift(engineer_id=bob.id, starts_at=start, ends_at=start + timedelta(hours=4))
    db.add_all([his, mine, his_cover])
    db.commit()
    sign_in("dispatcher")
    url = f"/admin/engineers/{ada.id}"
    csrf = csrf_of(_page(client, ada.id))
    r = client.post(f"{url}/absences/{his.id}/remove", data={"csrf": csrf, "tags": _tags(db, his.id)})
    assert r.status_code == 404 and f"does not exist for engineer {ada.id}" in r.text
    # hidden in the rest of a period: Ada's own absence is not removed either (all or nothing)
    both = {"csrf": csrf, "also": str(his.id), "tags": _tags(db, mine.id, his.id)}
    r = client.post(f"{url}/absences/{mine.id}/remove", data=both)
    assert r.status_code == 404
    r = client.post(
        f"{url}/on-call/{his_cover.id}/remove", data={"csrf": csrf, "tag": _cover_tag(db, his_cover.id)}
    )
    assert r.status_code == 404
    assert _absences(db, bob.id) and _absences(db, ada.id) and _covers(db, bob.id)
    assert client.post(f"{url}/absences/1x/remove", data={"csrf": csrf}).status_code == 404
    forged = client.post(f"{url}/absences/{mine.id}/remove", data={"csrf": csrf, "also": "1;drop"})
    assert forged.status_code == 422 and _absences(db, ada.id)
    assert client.post("/admin/engineers/999999/absences", data={"csrf": csrf}).status_code == 404


def test_a_stale_page_removes_nothing_and_says_why(
    client: TestClient, db: Session, sign_in: Any, ada: Any
) -> None:
    """The remove buttons carry the rows' tags (the API's ETags): when the id a page shows holds
    another absence or cover by now (SQLite gives a removed row's id to the next insert, forced
    here), the button removes nothing and says so (409); a fresh page's button removes it; a form
    without its tags is one to reload (422)."""
    day = _today() + timedelta(days=5)
    start = datetime.combine(day, time(18), BERLIN)
    shown = Absence(engineer_id=ada.id, day=day, reason="leave")
    cover = OnCallShift(engineer_id=ada.id, starts_at=start, ends_at=start + timedelta(hours=4))
    db.add_all([shown, cover])
    db.commit()
    sign_in("dispatcher")
    url = f"/admin/engineers/{ada.id}"
    page = _page(client, ada.id)
    absence_id, cover_id = shown.id, cover.id
    stale = {"csrf": csrf_of(page), "also": "", "tags": _tags(db, absence_id)}
    stale_cover = {"csrf": stale["csrf"], "tag": _cover_tag(db, cover_id)}
    assert f'name="tags" value="{stale["tags"]}"' in page and f'value="{stale_cover["tag"]}"' in page
    # meanwhile someone else removed both and saved others under the same ids
    db.delete(shown)
    db.delete(cover)
    db.flush()
    later = start + timedelta(days=1)
    db.add(Absence(id=absence_id, engineer_id=ada.id, day=day + timedelta(days=1), reason="training"))
    db.add(OnCallShift(id=cover_id, engineer_id=ada.id, starts_at=later, ends_at=later + timedelta(hours=2)))
    db.commit()

    r = client.post(f"{url}/absences/{absence_id}/remove", data=stale)
    assert r.status_code == 409 and "Nothing was removed: that absence was changed by someone else" in r.text
    r = client.post(f"{url}/on-call/{cover_id}/remove", data=stale_cover)
    assert r.status_code == 409 and "Nothing was removed: that on-call cover was changed" in r.text
    assert _absences(db, ada.id) == [(day + timedelta(days=1), None, "training")]
    assert len(_covers(db, ada.id)) == 1
    missing = client.post(f"{url}/absences/{absence_id}/remove", data={"csrf": stale["csrf"]})
    assert missing.status_code == 422 and "reload the page" in missing.text and _absences(db, ada.id)

    fresh = {"csrf": stale["csrf"], "tags": _tags(db, absence_id)}
    assert f'name="tags" value="{fresh["tags"]}"' in _page(client, ada.id)
    r = client.post(f"{url}/absences/{absence_id}/remove", data=fresh, follow_redirects=False)
    assert r.status_code == 303 and _absences(db, ada.id) == []
    fresh_cover = {"csrf": stale["csrf"], "tag": _cover_tag(db, cover_id)}
    r = client.post(f"{url}/on-call/{cover_id}/remove", data=fresh_cover, follow_redirects=False)
    assert r.status_code == 303 and _covers(db, ada.id) == []


def _region(db: Session, engineer: Any) -> Any:
    return db.get(Region, engineer.region_id)


@pytest.mark.parametrize("role", ["agent", "engineer"])
def test_only_the_roles_the_absences_api_allows_change_them(
    client: TestClient, db: Session, sign_in: Any, ada: Any, role: str
) -> None:
    day = _today() + timedelta(days=3)
    mine = Absence(engineer_id=ada.id, day=day, reason="leave")
    start = datetime.combine(day, time(18), BERLIN)
    cover = OnCallShift(engineer_id=ada.id, starts_at=start, ends_at=start + timedelta(hours=4))
    db.add_all([mine, cover])
    db.commit()
    me = sign_in(role)
    if role == "engineer":  # even their own
        ada.user_id = me.id
        db.commit()
    csrf = csrf_of(client.get("/kb").text)
    url = f"/admin/engineers/{ada.id}"
    later = (day + timedelta(days=1)).isoformat()
    answers = [
        client.post(f"{url}/absences", data={"csrf": csrf, "first_day": later}),
        client.post(f"{url}/absences/{mine.id}/remove", data={"csrf": csrf}),
        client.post(
            f"{url}/on-call",
            data={
                "csrf": csrf,
                "starts_day": later,
                "starts_time": "18:00",
                "ends_day": later,
                "ends_time": "20:00",
            },
        ),
        client.post(f"{url}/on-call/{cover.id}/remove", data={"csrf": csrf}),
    ]
    assert [a.status_code for a in answers] == [403] * 4
    assert "dispatchers, managers and admins" in answers[0].text
    assert _absences(db, ada.id) == [(day, None, "leave")] and len(_covers(db, ada.id)) == 1
    # the API answers them the same (its DispatchUser dependency)
    api = client.post(f"/api/v1/engineers/{ada.id}/absences", json={"day": later}, headers=f.bearer(me))
    assert api.status_code == 403


def test_the_forms_need_the_csrf_token(client: TestClient, db: Session, sign_in: Any, ada: Any) -> None:
    sign_in("admin")
    url = f"/admin/engineers/{ada.id}"
    day = (_today() + timedelta(days=3)).isoformat()
    for data in ({}, {"csrf": "forged"}):
        r = client.post(f"{url}/absences", data=data | {"first_day": day})
        assert r.status_code == 403 and "Form expired" in r.text
        r = client.post(
            f"{url}/on-call",
            data=data | {"starts_day": day, "starts_time": "18:00", "ends_day": day, "ends_time": "20:00"},
        )
        assert r.status_code == 403
    assert _absences(db, ada.id) == [] and _covers(db, ada.id) == []
    # admins are among the roles the API allows (its DispatchUser admits them)
    ok = client.post(
        f"{url}/absences",
        data={"csrf": csrf_of(_page(client, ada.id)), "first_day": day},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and len(_absences(db, ada.id)) == 1


SMALL = {"time_limit_s": 2.0, "solution_limit": 30}


def test_an_absence_on_a_published_day_replans_it_as_through_the_api_and_says_so(
    client: TestClient, db: Session, sign_in: Any
) -> None:
    w = pw.build(db, jobs=3)
    day = pw.next_weekday(1)
    run = plan_runs.create_run(db, region_id=w.region.id, day=day, kind="plan", send=False, **SMALL)  # type: ignore[arg-type]
    db.commit()
    plan_runs.execute(run.id)
    db.expire_all()
    assert db.get(PlanRun, run.id).status == "published"  # type: ignore[union-attr]
    sick = w.engineers[1]
    sign_in("dispatcher")
    url = f"/admin/engineers/{sick.id}"
    page = _page(client, sick.id)
    data = {"csrf": csrf_of(page), "first_day": day.isoformat(), "reason": "sickness"}
    r = client.post(f"{url}/absences", data=data, follow_redirects=False)
    assert r.status_code == 303
    message = _flash(client.get(r.headers["location"]).text)
    assert f"{sick.name}'s visits on {_text(day)} {day.year} will be planned again" in message
    db.expire_all()
    current = db.get(
        PlanRun, db.scalar(select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id))
    )
    assert current is not None and current.id != run.id
    assert (current.kind, current.trigger) == ("replan", "sickness")  # the API's path: the session hook
    stops = db.scalars(select(PlanStop).where(PlanStop.plan_run_id == current.id, PlanStop.kind == "job"))
    assert all(s.engineer_id != sick.id for s in stops)

    # removing it (recorded by mistake, or the engineer is back) plans the day again, as the API's
    # DELETE does: the engineer has visits again (the one ELEC visit is theirs alone)
    elec = pw.add_visit(db, w, skill="ELEC", lat=48.15, lon=11.6)
    db.commit()
    absence_id = db.scalar(select(Absence.id).where(Absence.engineer_id == sick.id))
    removed = client.post(
        f"{url}/absences/{absence_id}/remove",
        data={"csrf": data["csrf"], "tags": _tags(db, absence_id)},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    message = _flash(client.get(removed.headers["location"]).text)
    assert f"{sick.name} can be given visits on {_text(day)} {day.year} again" in message
    assert "was not planned again automatically" not in message
    db.expire_all()
    back = db.get_one(
        PlanRun, db.scalar(select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id))
    )
    assert back.id > current.id and (back.kind, back.trigger) == ("replan", "absence_removed")
    assert db.get_one(WorkOrder, elec.id).engineer_id == sick.id

    # recorded again (a dispatcher correcting a mistake): each recorded absence is its own event, so
    # the day is planned again, for the API as for the page. It was asked once per engineer and day
    # (the request key), and the visits stayed with an engineer absent that day.
    again = client.post(f"{url}/absences", data=data, follow_redirects=False)
    assert again.status_code == 303
    message = _flash(client.get(again.headers["location"]).text)
    assert f"{sick.name}'s visits on {_text(day)} {day.year} will be planned again" in message
    assert "was not planned again automatically" not in message
    db.expire_all()
    replanned = db.get_one(
        PlanRun, db.scalar(select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id))
    )
    assert replanned.id > back.id and (replanned.kind, replanned.trigger) == ("replan", "sickness")
    stops = db.scalars(select(PlanStop).where(PlanStop.plan_run_id == replanned.id, PlanStop.kind == "job"))
    assert all(s.engineer_id != sick.id for s in stops)
    assert db.get_one(WorkOrder, elec.id).engineer_id != sick.id
    absence_id = db.scalar(select(Absence.id).where(Absence.engineer_id == sick.id))
    client.post(
        f"{url}/absences/{absence_id}/remove", data={"csrf": data["csrf"], "tags": _tags(db, absence_id)}
    )

    # on-call cover on that day asks for a re-plan, as through the API
    cover = {
        "csrf": data["csrf"],
        "starts_day": day.isoformat(),
        "starts_time": "17:00",
        "ends_day": day.isoformat(),
        "ends_time": "22:00",
    }
    added = client.post(f"{url}/on-call", data=cover, follow_redirects=False)
    assert added.status_code == 303
    assert "will be made again with" in _flash(client.get(added.headers["location"]).text)
    db.expire_all()
    assert db.scalar(select(PlanRun.trigger).order_by(PlanRun.id.desc()).limit(1)) == "on_call"

    # and removing the cover asks for one too: the plan may count on it
    cover_id = db.scalar(select(OnCallShift.id).where(OnCallShift.engineer_id == sick.id))
    gone = client.post(
        f"{url}/on-call/{cover_id}/remove",
        data={"csrf": data["csrf"], "tag": _cover_tag(db, cover_id)},
        follow_redirects=False,
    )
    assert gone.status_code == 303
    message = _flash(client.get(gone.headers["location"]).text)
    assert f"The plan of {_text(day)} {day.year} will be made again without {sick.name} on call" in message
    db.expire_all()
    assert db.scalar(select(PlanRun.trigger).order_by(PlanRun.id.desc()).limit(1)) == "on_call_removed"


def _times(db: Session, engineer_id: int) -> list[tuple[date, time | None, time | None]]:
    db.expire_all()
    rows = db.scalars(select(Absence).where(Absence.engineer_id == engineer_id).order_by(Absence.day))
    return [(a.day, a.from_time, a.until_time) for a in rows]


def _add(client: TestClient, engineer_id: int, **typed: str) -> Any:
    page = _page(client, engineer_id)
    data = {
        "csrf": csrf_of(page),
        "key": _key(page, f"/admin/engineers/{engineer_id}/absences"),
        "reason": "leave",
    }
    return client.post(f"/admin/engineers/{engineer_id}/absences", data=data | typed, follow_redirects=False)


def _listed(client: TestClient, engineer_id: int) -> list[str]:
    rows = re.findall(r'<tr data-absence="\d+"><td>(.*?)</td>', _page(client, engineer_id), re.S)
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", r)).strip() for r in rows]


def test_an_absence_may_end_at_a_time_a_late_start_and_a_gap(
    client: TestClient, db: Session, sign_in: Any, ada: Any
) -> None:
    sign_in("dispatcher")
    day = _today() + timedelta(days=10)
    late = _add(client, ada.id, first_day=day.isoformat(), until_time="10.30", reason="dentist")
    assert late.status_code == 303, late.text
    gap = _add(
        client, ada.id, first_day=(day + timedelta(1)).isoformat(), from_time="13:00", until_time="15:00"
    )
    assert gap.status_code == 303, gap.text
    assert _times(db, ada.id) == [(day, None, time(10, 30)), (day + timedelta(1), time(13), time(15))]
    assert _listed(client, ada.id) == [
        f"{_text(day)} until 10:30",
        f"{_text(day + timedelta(1))} 13:00–15:00",
    ]


def test_over_several_days_the_first_may_start_and_the_last_may_end_at_a_time(
    client: TestClient, db: Session, sign_in: Any, ada: Any
) -> None:
    sign_in("dispatcher")
    first = _today() + timedelta(days=12)
    last = first + timedelta(days=2)
    r = _add(
        client,
        ada.id,
        first_day=first.isoformat(),
        from_time="13:00",
        last_day=last.isoformat(),
        until_time="10:30",
        reason="sickness",
    )
    assert r.status_code == 303, r.text
    # sent home on the first day at 13:00, back on the last at 10:30 (the until time before the
    # from time is fine: they are on different days)
    assert _times(db, ada.id) == [
        (first, time(13), None),
        (first + timedelta(1), None, None),
        (last, None, time(10, 30)),
    ]
    assert _listed(client, ada.id) == [f"{_text(first)} from 13:00 – {_text(last)} until 10:30 (3 days)"]


def test_a_gap_that_ends_before_it_starts_comes_back_with_a_message(
    client: TestClient, db: Session, sign_in: Any, ada: Any
) -> None:
    sign_in("dispatcher")
    day = _today() + timedelta(days=14)
    backwards = _add(client, ada.id, first_day=day.isoformat(), from_time="15:00", until_time="13:00")
    assert backwards.status_code == 422
    assert "must be after the time absent from (15:00)" in _error(backwards.text, "abs", "until_time")
    assert 'value="15:00"' in backwards.text and 'value="13:00"' in backwards.text  # nothing lost
    assert "Absent until:" in backwards.text  # the alert names the field by its label
    unreadable = _add(client, ada.id, first_day=day.isoformat(), until_time="25:00")
    assert unreadable.status_code == 422
    assert "a time of day, e.g. 10:30" in _error(unreadable.text, "abs", "until_time")
    assert 'name="until_time" type="text" value="25:00"' in unreadable.text
    assert _times(db, ada.id) == []
