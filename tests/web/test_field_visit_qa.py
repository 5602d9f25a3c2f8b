"""QA on the demo (field engineer, phone pages): a report of zero-width spaces closed the visit; a
second report from another tab was dropped without a word (typed text gone); Back showed
"Checked in." above a visit since undone; a refused check-in was answered at the form's address."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import Ticket, WorkOrder
from tests.web.conftest import csrf_of
from tests.web.test_field_pages import (
    alert,
    as_engineer,
    form_fields,
    on_site,
    planned_world,
    van_stock,
    visit_status,
)


def flash(html: str) -> bool:
    """Whether the page shows a `?done=` confirmation (the banner above the visit)."""
    return "data-draft-saved=" in html


# --- 1. invisible text is no report ----------------------------------------------------------------


def test_a_report_of_invisible_characters_is_refused_and_closes_nothing(
    client: TestClient, db: Session, login: Any
) -> None:
    w, url, report, _ = on_site(client, db, login, pickup=True)
    r = client.post(f"{url}/report", data={**report, "work_done": "\u200b\u200b"})
    assert r.status_code == 422
    assert "Work done: describe the work done" in alert(r.text)
    assert "Service report filed." not in r.text
    assert visit_status(db, url) == "on_site"
    wo = db.get_one(WorkOrder, w.work_orders[-1].id)
    assert db.get_one(Ticket, wo.ticket_id).status != "resolved"


# --- 2. a second report (another tab) says which report stands and keeps its text -----------------


def test_a_report_from_a_second_tab_says_the_visit_is_finished_and_keeps_the_text(
    client: TestClient, db: Session, login: Any
) -> None:
    w, url, report, extra = on_site(client, db, login, pickup=True)
    second_tab = form_fields(client.get(url).text, f"{url}/report")  # its own key, the same version
    assert second_tab["key"] != report["key"]
    assert client.post(f"{url}/report", data=report).status_code == 200  # tab 1 files it
    assert visit_status(db, url) == "done"
    before = van_stock(db, w, extra[0])

    typed = {
        **report,
        **second_tab,
        "work_done": "Cleaned the condensate drain, replaced the seal.",
        "other_part": str(extra[0].id),
        "other_qty": "1",
    }
    r = client.post(f"{url}/report", data=typed, follow_redirects=False)
    assert r.status_code == 303 and "?draft=" in r.headers["location"]  # Post/Redirect/Get
    shown = client.get(r.headers["location"])

    assert shown.status_code == 409
    said = alert(shown.text)
    assert said.startswith("This visit is already finished: its service report was filed on ")
    assert said.endswith(" by you.")
    assert "Cleaned the condensate drain, replaced the seal." in shown.text  # kept, to copy
    assert 'id="unfiled-report"' in shown.text
    assert "Swapped the pressure switch." in shown.text  # the report that stands
    assert van_stock(db, w, extra[0]) == before  # nothing booked
    db.expire_all()
    assert db.get_one(WorkOrder, w.work_orders[-1].id).report_work_done == "Swapped the pressure switch."
    # a reload shows the same; the other tab's own text is still there
    again = client.get(r.headers["location"])
    assert alert(again.text) == said and "Cleaned the condensate drain" in again.text
    # the same with a slip in the form (no text): the finished visit is the reason given
    slip = client.post(f"{url}/report", data={**typed, "key": "third", "work_done": ""})
    assert slip.status_code == 409 and alert(slip.text) == said


# --- 3. the banner never contradicts the visit's status --------------------------------------------


def test_back_to_an_old_confirmation_does_not_contradict_the_status(
    client: TestClient, db: Session, login: Any
) -> None:
    w, _ = planned_world(client, db, login)
    as_engineer(client, w)
    url = f"/field/visits/{w.work_orders[-1].id}"
    checked_in = client.post(f"{url}/check-in", data=form_fields(client.get(url).text, f"{url}/check-in"))
    assert checked_in.url.query == b"done=checked-in" and "Checked in." in checked_in.text
    assert flash(client.get(str(checked_in.url)).text)  # still true: shown again
    undone = client.post(f"{url}/undo-check-in", data=form_fields(checked_in.text, f"{url}/undo-check-in"))
    assert "Check-in undone" in undone.text and visit_status(db, url) == "scheduled"

    back = client.get(str(checked_in.url))  # Back to the check-in's page

    assert back.status_code == 200 and "Checked in." not in back.text and not flash(back.text)
    assert 'id="check-in-form"' in back.text
    # checked in again, checked out, reported: Back to "Checked out." above a finished visit
    again = client.post(f"{url}/check-in", data=form_fields(back.text, f"{url}/check-in"))
    out = client.post(f"{url}/check-out", data=form_fields(again.text, f"{url}/check-out"))
    assert out.url.query == b"done=checked-out" and "Checked out." in out.text
    report = {**form_fields(out.text, f"{url}/report"), "work_done": "Reset the controller.", "fixed": "no"}
    report.update({f"qty_{w.parts[0].id}": "0"})
    filed = client.post(f"{url}/report", data=report)
    assert "Service report filed." in filed.text and visit_status(db, url) == "needs_follow_up"
    old = client.get(str(out.url))
    assert "Checked out." not in old.text and not flash(old.text)
    assert "Service report filed." in client.get(str(filed.url)).text  # still true


# --- 4. a refused check-in: Post/Redirect/Get, still a 409 ----------------------------------------


def test_a_refused_check_in_is_shown_at_the_visits_address(
    client: TestClient, db: Session, login: Any
) -> None:
    w, url, report, _ = on_site(client, db, login, pickup=True)
    assert client.post(f"{url}/report", data=report).status_code == 200
    form = {"csrf": csrf_of(client.get(url).text), "key": "late-check-in"}

    r = client.post(f"{url}/check-in", data=form)

    assert [h.status_code for h in r.history] == [303]
    assert r.url.path == url and r.url.query == b"refused=check-in"
    assert r.status_code == 409
    assert alert(r.text) == "This visit is already finished: its service report was filed."
    reload = client.get(str(r.url))  # a reload sends nothing again
    assert reload.status_code == 409 and alert(reload.text) == alert(r.text)


def test_a_stale_check_in_form_says_the_visit_changed(client: TestClient, db: Session, login: Any) -> None:
    w, _ = planned_world(client, db, login)
    as_engineer(client, w)
    url = f"/field/visits/{w.work_orders[-1].id}"
    form = form_fields(client.get(url).text, f"{url}/check-in")
    db.expire_all()
    visit = db.get_one(WorkOrder, w.work_orders[-1].id)
    visit.notes = "Ring twice."  # dispatch edits it meanwhile: its version moves on
    db.commit()

    r = client.post(f"{url}/check-in", data=form)

    assert [h.status_code for h in r.history] == [303] and r.status_code == 409
    assert alert(r.text).startswith("You were not checked in: this visit changed while the page was open.")
    assert "Ring twice." in r.text and visit_status(db, url) == "scheduled"
