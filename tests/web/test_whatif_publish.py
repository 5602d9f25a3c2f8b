"""Publishing a what-if from its preview, when it cannot be: every refusal of
`POST /board/what-if/publish` answers on the board (422 for a form that is not its preview's or
bad input, 409 for a preview that no longer holds), keeps the what-if in its form with a link
that previews it again, and writes nothing — the published plan, the visits, the absences stay
as they were, also when the publish crashes half-way. A double submit publishes once."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.models import Absence, Engineer, PlanDay, PlanRun, Ticket, TicketStatus, User, WorkOrder
from tests import factories as f
from tests.planning import world as pw
from tests.web.test_board_pages import _field_error, _planned_world, _typed, _whatif_form

ABSENCE_FORM = "What if an engineer is absent"
EMERGENCY_FORM = "What if an emergency comes in"


def _publish_form(html: str) -> dict[str, str]:
    form = html[html.index('action="/board/what-if/publish"') :]
    form = form[: form.index("</form>")]
    fields = {k: unescape(v) for k, v in re.findall(r'name="(\w+)" value="([^"]*)"', form)}
    return {**fields, "reason": "sickness"} if fields.get("kind") == "absence" else fields


def _state(db: Session, w: pw.World) -> dict[str, Any]:
    """What a publish changes: the day's published run, the visits' plan fields, absences, runs."""
    db.expire_all()
    return {
        "current": db.scalar(select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id)),
        "visits": sorted(
            db.execute(
                select(
                    WorkOrder.id,
                    WorkOrder.engineer_id,
                    WorkOrder.planned_start_at,
                    WorkOrder.status,
                    WorkOrder.version,
                ).where(WorkOrder.region_id == w.region.id)
            )
            .tuples()
            .all()
        ),
        "absences": db.scalar(select(func.count()).select_from(Absence)),
        "runs": db.scalar(select(func.count()).select_from(PlanRun)),
    }


def _on_the_board(r: Any, status: int) -> str:
    html: str = r.text
    assert r.status_code == status, html[:400]
    assert 'id="board-data"' in r.text and "Plan the day" in r.text  # the board, not an error page
    assert "Start page" not in r.text and "Check your input" not in r.text
    assert "Nothing was recorded or published" in r.text
    for pydantic in ("Field required", "Input should", "value_error", "Traceback"):
        assert pydantic not in r.text
    return html


def _refusal(html: str) -> str:
    box = re.search(r'<div class="alert[^"]*" role="alert" id="whatif-refused">(.*?)</div>', html, re.S)
    assert box, "no refusal box"
    return unescape(re.sub(r"<[^>]+>", "", box.group(1)))


def _again(client: TestClient, html: str) -> Any:
    link = re.search(r'id="whatif-again" href="([^"]+)"', html)
    assert link, "no way to preview again"
    return client.get(unescape(link.group(1)))


def _absence_preview(client: TestClient, w: pw.World, day: Any, engineer: Engineer, at: str = "12:30") -> str:
    params = {"region": w.region.id, "day": day.isoformat(), "kind": "absence"}
    page = client.get("/board/what-if", params={**params, "engineer_id": engineer.id, "absent_from": at})
    html: str = page.text
    assert page.status_code == 200 and "Record the absence and publish this plan" in html, html[:300]
    return html


def _out_of_planning(db: Session, engineer_id: int) -> None:
    """A dispatcher moves the engineer's visits off their route, then takes them out of planning
    (refused while they have open visits: app/field/engineers/staffing.py)."""
    for visit in db.scalars(
        select(WorkOrder).where(WorkOrder.engineer_id == engineer_id, WorkOrder.status == "scheduled")
    ):
        visit.engineer_id, visit.status = None, "unscheduled"
    db.flush()
    db.get_one(Engineer, engineer_id).active = False
    db.commit()


def _emergency_ticket(db: Session, w: pw.World) -> Ticket:
    assert w.account is not None
    site = f.make_site(db, w.account, region=w.region, latitude=48.15, longitude=11.58)
    asset = f.make_asset(db, site, product_model=f.make_product_model(db, skill="ELEC"))
    ticket: Ticket = f.open_ticket(db, w.account, asset=asset, subject="Lift stuck")
    db.commit()
    assert ticket.number
    return ticket


def _emergency_preview(client: TestClient, w: pw.World, day: Any, **typed: str) -> str:
    params = {"region": w.region.id, "day": day.isoformat(), "kind": "emergency", "skill": "ELEC", **typed}
    page = client.get("/board/what-if", params=params)
    html: str = page.text
    assert page.status_code == 200 and "Open the emergency visit and publish this plan" in html
    return html


def test_a_changed_or_missing_hidden_field_is_refused_on_the_board_and_writes_nothing(
    client: TestClient, db: Session, login: Any, sign_in: Callable[..., User]
) -> None:
    w, day = _planned_world(client, db, login("dispatcher"))
    sign_in("dispatcher")
    ada, bea = w.engineers
    form = _publish_form(_absence_preview(client, w, day, ada, "12:30"))
    before = _state(db, w)
    other_day = (day + timedelta(days=1)).isoformat()
    tampered = {
        "another engineer": {"engineer_id": str(bea.id)},
        "another time": {"absent_from": "09:00"},
        "another day (the form of another day's preview)": {"day": other_day},
        "no region (the first one's board)": {"region": ""},
        "no moment": {"as_of": "x"},
        "another token": {"token": "0" * 64 + ":0"},
        "no signature": {"stamp": ""},
        "no kind": {"kind": "party"},
    }
    for why, change in tampered.items():
        page = _on_the_board(client.post("/board/what-if/publish", data={**form, **change}), 422)
        said = _refusal(page)
        assert "correct what is marked below and preview again" in said, why
        assert "is not the one its preview made" in said or "names no what-if" in said, (why, said)
        assert _state(db, w) == before, why
    # the board answered is the preview's region and day, the absence form holding the what-if
    page = _on_the_board(client.post("/board/what-if/publish", data={**form, "stamp": ""}), 422)
    assert f"{day:%a %d %b %Y}" in page
    absence = _whatif_form(page, ABSENCE_FORM)
    assert f'<option value="{ada.id}" selected>' in absence and _typed(absence, "absent_from") == "12:30"
    again = _again(client, page)
    assert again.status_code == 200 and f"What if {ada.name} were absent from 12:30 on" in again.text
    # a region or day that is none: the first region's board, saying so, nothing written
    for change in ({"region": "abc"}, {"region": "99999"}, {"day": "2026-13-45"}):
        page = _on_the_board(client.post("/board/what-if/publish", data={**form, **change}), 422)
        assert "names no region and day of a preview" in _refusal(page)
        assert 'id="whatif-again"' not in page
    # what is typed on the preview page is input: a blank reason
    page = _on_the_board(client.post("/board/what-if/publish", data={**form, "reason": "   "}), 422)
    assert "Reason for the absence: 1 to 40 characters" in _refusal(page)
    assert _state(db, w) == before
    # the untouched form still publishes
    ok = client.post("/board/what-if/publish", data=form)
    assert ok.status_code == 200 and "The absence is recorded and the previewed plan is published." in ok.text


def test_a_ticket_typed_on_a_preview_at_a_place_is_checked_as_input(
    client: TestClient, db: Session, login: Any, sign_in: Callable[..., User]
) -> None:
    w, day = _planned_world(client, db, login("dispatcher"))
    ticket = _emergency_ticket(db, w)
    sign_in("dispatcher")
    form = _publish_form(_emergency_preview(client, w, day, latitude="48.15", longitude="11.58"))
    assert form["ticket"] == "" if "ticket" in form else True
    before = _state(db, w)
    for typed, message in (
        ("", "name the ticket the emergency visit is opened on"),
        ("T-0999999", "no ticket"),
    ):
        page = _on_the_board(client.post("/board/what-if/publish", data={**form, "ticket": typed}), 422)
        assert message in _field_error(page, "ticket")
        assert _typed(_whatif_form(page, EMERGENCY_FORM), "latitude") == "48.15"
        assert _state(db, w) == before
    # the place and skill are the preview's: another skill is not this preview
    page = _on_the_board(
        client.post("/board/what-if/publish", data={**form, "ticket": ticket.number, "skill": "HVAC"}), 422
    )
    assert "is not the one its preview made" in _refusal(page)
    ok = client.post("/board/what-if/publish", data={**form, "ticket": ticket.number})
    assert ok.status_code == 200 and "The emergency visit is opened" in ok.text


def test_a_preview_that_no_longer_holds_is_a_409_on_the_board_and_writes_nothing(
    client: TestClient, db: Session, login: Any, sign_in: Callable[..., User]
) -> None:
    from datetime import time

    w, day = _planned_world(client, db, login("dispatcher"))
    sign_in("dispatcher")
    ada, bea = w.engineers
    # another dispatcher records an absence for the engineer after the preview
    form = _publish_form(_absence_preview(client, w, day, ada, "12:30"))
    db.add(Absence(engineer_id=ada.id, day=day, reason="training", from_time=time(15)))
    db.commit()
    before = _state(db, w)
    page = _on_the_board(client.post("/board/what-if/publish", data=form), 409)
    assert "this preview no longer holds" in _refusal(page)
    assert _field_error(page, "engineer_id").startswith(
        f"{ada.name} is already recorded absent that day (training, from 15:00)"
    )
    assert 'class="alert conflict"' in page and 'id="whatif-again"' in page
    assert _state(db, w) == before
    # the engineer deactivated after the preview
    form = _publish_form(_absence_preview(client, w, day, bea, "13:00"))
    _out_of_planning(db, bea.id)
    before = _state(db, w)
    page = _on_the_board(client.post("/board/what-if/publish", data=form), 409)
    assert _field_error(page, "engineer_id") == f"{bea.name} was deactivated after the preview"
    assert _state(db, w) == before
    # previewing again says why now, on the board as well
    assert _again(client, page).status_code == 422


def test_an_emergency_preview_that_no_longer_holds_opens_no_visit(
    client: TestClient, db: Session, login: Any, sign_in: Callable[..., User]
) -> None:
    w, day = _planned_world(client, db, login("dispatcher"))
    ticket = _emergency_ticket(db, w)
    sign_in("dispatcher")
    # another dispatcher answered the same emergency after this preview: no second visit
    form = _publish_form(_emergency_preview(client, w, day, ticket=str(ticket.number)))
    other = _emergency_preview(client, w, day, ticket=str(ticket.number))
    assert client.post("/board/what-if/publish", data=_publish_form(other)).status_code == 200
    before = _state(db, w)
    page = _on_the_board(client.post("/board/what-if/publish", data=form), 409)
    message = _field_error(page, "ticket")
    assert (
        message.startswith(f"ticket {ticket.number} got visit WO-")
        and "no second visit was opened" in message
    )
    assert _typed(_whatif_form(page, EMERGENCY_FORM), "ticket") == ticket.number
    assert _state(db, w) == before
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(WorkOrder).where(WorkOrder.ticket_id == ticket.id)) == 1
    # the ticket closed after the preview
    second = _emergency_ticket(db, w)
    form = _publish_form(_emergency_preview(client, w, day, ticket=str(second.number)))
    db.get_one(Ticket, second.id).status = TicketStatus.closed
    db.commit()
    before = _state(db, w)
    page = _on_the_board(client.post("/board/what-if/publish", data=form), 409)
    assert _field_error(page, "ticket") == f"ticket {second.number} was closed meanwhile; reopen it first"
    assert _state(db, w) == before
    # the only engineer with the emergency's skill deactivated after the preview
    third = _emergency_ticket(db, w)
    form = _publish_form(_emergency_preview(client, w, day, ticket=str(third.number)))
    _out_of_planning(db, w.engineers[1].id)
    before = _state(db, w)
    page = _on_the_board(client.post("/board/what-if/publish", data=form), 409)
    assert "no engineer of this region has the skill “ELEC”" in _field_error(page, "skill")
    assert _state(db, w) == before


def test_a_preview_of_a_day_that_is_over_is_not_published(
    client: TestClient, db: Session, login: Any, sign_in: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, time

    from app.planning import whatif

    w, day = _planned_world(client, db, login("dispatcher"))
    sign_in("dispatcher")
    form = _publish_form(_absence_preview(client, w, day, w.engineers[0]))
    before = _state(db, w)
    # the preview page stayed open past midnight of its day
    later = datetime.combine(day + timedelta(days=1), time(9), UTC)
    monkeypatch.setattr(whatif, "utcnow", lambda: later)
    page = _on_the_board(client.post("/board/what-if/publish", data=form), 409)
    assert f"{day:%a %d %b %Y} is over" in _refusal(page)
    assert _state(db, w) == before


@pytest.mark.parametrize("stale", [False, True], ids=["fresh", "stale"])
def test_a_double_submit_publishes_once(
    client: TestClient, db: Session, login: Any, sign_in: Callable[..., User], stale: bool
) -> None:
    w, day = _planned_world(client, db, login("dispatcher"))
    sign_in("dispatcher")
    form = _publish_form(_absence_preview(client, w, day, w.engineers[0]))
    if stale:  # the day changed after the preview: the first submit re-plans instead
        pw.add_visit(db, w, lat=48.2, lon=11.61)
        db.commit()
    first = client.post("/board/what-if/publish", data=form)
    assert first.status_code == 200 and "The absence is recorded" in first.text
    after = _state(db, w)
    page = _on_the_board(client.post("/board/what-if/publish", data=form), 409)
    assert re.search(
        r"this preview was already made real \(plan run \d+\): nothing was recorded or published twice",
        _refusal(page),
    )
    assert _state(db, w) == after
    runs = db.scalars(select(PlanRun).where(PlanRun.trigger.in_(("whatif", "whatif_stale")))).all()
    assert [r.trigger for r in runs] == ["whatif_stale" if stale else "whatif"]


def test_a_double_submit_of_an_emergency_opens_one_visit(
    client: TestClient, db: Session, login: Any, sign_in: Callable[..., User]
) -> None:
    w, day = _planned_world(client, db, login("dispatcher"))
    ticket = _emergency_ticket(db, w)
    sign_in("dispatcher")
    form = _publish_form(_emergency_preview(client, w, day, ticket=str(ticket.number)))
    assert client.post("/board/what-if/publish", data=form).status_code == 200
    after = _state(db, w)
    page = _on_the_board(client.post("/board/what-if/publish", data=form), 409)
    assert "already made real" in _refusal(page)
    assert _state(db, w) == after
    assert db.scalar(select(func.count()).select_from(WorkOrder).where(WorkOrder.ticket_id == ticket.id)) == 1


def test_a_publish_that_crashes_or_loses_a_race_half_way_leaves_the_plan_as_it_was(
    client: TestClient, db: Session, login: Any, sign_in: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The routes, visits and the plan day's pointer are written before the customers' notices:
    a failure there must take all of it back, and the absence with it."""
    from app.planning import notify

    w, day = _planned_world(client, db, login("dispatcher"))
    sign_in("dispatcher")
    form = _publish_form(_absence_preview(client, w, day, w.engineers[0]))
    before = _state(db, w)

    def lost_race(*args: Any, **kwargs: Any) -> None:
        raise StaleDataError("a visit changed under the publish")

    monkeypatch.setattr(notify, "on_published", lost_race)
    page = _on_the_board(client.post("/board/what-if/publish", data=form), 409)
    assert "someone else changed this day at the same moment" in _refusal(page)
    assert _state(db, w) == before

    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(notify, "on_published", crash)
    r = client.post("/board/what-if/publish", data=form)
    assert r.status_code == 500  # a bug stays a logged server error; it writes nothing either
    assert _state(db, w) == before
    monkeypatch.undo()
    ok = client.post("/board/what-if/publish", data=form)  # nothing of the failed tries stands in its way
    assert ok.status_code == 200 and "The absence is recorded and the previewed plan is published." in ok.text


def test_the_emergency_form_takes_the_named_tickets_arrival_due_time(db: Session) -> None:
    """The form's emergency carries its ticket's arrival due time into the preview (the visit
    opened on publish plans by it); a place without a ticket, or a ticket whose engineer already
    arrived, has none."""
    from app.platform.db import utcnow
    from app.web import board_whatif

    w = pw.build(db, jobs=0)
    assert w.account is not None
    site = f.make_site(db, w.account, region=w.region, latitude=48.15, longitude=11.58)
    ticket = f.open_ticket(db, w.account, asset=f.make_asset(db, site), priority="P2")
    db.commit()
    assert ticket.arrival_due_at is not None
    form = {"ticket": ticket.number or "", "duration_min": "60", "skill": "", "latitude": "", "longitude": ""}
    errors: dict[str, str] = {}
    emergency = board_whatif._emergency(db, w.region, dict(form), errors)
    assert not errors and emergency is not None
    assert emergency.arrival_due_at == ticket.arrival_due_at
    at_a_place = {**form, "ticket": "", "latitude": "48.15", "longitude": "11.58"}
    placed = board_whatif._emergency(db, w.region, at_a_place, errors)
    assert placed is not None and placed.arrival_due_at is None
    ticket.arrived_at = utcnow()
    db.commit()
    settled = board_whatif._emergency(db, w.region, dict(form), errors)
    assert settled is not None and settled.arrival_due_at is None


# --- a late start and a gap ---------------------------------------------------------------------
def _part_preview(
    client: TestClient, w: pw.World, day: Any, engineer: Engineer, since: str, until: str
) -> Any:
    params = {"region": w.region.id, "day": day.isoformat(), "kind": "absence", "engineer_id": engineer.id}
    return client.get("/board/what-if", params={**params, "absent_from": since, "absent_until": until})


@pytest.mark.parametrize(
    ("since", "until", "said", "recorded"),
    [
        ("", "10:30", "absent until 10:30", (None, "10:30")),
        ("13:00", "15:00", "absent 13:00–15:00", ("13:00", "15:00")),
    ],
)
def test_a_late_start_or_a_gap_is_previewed_and_recorded_with_both_times(
    client: TestClient,
    db: Session,
    login: Any,
    sign_in: Callable[..., User],
    since: str,
    until: str,
    said: str,
    recorded: tuple[str | None, str],
) -> None:
    from datetime import time

    w, day = _planned_world(client, db, login("dispatcher"))
    sign_in("dispatcher")
    ada = w.engineers[0]
    page = _part_preview(client, w, day, ada, since, until)
    assert page.status_code == 200, page.text[:300]
    assert f"What if {ada.name} were {said} on" in unescape(page.text)
    form = _publish_form(page.text)
    assert form["absent_until"] == until
    r = client.post("/board/what-if/publish", data=form)
    assert r.status_code == 200 and "The absence is recorded" in r.text
    db.expire_all()
    absence = db.scalar(select(Absence).where(Absence.engineer_id == ada.id))
    assert absence is not None
    want = tuple(None if t is None else time.fromisoformat(t) for t in recorded)
    assert (absence.from_time, absence.until_time) == want
    # the hidden until is signed like the rest: changed, nothing is published
    form = _publish_form(_part_preview(client, w, day, w.engineers[1], "13:00", "15:00").text)
    before = _state(db, w)
    page = _on_the_board(client.post("/board/what-if/publish", data={**form, "absent_until": "16:00"}), 422)
    assert "not the one its preview made" in _refusal(page)
    assert _state(db, w) == before


@pytest.mark.parametrize(
    ("since", "until", "said"),
    [
        ("13:00", "12:00", "must be after the time absent from (13:00)"),
        ("", "half ten", "a time of day, e.g. 10:30"),
        ("", "00:00", "must be after 00:00"),
    ],
)
def test_an_until_that_is_no_absence_is_said_under_the_field_and_nothing_is_written(
    client: TestClient,
    db: Session,
    login: Any,
    sign_in: Callable[..., User],
    since: str,
    until: str,
    said: str,
) -> None:
    w, day = _planned_world(client, db, login("dispatcher"))
    sign_in("dispatcher")
    before = _state(db, w)
    r = _part_preview(client, w, day, w.engineers[0], since, until)
    assert r.status_code == 422, r.text[:300]
    assert 'id="board-data"' in r.text and "Nothing was previewed" in r.text
    assert said in _field_error(r.text, "absent_until")
    form = _whatif_form(r.text, ABSENCE_FORM)
    assert _typed(form, "absent_until") == until and _typed(form, "absent_from") == since  # as typed
    assert "Record the absence" not in r.text
    assert _state(db, w) == before


def test_the_absence_form_as_served_asks_about_the_whole_day(
    client: TestClient, db: Session, login: Any, sign_in: Callable[..., User]
) -> None:
    """Called in sick is the usual question: both times start empty (it used to offer "from 12:00", and a
    late start needed that cleared first); the hint says what each empty field means."""
    w, day = _planned_world(client, db, login("dispatcher"))
    sign_in("dispatcher")
    board = client.get("/board", params={"region": w.region.id, "day": day.isoformat()})
    form = _whatif_form(board.text, ABSENCE_FORM)
    assert _typed(form, "absent_from") == "" and _typed(form, "absent_until") == ""
    assert "both empty: the whole day" in unescape(form)
    ada = w.engineers[0]
    page = _part_preview(client, w, day, ada, _typed(form, "absent_from"), _typed(form, "absent_until"))
    assert page.status_code == 200, page.text[:300]
    assert f"What if {ada.name} were absent all day on" in unescape(page.text)
    publish = _publish_form(page.text)
    assert client.post("/board/what-if/publish", data=publish).status_code == 200
    db.expire_all()
    absence = db.scalar(select(Absence).where(Absence.engineer_id == ada.id))
    assert absence is not None and (absence.from_time, absence.until_time) == (None, None)
