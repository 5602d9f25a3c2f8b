"""Undo check-in: a check-in tapped on the wrong visit is taken back within a grace period.

The visit returns to the state it had (scheduled or en route, with its ETA), the ticket's arrival
SLA stamp is withdrawn by an appended ledger entry (the ledger stays append-only), the timeline
says who withdrew it, and the next check-in stamps the arrival again; KPIs count the real arrival.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.sla import clock as sla_clock
from app.desk.sla import status as sla_status
from app.field.workorders import visits
from app.models import SlaEvent, Ticket, TicketEvent, User, WorkOrder
from app.platform.db import utcnow
from app.web.timeline import describe
from tests.field.workorders.world import (
    API,
    BERLIN,
    check_in,
    create,
    etag_of,
    move,
    next_local,
    on_the_day,
    schedule,
)


def scheduled(client: TestClient, w: dict[str, Any], *, en_route_eta: datetime | None = None) -> int:
    wid: int = create(client, w)["id"]
    assert schedule(client, w, wid).status_code == 200
    if en_route_eta is not None:
        with on_the_day(next_local(0, 9)):  # schedule() plans next Monday
            r = move(client, w["me"], wid, "en_route", eta=en_route_eta.isoformat())
        assert r.status_code == 200, r.text
    return wid


def undo(client: TestClient, h: dict[str, str], wid: int, **headers: str) -> Any:
    return client.post(f"{API}/{wid}/undo-check-in", headers={**h, **headers})


def arrival(client: TestClient, w: dict[str, Any]) -> dict[str, Any]:
    r = client.get(f"/api/v1/tickets/{w['ticket'].id}/sla", headers=w["agent"])
    assert r.status_code == 200, r.text
    return next(m for m in r.json()["metrics"] if m["metric"] == "arrival")


def ledger(db: Session, ticket_id: int) -> list[SlaEvent]:
    db.expire_all()
    return [r for r in sla_clock.ledger(db, ticket_id) if r.metric == "arrival"]


def checked_in_minutes_ago(monkeypatch: pytest.MonkeyPatch, minutes: int) -> None:
    """The next check-in happens `minutes` ago (the engineer looks at the phone only now)."""
    at = utcnow() - timedelta(minutes=minutes)
    monkeypatch.setattr(visits, "utcnow", lambda: at)


def test_undo_puts_the_visit_back_en_route_with_its_eta_and_withdraws_the_arrival(
    client: TestClient, db: Session, world: dict[str, Any]
) -> None:
    w = world
    eta = next_local(0, 11)
    wid = scheduled(client, w, en_route_eta=eta)
    assert check_in(client, w, wid)["status"] == "on_site"
    assert arrival(client, w)["state"] == "met"
    tag = etag_of(client, w["me"], wid)

    r = undo(client, w["me"], wid, **{"If-Match": tag})

    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "en_route" and body["checked_in_at"] is None
    assert datetime.fromisoformat(body["eta_at"]) == eta
    assert r.headers["ETag"] == f'"v{body["version"]}"' and r.headers["ETag"] != tag
    # The ticket: no arrival, the clock runs again, back to the status before the check-in.
    ticket = db.get_one(Ticket, w["ticket"].id)
    db.refresh(ticket)
    assert ticket.arrived_at is None and ticket.status == "scheduled"
    state = arrival(client, w)
    assert state["state"] == "running" and state["achieved_at"] is None
    # Append-only: the met stays, a withdraw entry names it.
    rows = ledger(db, ticket.id)
    assert [r.kind for r in rows] == ["met", "withdraw"]
    assert rows[1].data["withdraws"] == rows[0].id
    assert not sla_clock.has_event(rows, "met", "arrival")
    # The timeline says who withdrew it.
    events = client.get(f"/api/v1/tickets/{ticket.id}/timeline", headers=w["agent"]).json()["items"]
    withdrawn = [e for e in events if e["kind"] == "visit_arrival_withdrawn"]
    assert len(withdrawn) == 1 and withdrawn[0]["actor_id"] == w["eng_user"].id
    assert any(e["kind"] == "sla_withdraw" for e in events)
    line = describe({**withdrawn[0], "source": "event"}, {w["eng_user"].id: "Erika Feld"})
    assert line["title"] == f"Check-in at {body['number']} withdrawn by Erika Feld"  # the ticket page's line


def test_a_new_check_in_stamps_the_arrival_again(
    client: TestClient, db: Session, world: dict[str, Any]
) -> None:
    w = world
    wid = scheduled(client, w)
    check_in(client, w, wid)
    assert undo(client, w["me"], wid).json()["status"] == "scheduled"

    again = check_in(client, w, wid)

    ticket = db.get_one(Ticket, w["ticket"].id)
    db.refresh(ticket)
    assert ticket.arrived_at == datetime.fromisoformat(again["checked_in_at"])
    assert ticket.status == "in_progress"
    rows = ledger(db, ticket.id)
    assert [r.kind for r in rows] == ["met", "withdraw", "met"]
    assert rows[2].at == ticket.arrived_at
    assert arrival(client, w)["state"] == "met"


def test_a_target_that_ran_out_after_the_undo_is_breached(
    client: TestClient, db: Session, world: dict[str, Any]
) -> None:
    w = world
    wid = scheduled(client, w)
    check_in(client, w, wid)
    undo(client, w["me"], wid)
    ticket = db.get_one(Ticket, w["ticket"].id)
    db.refresh(ticket)
    assert ticket.arrival_due_at is not None
    later = ticket.arrival_due_at + timedelta(minutes=1)

    found = sla_status.check_breaches(db, now=later)

    assert (ticket.id, "arrival") in found  # a met that was withdrawn does not hold the breach off
    assert [r.kind for r in ledger(db, ticket.id)] == ["met", "withdraw", "breach"]


def test_kpi_time_to_arrive_counts_the_real_arrival(
    client: TestClient, db: Session, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    ticket = db.get_one(Ticket, w["ticket"].id)
    ticket.opened_at = utcnow() - timedelta(hours=2)
    db.commit()
    wid = scheduled(client, w)
    checked_in_minutes_ago(monkeypatch, 10)  # the wrong tap, 110 min after the opening
    check_in(client, w, wid)
    monkeypatch.undo()
    today = datetime.now(UTC).date()
    params = {"from": (today - timedelta(days=1)).isoformat(), "to": (today + timedelta(days=1)).isoformat()}

    def time_to_arrive() -> dict[str, Any]:
        r = client.get("/api/v1/kpis", params={**params, "metric": "time_to_arrive"}, headers=w["manager"])
        assert r.status_code == 200, r.text
        return dict(r.json()["metrics"][0]["total"])

    assert time_to_arrive()["n"] == 1
    assert undo(client, w["me"], wid).status_code == 200
    assert time_to_arrive()["n"] == 0  # the wrong check-in is no arrival

    check_in(client, w, wid)

    real = time_to_arrive()
    assert real["n"] == 1 and real["value"] == pytest.approx(120, abs=1)  # not 110


def test_undo_after_the_grace_period_is_refused(
    client: TestClient, db: Session, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    wid = scheduled(client, w)
    checked_in_minutes_ago(monkeypatch, 16)
    check_in(client, w, wid)
    monkeypatch.undo()

    r = undo(client, w["me"], wid)

    assert r.status_code == 409 and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["hint"].startswith("A check-in can only be undone within 15 minutes; this one was 16")
    assert r.json()["current"] == "on_site"
    db.expire_all()
    assert db.get_one(WorkOrder, wid).status == "on_site"
    assert [r.kind for r in ledger(db, w["ticket"].id)] == ["met"]
    assert timedelta(minutes=15) == visits.UNDO_CHECK_IN_GRACE


def test_within_the_grace_period_the_undo_goes_through(
    client: TestClient, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    wid = scheduled(client, w)
    checked_in_minutes_ago(monkeypatch, 14)
    check_in(client, w, wid)
    monkeypatch.undo()
    assert undo(client, w["me"], wid).status_code == 200


def test_refused_after_the_report_or_a_check_out_and_when_not_on_site(
    client: TestClient, db: Session, world: dict[str, Any]
) -> None:
    w = world
    wid = scheduled(client, w)
    not_yet = undo(client, w["me"], wid)
    assert not_yet.status_code == 409 and not_yet.json()["current"] == "scheduled"
    assert "not checked in (it is scheduled)" in not_yet.json()["detail"]

    check_in(client, w, wid)
    out = client.post(f"{API}/{wid}/check-out", headers=w["me"])
    assert out.status_code == 200
    left = undo(client, w["me"], wid)
    assert left.status_code == 409 and "checked out" in left.json()["detail"]

    report = {
        "work_done": "Replaced the fan.",
        "parts_used": [{"part_id": w["part"].id, "quantity": 1}],
        "fixed_first_time": True,
    }
    assert client.post(f"{API}/{wid}/report", json=report, headers=w["me"]).status_code == 200
    filed = undo(client, w["me"], wid)
    assert filed.status_code == 409
    assert filed.json()["hint"] == "This visit is already finished: its service report was filed."
    db.expire_all()
    assert db.get_one(WorkOrder, wid).status == "done"
    assert [r.kind for r in ledger(db, w["ticket"].id)] == ["met"]


def test_roles_and_a_repeat(client: TestClient, db: Session, world: dict[str, Any]) -> None:
    w = world
    wid = scheduled(client, w)
    check_in(client, w, wid)
    assert undo(client, w["them"], wid).status_code == 404  # another engineer's visit: not theirs to see
    assert undo(client, w["agent"], wid).status_code == 403
    assert undo(client, w["me"], wid, **{"If-Match": '"v1"'}).status_code == 412
    db.expire_all()
    assert db.get_one(WorkOrder, wid).checked_in_at is not None  # none of those changed anything

    done = undo(client, w["dispatch"], wid, **{"Idempotency-Key": "undo-1"})  # on the engineer's behalf
    assert done.status_code == 200 and done.json()["status"] == "scheduled"
    replay = undo(client, w["dispatch"], wid, **{"Idempotency-Key": "undo-1"})
    assert replay.status_code == 200 and replay.json() == done.json()
    repeat = undo(client, w["dispatch"], wid)
    assert repeat.status_code == 409 and repeat.json()["current"] == "scheduled"
    kinds = [e.kind for e in db.scalars(select(TicketEvent).where(TicketEvent.ticket_id == w["ticket"].id))]
    assert kinds.count("visit_arrival_withdrawn") == 1


def clock(monkeypatch: pytest.MonkeyPatch, at: datetime) -> None:
    """The visit actions (check-in, undo) happen at `at`."""
    monkeypatch.setattr(visits, "utcnow", lambda: at)


def yesterday_at(hour: int, minute: int = 0) -> datetime:
    day = datetime.now(BERLIN).date() - timedelta(days=1)
    return datetime.combine(day, time(hour, minute), tzinfo=BERLIN).astimezone(UTC)


@pytest.mark.parametrize(
    ("after", "said"),
    [
        (timedelta(minutes=15, seconds=1), "15 min 1 s"),
        (timedelta(minutes=15, milliseconds=200), "15 min 1 s"),  # rounded up: never "15 minutes ago"
        (timedelta(minutes=16), "16 min"),
        (timedelta(hours=2, minutes=5, seconds=30), "2 h 5 min"),
    ],
)
def test_the_grace_refusal_never_reads_as_within_the_grace(
    client: TestClient,
    world: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    after: timedelta,
    said: str,
) -> None:
    w = world
    wid = scheduled(client, w)
    at = yesterday_at(10)
    clock(monkeypatch, at)
    check_in(client, w, wid)
    clock(monkeypatch, at + after)

    r = undo(client, w["me"], wid)

    assert r.status_code == 409
    assert r.json()["hint"] == (
        f"A check-in can only be undone within 15 minutes; this one was {said} ago. Ask dispatch to undo it."
    )
    assert r.json()["detail"].startswith(r.json()["hint"])


@pytest.mark.parametrize("role", ["dispatch", "manager"])
def test_dispatch_undoes_a_wrong_check_in_past_the_grace_and_is_named_on_the_timeline(
    client: TestClient, db: Session, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch, role: str
) -> None:
    w = world
    wid = scheduled(client, w)
    clock(monkeypatch, yesterday_at(9))
    check_in(client, w, wid)
    assert client.post(f"{API}/{wid}/check-out", headers=w["me"]).status_code == 200
    clock(monkeypatch, yesterday_at(23, 59))  # hours later, the same day
    assert undo(client, w["me"], wid).status_code == 409  # the engineer: past the grace, checked out

    r = undo(client, w[role], wid)

    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "scheduled" and body["checked_in_at"] is None and body["checked_out_at"] is None
    ticket = db.get_one(Ticket, w["ticket"].id)
    db.refresh(ticket)
    assert ticket.arrived_at is None
    assert [r.kind for r in ledger(db, ticket.id)] == ["met", "withdraw"]
    events = client.get(f"/api/v1/tickets/{ticket.id}/timeline", headers=w["agent"]).json()["items"]
    (withdrawn,) = [e for e in events if e["kind"] == "visit_arrival_withdrawn"]
    # dispatch's correction, said as theirs
    assert db.get_one(User, withdrawn["actor_id"]).role == {"dispatch": "dispatcher"}.get(role, role)


def test_dispatch_cannot_undo_a_check_in_of_a_day_that_is_over(
    client: TestClient, db: Session, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    wid = scheduled(client, w)
    clock(monkeypatch, yesterday_at(9, 30))
    check_in(client, w, wid)
    monkeypatch.undo()  # today

    r = undo(client, w["dispatch"], wid)

    assert r.status_code == 409
    day = yesterday_at(9, 30).astimezone(BERLIN)
    assert r.json()["hint"] == (
        f"A check-in can only be undone on its own day; this one was on {day:%a %d %b} at 09:30, "
        "and that day's plan is history."
    )
    db.expire_all()
    assert db.get_one(WorkOrder, wid).status == "on_site"


def test_the_undo_puts_back_the_planned_start_a_re_plan_moved_to_the_check_in(
    client: TestClient, db: Session, world: dict[str, Any]
) -> None:
    w = world
    wid = scheduled(client, w)
    row = db.get_one(WorkOrder, wid)
    planned = row.planned_start_at
    check_in(client, w, wid)
    row = db.get_one(WorkOrder, wid)
    db.refresh(row)
    row.planned_start_at = row.checked_in_at  # as the re-plan the check-in asked for publishes it
    db.commit()

    body = undo(client, w["me"], wid).json()

    assert datetime.fromisoformat(body["planned_start_at"]) == planned


def test_a_transition_back_from_on_site_points_to_the_undo(client: TestClient, world: dict[str, Any]) -> None:
    w = world
    wid = scheduled(client, w)
    check_in(client, w, wid)
    h = w["dispatch"]

    r = client.post(
        f"{API}/{wid}/transitions",
        json={"to": "scheduled", "reason": "wrong check-in"},
        headers={**h, "If-Match": etag_of(client, h, wid)},
    )

    assert r.status_code == 409 and r.json()["allowed"] == ["done", "needs_follow_up"]
    assert r.json()["detail"].endswith("A wrong check-in is taken back with POST …/undo-check-in.")
