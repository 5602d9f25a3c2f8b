"""QA on the demo seed, Mon 07 Dec: "On my way" on Tuesday's visit put it en route a day early and
said the customer's ETA was updated (it was not, there or today) with no way back; the route header
said "leave 17:00" above a stop done 13:15–15:26; Back after a refused report asked to send the
form again (the 409 page was rendered at the POST address)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import PlanRoute, WorkOrder
from tests.field.workorders.world import on_the_day
from tests.web.test_field_pages import alert, as_engineer, form_fields, on_site, planned_world, visit_status

# --- "On my way": only on the planned day, says what it did, can be taken back --------------------


def test_the_page_offers_on_my_way_on_the_planned_day_only_and_says_no_false_eta(
    client: TestClient, db: Session, login: Any
) -> None:
    w, day = planned_world(client, db, login)  # a coming weekday, never today
    as_engineer(client, w)
    wo = w.work_orders[-1]
    url = f"/field/visits/{wo.id}"
    page = client.get(url).text
    assert f'action="{url}/en-route"' not in page
    # an old page (or a forged form) is refused with the day, and nothing changes
    go = {**form_fields(page, f"{url}/check-in"), "key": "early"}
    r = client.post(f"{url}/en-route", data=go)
    assert r.status_code == 409
    assert alert(r.text).startswith(f"This visit is planned for {day:%a %d %b}, not today")
    assert visit_status(db, url) == "scheduled"

    db.expire_all()
    before = db.get_one(WorkOrder, wo.id)
    planned_eta = before.eta_at
    assert before.planned_start_at is not None
    with on_the_day(before.planned_start_at - timedelta(hours=1)):
        ok = client.post(f"{url}/en-route", data={**go, "key": "on-the-day"})
    assert ok.status_code == 200 and visit_status(db, url) == "en_route"
    assert "ETA is updated" not in ok.text and "the ETA stays as planned" in ok.text
    assert db.get_one(WorkOrder, wo.id).eta_at == planned_eta  # as the message says

    # taken back from the page: scheduled again, with its planned ETA
    undo = form_fields(ok.text, f"{url}/not-en-route")
    back = client.post(f"{url}/not-en-route", data=undo)
    assert back.status_code == 200 and "Not on your way" in back.text
    assert visit_status(db, url) == "scheduled"
    assert db.get_one(WorkOrder, wo.id).eta_at == planned_eta
    again = client.post(f"{url}/not-en-route", data={**undo, "key": "again", "version": ""})
    assert again.status_code == 409 and "not on your way" in alert(again.text)


# --- the route header -------------------------------------------------------------------------


def test_the_route_header_says_when_the_day_started_once_a_visit_is_checked_in(
    client: TestClient, db: Session, login: Any
) -> None:
    w, day = planned_world(client, db, login)
    as_engineer(client, w)
    route_url = f"/field?day={day.isoformat()}"
    head = client.get(route_url).text.split('<section class="card map-card"')[0]
    db.expire_all()
    departure = db.scalar(select(PlanRoute.departure_at).where(PlanRoute.engineer_id == w.engineers[1].id))
    assert departure is not None
    tz = ZoneInfo("Europe/Berlin")
    assert f"leave {departure.astimezone(tz):%H:%M}" in head and "started" not in head
    # the demo's case: the first stop was done hours before the plan's departure
    wo = db.get_one(WorkOrder, w.work_orders[-1].id)
    wo.status = "done"
    wo.checked_in_at = departure - timedelta(hours=3)
    wo.checked_out_at = departure - timedelta(hours=1)
    db.commit()
    head = client.get(route_url).text.split('<section class="card map-card"')[0]
    assert f"started {wo.checked_in_at.astimezone(tz):%H:%M}" in head and "leave" not in head


# --- a refused report: Post/Redirect/Get, keeping what was typed ----------------------------------


def test_a_refused_report_redirects_to_a_page_that_keeps_the_draft(
    client: TestClient, db: Session, login: Any
) -> None:
    w, url, report, extra = on_site(client, db, login, pickup=True)
    too_many = {
        **report,
        "work_done": "Swapped the seal kit.",
        "other_part": str(extra[0].id),
        "other_qty": "9",
    }
    r = client.post(f"{url}/report", data=too_many, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith(f"{url}?draft=")
    shown = client.get(r.headers["location"])  # a GET address: Back or reload sends nothing again
    assert shown.status_code == 409 and "Dichtungssatz" in alert(shown.text)
    assert "Swapped the seal kit." in shown.text and f'<option value="{extra[0].id}" selected>' in shown.text
    assert 'value="9"' in shown.text and re.search(
        r'value="yes" data-draft="visit-\d+-fixed" checked', shown.text
    )
    # a form error (no quantity for a chosen part) goes the same way
    slip = client.post(f"{url}/report", data={**too_many, "other_qty": ""}, follow_redirects=False)
    assert slip.status_code == 303 and "?draft=" in slip.headers["location"]
    assert client.get(slip.headers["location"]).status_code == 422
    # corrected and filed; Back to the refused page shows the finished visit, not the old refusal
    fixed = form_fields(shown.text, f"{url}/report")
    filed = client.post(f"{url}/report", data={**too_many, **fixed, "other_qty": "1"})
    assert filed.status_code == 200 and "Service report filed." in filed.text
    back = client.get(r.headers["location"])
    assert back.status_code == 200 and alert(back.text) == "" and "Swapped the seal kit." in back.text
    # another user's draft address shows nothing of it
    as_engineer(client, w, 0)
    assert client.get(r.headers["location"]).status_code == 404
