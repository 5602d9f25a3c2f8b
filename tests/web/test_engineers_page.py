"""The engineers page: an engineer account gets its profile (region, skills, home base, shifts) from a
form over the API's service; a refused form keeps what was typed with a message under each field
(422, never 500); an edit carries the hidden version (stale: 409, nothing saved, the typed values
kept); only the roles the API lets write engineers open it."""

from __future__ import annotations

import html
import random
import re
from datetime import time
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Engineer, Shift, StockLocation
from tests import factories as f
from tests.web.conftest import csrf_of

LIST = "/admin/engineers"


@pytest.fixture
def world(db: Session) -> dict[str, Any]:
    w = {
        "region": f.make_region(db, name="Bavaria"),
        "model": f.make_product_model(db, skill="HVAC"),
        "lift": f.make_product_model(db, skill="ELEC"),
        "account": f.make_user(db, role="engineer", name="Ida Iversen", email="ida@example.com"),
    }
    db.commit()
    return w


def _version(html: str) -> str:
    return re.search(r'name="version" value="(\d+)"', html).group(1)  # type: ignore[union-attr]


def _form(w: dict[str, Any], csrf: str, **kw: str) -> dict[str, str]:
    data = {
        "csrf": csrf,
        "name": "Ida Iversen",
        "user_id": str(w["account"].id),
        "region_id": str(w["region"].id),
        "skills": "hvac, ELEC",
        "home_latitude": "48,137",  # a German keyboard's decimal comma
        "home_longitude": "11.575",
        "active": "yes",
    }
    for day in range(5):
        data |= {f"starts_{day}": "08:00", f"ends_{day}": "17:00"}
        data |= {f"break_starts_{day}": "12:00", f"break_ends_{day}": "12:30"}
    return data | kw


def _error(page: str, name: str) -> str:
    match = re.search(rf'<p class="field-error" id="eng-{name}-error">([^<]*)</p>', page)
    assert match, f"no message under {name}"
    return html.unescape(match.group(1))


def test_admin_creates_the_profile_of_a_new_engineer_account(
    client: TestClient, db: Session, sign_in: Any, world: dict[str, Any]
) -> None:
    w = world
    sign_in("admin")
    listed = client.get(LIST)
    assert listed.status_code == 200 and 'href="/admin/engineers"' in listed.text  # in the menu
    new = f"/admin/engineers/new?account={w['account'].id}"
    assert f'href="{new}"' in listed.text and "Create engineer profile" in listed.text
    user_page = client.get(f"/admin/users/{w['account'].id}")
    assert "no engineer profile yet" in user_page.text and f'href="{new}"' in user_page.text

    form = client.get(new)
    assert form.status_code == 200 and 'value="Ida Iversen"' in form.text
    assert f'<option value="{w["account"].id}" selected>' in form.text
    r = client.post(LIST, data=_form(w, csrf_of(form.text)), follow_redirects=False)
    assert r.status_code == 303, r.text
    engineer = db.scalars(select(Engineer).where(Engineer.user_id == w["account"].id)).one()
    assert r.headers["location"] == f"/admin/engineers/{engineer.id}?done=created"
    assert engineer.skills == ["HVAC", "ELEC"]  # spelled as the product models spell them
    assert (engineer.home_latitude, engineer.home_longitude) == (48.137, 11.575)
    assert engineer.region_id == w["region"].id and engineer.active
    shifts = db.scalars(select(Shift).where(Shift.engineer_id == engineer.id)).all()
    assert sorted(s.weekday for s in shifts) == [0, 1, 2, 3, 4]
    assert (shifts[0].starts, shifts[0].ends, shifts[0].break_starts) == (time(8), time(17), time(12))
    assert db.scalar(select(StockLocation.kind).where(StockLocation.engineer_id == engineer.id)) == "van"

    listed = client.get(LIST)
    row = re.search(rf'<tr data-engineer="{engineer.id}">(.*?)</tr>', listed.text, re.S)
    assert row and "ida@example.com" in row[1] and "Bavaria" in row[1] and "HVAC, ELEC" in row[1]
    assert "Mon–Fri 08:00–17:00" in row[1] and "Active" in row[1]
    assert f'data-account="{w["account"].id}"' not in listed.text  # no longer waiting for a profile
    user_page = client.get(f"/admin/users/{w['account'].id}")
    assert "no engineer profile yet" not in user_page.text
    assert f'href="/admin/engineers/{engineer.id}"' in user_page.text
    # the old link (a bookmark, the user page opened before) leads to the profile, not a second one
    again = client.get(new, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == f"/admin/engineers/{engineer.id}"


def test_bad_input_comes_back_with_the_typed_values_and_a_message_per_field(
    client: TestClient, db: Session, sign_in: Any, world: dict[str, Any]
) -> None:
    w = world
    sign_in("dispatcher")
    csrf = csrf_of(client.get(LIST).text)
    typed = _form(w, csrf, skills="HAVC, ELEC", home_latitude="north", home_longitude="191,5")
    r = client.post(LIST, data=typed)
    assert r.status_code == 422
    assert "unknown skill “HAVC”" in _error(r.text, "skills") and "HVAC" in _error(r.text, "skills")
    assert "48,137" in _error(r.text, "home_latitude") and "at most 180" in _error(r.text, "home_longitude")
    assert 'value="HAVC, ELEC"' in r.text and 'value="north"' in r.text and 'value="191,5"' in r.text
    assert "Nothing was saved" in r.text

    # refused by the service, as the API is: a region that does not exist, a shift ending before it starts
    typed = _form(
        w, csrf, region_id="999999", starts_2="17:00", ends_2="08:00", break_starts_2="", break_ends_2=""
    )
    r = client.post(LIST, data=typed)
    assert r.status_code == 422
    assert "does not exist any more" in _error(r.text, "region_id")
    assert "the end (08:00) must be after the start (17:00)" in _error(r.text, "ends_2")
    assert 'name="starts_2" type="time" aria-label="Wednesday start" value="17:00"' in r.text
    assert 'name="ends_2" type="time" aria-label="Wednesday end" value="08:00" aria-invalid="true"' in r.text

    half = client.post(
        LIST, data=_form(w, csrf, ends_0="", break_starts_0="", break_ends_0="", starts_3="25:00")
    )
    assert half.status_code == 422
    assert "or neither" in _error(half.text, "ends_0") and "a time of day" in _error(half.text, "starts_3")
    assert 'value="25:00"' in half.text
    blank = client.post(LIST, data=_form(w, csrf, name=" ", region_id="", home_latitude=""))
    assert blank.status_code == 422 and "must not be blank" in _error(blank.text, "name")
    assert "choose a region" in _error(blank.text, "region_id") and _error(blank.text, "home_latitude")
    assert db.scalar(select(Engineer.id)) is None  # nothing was created by any of them


def test_an_edit_carries_the_version_and_a_clash_keeps_what_was_typed(
    client: TestClient, db: Session, sign_in: Any, world: dict[str, Any]
) -> None:
    w = world
    engineer = f.make_engineer(db, w["region"], skills=["HVAC"], user=w["account"], name="Ida Iversen")
    dispatcher = f.make_user(db, role="dispatcher")
    db.commit()
    sign_in("manager")
    url = f"/admin/engineers/{engineer.id}"
    page = client.get(url)
    assert page.status_code == 200 and 'value="HVAC"' in page.text and 'value="48.15"' in page.text
    opened = {k: v for k, v in _form(w, csrf_of(page.text)).items()} | {"version": _version(page.text)}

    same = client.post(
        url,
        data=opened | {"skills": "HVAC", "home_latitude": "48.15", "home_longitude": "11.55"},
        follow_redirects=False,
    )
    assert same.status_code == 303 and same.headers["location"].endswith("done=unchanged")

    # a dispatcher changes the profile through the API meanwhile
    api = f"/api/v1/engineers/{engineer.id}"
    etag = client.get(api, headers=f.bearer(dispatcher)).headers["ETag"]
    patched = client.patch(api, json={"skills": ["ELEC"]}, headers=f.bearer(dispatcher) | {"If-Match": etag})
    assert patched.status_code == 200, patched.text

    stale = client.post(url, data=opened | {"skills": "HVAC, ELEC", "home_latitude": "47,5"})
    assert stale.status_code == 409 and "Someone else changed this engineer profile" in stale.text
    assert 'value="HVAC, ELEC"' in stale.text and 'value="47,5"' in stale.text  # what was typed is kept
    db.expire_all()
    assert engineer.skills == ["ELEC"] and engineer.home_latitude == 48.15  # theirs, not overwritten

    # a second Save after reading the clash is a knowing one: it carries the version shown now
    again = client.post(
        url,
        data=opened | {"skills": "HVAC, ELEC", "home_latitude": "47,5"} | {"version": _version(stale.text)},
        follow_redirects=False,
    )
    assert again.status_code == 303 and again.headers["location"].endswith("done=saved")
    db.expire_all()
    assert engineer.skills == ["HVAC", "ELEC"] and engineer.home_latitude == 47.5

    saved = client.get(url)
    bad = client.post(
        url,
        data=opened
        | {"version": _version(saved.text), "home_latitude": "95", "starts_6": "09:00", "ends_6": "13:00"},
    )
    assert bad.status_code == 422 and "at most 90" in _error(bad.text, "home_latitude")
    assert 'value="95"' in bad.text and f'name="version" value="{_version(saved.text)}"' in bad.text
    forged = client.post(url, data=opened | {"version": "abc"})
    assert forged.status_code == 422 and "reload the page" in forged.text


def _messages(page: str) -> dict[str, str]:
    found = re.findall(r'<p class="field-error" id="eng-([^"]+)-error">([^<]*)</p>', page)
    return {name: html.unescape(text) for name, text in found}


# the API's field names; the form's messages use its labels instead
API_WORDS = re.compile(
    r"\b(starts|ends|break_starts|break_ends|home_latitude|home_longitude|user_id|region_id)\b"
)


def test_one_submit_names_every_mistake_under_its_field_in_the_forms_words(
    client: TestClient, db: Session, sign_in: Any, world: dict[str, Any]
) -> None:
    """Before, the same form came back three times: the fields, then a half-given day, then the
    service's shift rules, each only once the earlier ones were right."""
    w = world
    sign_in("admin")
    csrf = csrf_of(client.get(LIST).text)
    typed = _form(
        w,
        csrf,
        name="",
        skills="HAVC",
        home_latitude="48.1a",
        starts_0="17:00",
        ends_0="08:00",
        break_starts_0="",
        break_ends_0="",
        break_starts_1="18:00",
        break_ends_1="18:30",
        ends_2="",
        break_starts_2="",
        break_ends_2="",
        break_ends_3="",  # a break with only its start
    )
    r = client.post(LIST, data=typed)
    assert r.status_code == 422
    found = _messages(r.text)
    assert set(found) == {
        "name",
        "skills",
        "home_latitude",
        "ends_0",
        "break_starts_1",
        "ends_2",
        "break_ends_3",
    }
    assert found["ends_0"] == (
        "Monday: the end (08:00) must be after the start (17:00); shifts do not run past midnight"
    )
    assert (
        found["break_starts_1"] == "Tuesday: the break (18:00–18:30) must lie inside the shift (08:00–17:00)"
    )
    assert found["ends_2"] == "Wednesday: give the start and the end, or neither (a day off)"
    assert found["break_ends_3"] == "Thursday: give the break's start and end, or neither (no break)"
    alert = re.search(r'<p class="alert" role="alert">([^<]*)</p>', r.text)
    assert alert and alert[1].startswith("Nothing was saved. Name: must not be blank; Skills: unknown skill")
    assert "Monday: the end (08:00) must be after the start (17:00)" in alert[1]
    assert not API_WORDS.search(alert[1]), alert[1]
    assert db.scalar(select(Engineer.id)) is None

    # the service's account check comes in the same answer as the form's own mistakes, by name
    agent = f.make_user(db, role="agent", name="Alma Agent")
    db.commit()
    both = client.post(
        LIST,
        data=_form(w, csrf, user_id=str(agent.id), home_longitude="x")
        | {"starts_4": "18:00", "break_starts_4": "", "break_ends_4": ""},
    )
    assert set(_messages(both.text)) == {"user_id", "ends_4", "home_longitude"}
    assert _error(both.text, "user_id").startswith("Alma Agent's account has the role agent")
    alert = re.search(r'<p class="alert" role="alert">([^<]*)</p>', both.text)
    assert alert and not API_WORDS.search(alert[1]) and "Friday: the end (17:00)" in alert[1]


def test_a_field_with_a_mistake_keeps_its_time_picker(
    client: TestClient, db: Session, sign_in: Any, world: dict[str, Any]
) -> None:
    w = world
    engineer = f.make_engineer(db, w["region"], name="Ida Iversen")
    db.commit()
    sign_in("dispatcher")
    url = f"/admin/engineers/{engineer.id}"
    page = client.get(url)
    data = _form(w, csrf_of(page.text), version=_version(page.text))
    typed = {
        "starts_1": "17:00",
        "ends_1": "8:00",
        "starts_3": "25:00",
        "starts_2": "0800",
        "ends_2": "17.00:00",
    }
    r = client.post(url, data=data | typed)
    assert r.status_code == 422
    shift_inputs = re.findall(r'<input id="eng-(\w+_\d)" [^>]*>', r.text)
    assert len(shift_inputs) == 28
    assert all('type="time"' in tag for tag in re.findall(r'<input id="eng-\w+_\d" [^>]*>', r.text))
    assert 'name="ends_1" type="time" aria-label="Tuesday end" value="08:00" aria-invalid="true"' in r.text
    assert 'aria-describedby="eng-ends_1-error"' in r.text and "the end (08:00)" in _error(r.text, "ends_1")
    # a time the picker cannot show: the message says what was typed
    assert _error(r.text, "starts_3") == "Thursday start: “25:00” is not a time of day, e.g. 08:00"
    assert 'name="starts_0" type="time" aria-label="Monday start" value="08:00">' in r.text  # unmarked
    # read as typed (ISO's 0800, 17.00 with seconds), shown as the picker shows a time
    assert 'name="starts_2" type="time" aria-label="Wednesday start" value="08:00">' in r.text
    assert 'name="ends_2" type="time" aria-label="Wednesday end" value="17:00">' in r.text


def test_the_profile_names_the_van_and_what_it_holds(
    client: TestClient, db: Session, sign_in: Any, world: dict[str, Any]
) -> None:
    w = world
    engineer = f.make_engineer(db, w["region"], name="Ida Iversen")
    db.commit()
    sign_in("admin")
    url = f"/admin/engineers/{engineer.id}"
    page = client.get(url)
    van = re.search(r"<dt>Van</dt><dd>([^<]*)</dd>", page.text)
    assert van and van[1] == "Van of Ida Iversen: empty"
    location = f.location_of(db, engineer=engineer)
    f.set_stock(db, location, f.make_part(db), 5)
    f.set_stock(db, location, f.make_part(db), 2)
    f.set_stock(db, location, f.make_part(db), 0)  # used up: not held
    db.commit()
    page = client.get(url)
    van = re.search(r"<dt>Van</dt><dd>([^<]*)</dd>", page.text)
    assert van and van[1] == "Van of Ida Iversen: 2 parts, 7 pieces"
    assert "stock location" not in page.text


@pytest.mark.parametrize("role", ["agent", "engineer"])
def test_only_the_roles_that_write_engineers_open_the_pages(
    client: TestClient, db: Session, sign_in: Any, world: dict[str, Any], role: str
) -> None:
    w = world
    engineer = f.make_engineer(db, w["region"], skills=["HVAC"], name="Olaf Old")
    db.commit()
    me = sign_in(role)
    csrf = csrf_of(client.get("/kb").text)
    url = f"/admin/engineers/{engineer.id}"
    for path in (LIST, f"/admin/engineers/new?account={w['account'].id}", url):
        r = client.get(path)
        assert r.status_code == 403 and "dispatchers, managers and admins" in r.text, path
    created = client.post(LIST, data=_form(w, csrf))
    edited = client.post(url, data=_form(w, csrf, version=str(engineer.version), name="Mallory"))
    assert created.status_code == edited.status_code == 403
    db.expire_all()
    assert (
        engineer.name == "Olaf Old"
        and db.scalar(select(Engineer).where(Engineer.user_id.is_not(None))) is None
    )
    assert 'href="/admin/engineers"' not in client.get("/kb").text  # no menu link that answers 403
    # an engineer's own profile is not theirs to edit here either
    if role == "engineer":
        own = f.make_engineer(db, w["region"], user=me)
        db.commit()
        assert client.get(f"/admin/engineers/{own.id}").status_code == 403


@pytest.mark.parametrize("role", ["dispatcher", "manager"])
def test_dispatchers_and_managers_use_the_pages(
    client: TestClient, db: Session, sign_in: Any, world: dict[str, Any], role: str
) -> None:
    sign_in(role)
    page = client.get(LIST)
    assert page.status_code == 200 and 'href="/admin/engineers" aria-current="page"' in page.text
    assert client.get("/admin/engineers/999999").status_code == 404


def test_signed_out_goes_to_the_sign_in_page(client: TestClient, world: dict[str, Any]) -> None:
    r = client.get(LIST, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_an_admin_links_an_existing_profile_to_the_account(
    client: TestClient, db: Session, sign_in: Any, world: dict[str, Any]
) -> None:
    w = world
    engineer = f.make_engineer(db, w["region"], name="Ida Iversen")  # made before she had an account
    agent = f.make_user(db, role="agent")
    db.commit()
    sign_in("admin")
    url = f"/admin/engineers/{engineer.id}"
    page = client.get(url)
    assert f'<option value="{w["account"].id}">' in page.text
    data = _form(w, csrf_of(page.text), version=_version(page.text))
    forged = client.post(url, data=data | {"user_id": str(agent.id)})
    assert forged.status_code == 422
    assert f"{agent.name}'s account has the role agent" in _error(forged.text, "user_id")
    r = client.post(url, data=data, follow_redirects=False)
    assert r.status_code == 303
    db.expire_all()
    assert engineer.user_id == w["account"].id
    agent_page = client.get(f"/admin/users/{agent.id}")
    assert agent_page.status_code == 200 and "engineer profile" not in agent_page.text


HOSTILE: tuple[str, ...] = (
    *("", " ", "x" * 3000, "²", "１２", "-1", "99999999999", "1e3", "NaN", "inf", "true", "\x00", 'a"b'),
    *("12,5,3", "..", "24:00", "23:60", "8", "08:00+02:00", "<script>", "😀", "0001-01-01", ", , ,"),
)


def test_no_hostile_value_in_any_field_answers_500(
    client: TestClient, db: Session, sign_in: Any, world: dict[str, Any]
) -> None:
    """tests/web/test_page_fuzz.py fuzzes declared Form() fields only; these forms are read whole."""
    w = world
    engineer = f.make_engineer(db, w["region"], name="Fuzz Target")
    db.commit()
    sign_in("admin")
    csrf = csrf_of(client.get(LIST).text)
    rng = random.Random(20261206)
    fields = [k for k in _form(w, csrf) if k != "csrf"] + ["starts_6", "break_ends_5", "version"]
    failures = []
    for _ in range(60):
        data = _form(w, csrf, version=str(engineer.version))
        data |= {k: rng.choice(HOSTILE) for k in rng.sample(fields, 3)}
        for url in (LIST, f"/admin/engineers/{engineer.id}"):
            r = client.post(url, data=data, follow_redirects=False)
            if r.status_code >= 500 or r.status_code not in (303, 409, 422):
                failures.append(f"{url} {data} -> {r.status_code}")
            db.rollback()
            db.expire_all()
    assert not failures, "\n".join(x[:300] for x in failures[:10])


CALENDAR = {
    "absences": {
        "first_day": "2031-03-03",
        "from_time": "13:00",
        "last_day": "2031-03-04",
        "reason": "leave",
    },
    "on-call": {
        "starts_day": "2031-03-07",
        "starts_time": "17:00",
        "ends_day": "2031-03-10",
        "ends_time": "08:00",
        "note": "weekend",
    },
}


def test_no_hostile_value_in_the_absence_and_on_call_forms_answers_500(
    client: TestClient, db: Session, sign_in: Any, world: dict[str, Any]
) -> None:
    """The profile page's absence and on-call forms (and their remove buttons), read whole too; the
    one-time key of the new-profile form as well."""
    w = world
    engineer = f.make_engineer(db, w["region"], name="Fuzz Target")
    db.commit()
    sign_in("dispatcher")
    url = f"/admin/engineers/{engineer.id}"
    csrf = csrf_of(client.get(url).text)
    rng = random.Random(20261207)
    failures = []
    for i in range(60):
        for path, base in CALENDAR.items():
            data = {"csrf": csrf, "key": f"fuzz-{i}-{path}"} | base
            data |= {k: rng.choice(HOSTILE) for k in rng.sample([*base, "key"], 2)}
            r = client.post(f"{url}/{path}", data=data, follow_redirects=False)
            if r.status_code not in (303, 409, 422):
                failures.append(f"{path} {data} -> {r.status_code}")
            db.rollback()
        also = rng.choice(HOSTILE)
        for path in (
            f"{url}/absences/{quote(rng.choice(HOSTILE), safe='')}/remove",
            f"{url}/absences/1/remove",
        ):
            r = client.post(path, data={"csrf": csrf, "also": also}, follow_redirects=False)
            if r.status_code not in (303, 404, 422):
                failures.append(f"{path} also={also!r} -> {r.status_code}")
        created = client.post(
            LIST, data=_form(w, csrf, key=rng.choice(HOSTILE), user_id=""), follow_redirects=False
        )
        if created.status_code not in (303, 409, 422):
            failures.append(f"new profile -> {created.status_code}")
        db.rollback()
        db.expire_all()
    assert not failures, "\n".join(x[:300] for x in failures[:10])


def test_in_planning_no_is_refused_while_the_engineer_has_open_visits(
    client: TestClient, db: Session, sign_in: Any, world: dict[str, Any]
) -> None:
    """ "In planning: No" took the engineer's row off the board and their scheduled visits with it
    (in no row, not under Unassigned), though they stayed on the engineer's route. Refused, naming
    the visits, as for deactivating the account; the form keeps what was typed."""
    from html import unescape

    from app.models import WorkOrder

    w = world
    engineer = f.make_engineer(db, w["region"], skills=["HVAC"], user=w["account"], name="Ida Iversen")
    account = f.make_account(db, region=w["region"])
    site = f.make_site(db, account, region=w["region"])
    visits = [f.make_work_order(db, f.open_ticket(db, account, asset=f.make_asset(db, site))) for _ in "ab"]
    for visit in visits:
        visit.engineer_id, visit.status = engineer.id, "scheduled"  # on their route
    db.commit()
    sign_in("dispatcher")
    url = f"/admin/engineers/{engineer.id}"
    page = client.get(url)
    typed = _form(w, csrf_of(page.text), active="no", home_latitude="47,5") | {"version": _version(page.text)}
    r = client.post(url, data=typed)
    assert r.status_code == 409
    said = f"Ida Iversen still has 2 open visits ({visits[0].number}, {visits[1].number})"
    assert unescape(_error(r.text, "active")).startswith(said)
    assert "In planning: " + said in unescape(r.text)  # the alert above the form names them too
    assert '<option value="no" selected>' in r.text and 'value="47,5"' in r.text  # as typed
    db.expire_all()
    assert engineer.active and engineer.home_latitude == 48.15  # nothing saved

    # the visits moved to someone else on the board: now they leave planning
    for visit in visits:
        moved = db.get_one(WorkOrder, visit.id)
        moved.engineer_id, moved.status = None, "unscheduled"
    db.commit()
    saved = client.post(url, data=typed, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith("done=saved")
    db.expire_all()
    assert not engineer.active
