"""The engineer's "Undo check-in" on the visit page: offered while allowed, behind a confirmation
that works without JavaScript, with the message after it; refusals read as sentences."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Ticket, WorkOrder
from app.platform.db import utcnow
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
    # A new form for a visit no longer on site says so.
    late = client.post(f"{url}/undo-check-in", data={**form, "key": "another-tab", "version": ""})
    assert late.status_code == 409
    assert alert(late.text) == "This visit is not checked in (it is scheduled): there is no check-in to undo."


def test_after_the_grace_period_the_page_offers_no_undo_and_refuses_one(
    client: TestClient, db: Session, login: Any
) -> None:
    _, url, wo = checked_in(client, db, login)
    form = form_fields(client.get(url).text, f"{url}/undo-check-in")
    row = db.get_one(WorkOrder, wo.id)
    row.checked_in_at = utcnow() - timedelta(minutes=20)
    db.commit()

    assert UNDO not in client.get(url).text
    r = client.post(f"{url}/undo-check-in", data={**form, "version": ""})

    assert r.status_code == 409
    assert alert(r.text).startswith(
        "A check-in can only be undone within 15 minutes; this one was 20 minutes ago."
    )
    assert visit_status(db, url) == "on_site"


def test_another_engineers_visit_cannot_be_undone(client: TestClient, db: Session, login: Any) -> None:
    w, url, wo = checked_in(client, db, login)
    as_engineer(client, w, 0)
    csrf = csrf_of(client.get("/field").text)  # their own session's token (the sign-out form)
    r = client.post(f"{url}/undo-check-in", data={"csrf": csrf, "key": "theirs"})
    assert r.status_code == 404 and "is not on your route" in r.text  # as for check-in
    assert visit_status(db, url) == "on_site"
