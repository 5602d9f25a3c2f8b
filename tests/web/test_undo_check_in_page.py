"""The engineer's "Undo check-in" on the visit page: offered while allowed, behind a confirmation
that works without JavaScript, with the message after it; refusals read as sentences."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.field.workorders import visits
from app.models import Ticket, User, WorkOrder
from app.planning import triggers
from app.platform.db import utcnow
from app.web import field as field_pages
from tests.planning.test_out_of_order_check_in import _planned_day
from tests.web.conftest import csrf_of
from tests.web.test_field_pages import alert, as_engineer, form_fields, planned_world, visit_status

UNDO = "Undo check-in"


def checked_in(client: TestClient, db: Session, login: Any) -> tuple[Any, str, WorkOrder]:
    w, _ = planned_world(client, db, login)
    wo = w.work_orders[-1]  # engineer 1's visit
    as_engineer(client, w)
    url = f"/field/visits/{wo.id}"
    assert UNDO not in client.get(url).text  # nothing to undo before the check-in
    r = client.post(f"{url}/check-in", data=form_fields(client.get(url).text, f"{url}/check-in"))
    assert r.status_code == 200 and visit_status(db, url) == "on_site"
    return w, url, wo


def test_undo_check_in_from_the_visit_page(client: TestClient, db: Session, login: Any) -> None:
    w, url, wo = checked_in(client, db, login)
    page = client.get(url).text
    assert f'<summary class="btn">{UNDO}</summary>' in page  # opens the confirmation
    assert "Yes, undo my check-in" in page and "Possible until" in page
    form = form_fields(page, f"{url}/undo-check-in")

    r = client.post(f"{url}/undo-check-in", data=form)

    assert r.status_code == 200
    assert "Check-in undone: the visit is back on your route as it was" in r.text
    assert visit_status(db, url) == "scheduled"
    assert UNDO not in r.text and 'id="check-in-form"' in r.text  # can check in again
    ticket = db.get_one(Ticket, db.get_one(WorkOrder, wo.id).ticket_id)
    assert ticket.arrived_at is None
    # The same form sent twice replays; nothing is undone twice.
    again = client.post(f"{url}/undo-check-in", data=form)
    assert again.status_code == 200 and "That was already done" in again.text
    # A new form for a visit no longer on site says so, at the visit's own address.
    late = client.post(f"{url}/undo-check-in", data={**form, "key": "another-tab", "version": ""})
    assert late.url.path == url and [h.status_code for h in late.history] == [303]
    assert alert(late.text) == "This visit is not checked in (it is scheduled): there is no check-in to undo."


def test_after_the_grace_period_the_page_offers_no_undo_and_refuses_one(
    client: TestClient, db: Session, login: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url, wo = checked_in(client, db, login)
    form = form_fields(client.get(url).text, f"{url}/undo-check-in")
    now = utcnow()
    for module in (visits, field_pages):  # the clock stands still: the message is exact
        monkeypatch.setattr(module, "utcnow", lambda: now)
    row = db.get_one(WorkOrder, wo.id)
    row.checked_in_at = now - timedelta(minutes=20)
    db.commit()

    assert UNDO not in client.get(url).text
    r = client.post(f"{url}/undo-check-in", data={**form, "version": ""})

    # Post/Redirect/Get: the refusal is shown at the visit's address, so a reload does not post again.
    assert [h.status_code for h in r.history] == [303]
    assert r.url.path == url and r.url.query == b"refused=undo-check-in"
    said = (
        "A check-in can only be undone within 15 minutes; this one was 20 min ago. Ask dispatch to undo it."
    )
    assert alert(r.text) == said  # the API's hint, word for word
    assert visit_status(db, url) == "on_site"
    reload = client.get(str(r.url))
    assert alert(reload.text) == said and visit_status(db, url) == "on_site"


def test_another_engineers_visit_cannot_be_undone(client: TestClient, db: Session, login: Any) -> None:
    w, url, wo = checked_in(client, db, login)
    as_engineer(client, w, 0)
    csrf = csrf_of(client.get("/field").text)  # their own session's token (the sign-out form)
    r = client.post(f"{url}/undo-check-in", data={"csrf": csrf, "key": "theirs"})
    assert r.status_code == 404 and "is not on your route" in r.text  # as for check-in
    assert visit_status(db, url) == "on_site"


def numbers(client: TestClient, day: str = "") -> dict[int, str]:
    """The route page's number of each visit (the circle of its stop), by work order id."""
    html = client.get(f"/field?day={day}" if day else "/field").text
    out = {}
    for stop in html.split('<li class="stop ')[1:]:
        mark = re.search(r'<span class="seq" aria-hidden="true">([^<]*)</span>', stop)
        visit = re.search(r'href="/field/visits/(\d+)"', stop)
        if mark and visit:
            out[int(visit[1])] = mark[1]
    return out


def stop_no(client: TestClient, wid: int) -> str:
    """What the visit page calls the visit's stop: "(stop 4)"."""
    html = client.get(f"/field/visits/{wid}").text
    found = re.search(r"\(stop ([^)]*)\)", html)
    assert found, "the visit page names its stop"
    return found[1]


def test_the_visit_page_numbers_its_stop_as_the_route_page_does(
    client: TestClient, db: Session, login: Any
) -> None:
    w, day = planned_world(client, db, login)  # engineer 1's visit needs a pickup stop before it
    as_engineer(client, w)
    route = numbers(client, day.isoformat())
    assert "Pick up at" in client.get(f"/field?day={day.isoformat()}").text

    assert sorted(route.values()) == [str(i) for i in range(1, len(route) + 1)]  # visits only
    for wid, mark in route.items():
        assert stop_no(client, wid) == mark  # the pickup before it is no "stop"


def test_after_an_undo_the_stop_number_is_the_visits_own_again_before_any_re_plan(
    client: TestClient, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    w, _today, ordered, elec = _planned_day(db)  # three visits today, in this order
    as_engineer(client, w)
    last = ordered[-1]
    assert numbers(client)[last.id] == stop_no(client, last.id) == "3"
    actor = db.get_one(User, elec.user_id)
    visits.check_in(db, work_order=last, actor=actor)  # out of order: today is re-planned around it
    db.commit()
    assert numbers(client)[last.id] == stop_no(client, last.id) == "1"  # on site now, before the others
    # The undo asks for a re-plan; the page is read before the worker has run it.
    monkeypatch.setattr(triggers, "request_replan", lambda *a, **k: None)

    visits.undo_check_in(db, work_order=db.get_one(WorkOrder, last.id), actor=actor)
    db.commit()

    assert numbers(client)[last.id] == stop_no(client, last.id) == "3"  # back at its place, not "stop 1"
