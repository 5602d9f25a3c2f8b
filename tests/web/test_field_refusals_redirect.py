"""The engineer's refused "On my way", "Not on my way", check-out and "I picked these up" are
answered at the visit's own address (`?refused=<action>`, Post/Redirect/Get), as a refused check-in
is: drawn at the form's POST address, a reload of the page asked to send the form again."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.models import StockLevel, WorkOrder
from tests import factories as f
from tests.web.conftest import csrf_of
from tests.web.test_field_pages import (
    alert,
    as_engineer,
    form_fields,
    on_site,
    planned_world,
    visit_status,
)

FINISHED = "This visit is already finished: its service report was filed."


def refused_at_the_visit(client: TestClient, url: str, action: str, form: dict[str, str]) -> str:
    """POST `action`, check the answer is a 303 to the visit page naming the refusal, and that
    page (and its reload) answers 409 with one reason; that reason."""
    r = client.post(f"{url}/{action}", data=form, follow_redirects=False)
    assert r.status_code == 303, (action, r.status_code)
    assert r.headers["location"] == f"{url}?refused={action}"
    shown = client.get(r.headers["location"])
    assert shown.status_code == 409, action
    said = alert(shown.text)
    assert said, action
    reload = client.get(r.headers["location"])  # sends nothing again
    assert reload.status_code == 409 and alert(reload.text) == said
    return said


def test_on_my_way_on_a_later_days_visit_is_refused_at_the_visits_address(
    client: TestClient, db: Session, login: Any
) -> None:
    w, day = planned_world(client, db, login)  # a coming weekday, never today
    as_engineer(client, w)
    url = f"/field/visits/{w.work_orders[-1].id}"
    form = {**form_fields(client.get(url).text, f"{url}/check-in"), "key": "early"}

    said = refused_at_the_visit(client, url, "en-route", form)

    assert said.startswith(f"This visit is planned for {day:%a %d %b}, not today")
    assert visit_status(db, url) == "scheduled"


def test_not_on_my_way_when_not_on_the_way_is_refused_at_the_visits_address(
    client: TestClient, db: Session, login: Any
) -> None:
    w, _ = planned_world(client, db, login)
    as_engineer(client, w)
    url = f"/field/visits/{w.work_orders[-1].id}"
    form = {"csrf": csrf_of(client.get(url).text), "key": "not-going"}

    said = refused_at_the_visit(client, url, "not-en-route", form)

    assert said == "You are not on your way to this visit; nothing to take back."
    assert visit_status(db, url) == "scheduled"


def test_a_check_out_before_the_check_in_is_refused_at_the_visits_address(
    client: TestClient, db: Session, login: Any
) -> None:
    w, _ = planned_world(client, db, login)
    as_engineer(client, w)
    url = f"/field/visits/{w.work_orders[-1].id}"
    form = {"csrf": csrf_of(client.get(url).text), "key": "early-out"}

    said = refused_at_the_visit(client, url, "check-out", form)

    assert said == "Check in first: you can only check out of a visit you checked in to."
    assert visit_status(db, url) == "scheduled"


@pytest.mark.parametrize("action", ["en-route", "not-en-route", "check-out", "pickup"])
def test_actions_on_a_finished_visit_are_refused_at_the_visits_address(
    client: TestClient, db: Session, login: Any, action: str
) -> None:
    w, url, report, _ = on_site(client, db, login, pickup=True)
    assert client.post(f"{url}/report", data=report).status_code == 200
    form = {"csrf": csrf_of(client.get(url).text), "key": f"late-{action}"}

    assert refused_at_the_visit(client, url, action, form) == FINISHED
    assert visit_status(db, url) == "done"


def test_a_stale_check_out_form_says_the_visit_changed(client: TestClient, db: Session, login: Any) -> None:
    w, url, _, _ = on_site(client, db, login, pickup=True)
    form = form_fields(client.get(url).text, f"{url}/check-out")
    db.expire_all()
    visit = db.get_one(WorkOrder, w.work_orders[-1].id)
    visit.notes = "Ring twice."  # dispatch edits it meanwhile: its version moves on
    db.commit()

    said = refused_at_the_visit(client, url, "check-out", form)

    assert said.startswith("You were not checked out: this visit changed while the page was open.")
    db.expire_all()
    assert db.get_one(WorkOrder, visit.id).checked_out_at is None


def test_a_pickup_whose_parts_are_gone_is_refused_at_the_visits_address_from_either_page(
    client: TestClient, db: Session, login: Any
) -> None:
    w, _ = planned_world(client, db, login)
    as_engineer(client, w)
    w.parts[0].name, w.parts[0].sku = "Druckschalter", "PMP-5005"
    url = f"/field/visits/{w.work_orders[-1].id}"
    form = form_fields(client.get(url).text, f"{url}/pickup")
    # The unit and its hold were taken off the warehouse's level (the reservation still holds it).
    db.execute(
        update(StockLevel)
        .where(
            StockLevel.location_id == f.location_of(db, warehouse=w.warehouse).id,
            StockLevel.part_id == w.parts[0].id,
        )
        .values(quantity=0, reserved=0)
    )
    db.commit()

    said = refused_at_the_visit(client, url, "pickup", form)

    assert " no longer holds the 1 × Druckschalter (PMP-5005) reserved for this visit" in said
    # tapped on the route's pickup stop: the refusal is shown on the visit, not "picked up" on the route
    r = client.post(
        f"{url}/pickup", data={**form, "key": "from-route", "back": "route"}, follow_redirects=False
    )
    assert r.status_code == 303 and r.headers["location"] == f"{url}?refused=pickup"
