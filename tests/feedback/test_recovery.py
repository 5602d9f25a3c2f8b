"""Recovery tickets: the queue without an owner, idempotence, the outcome when closed, the 360 view."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.desk.customers.view360 import customer_360
from app.desk.tickets import status as ticket_status
from app.feedback import recovery
from app.models import Survey, SurveyRecovery, Ticket
from app.platform.db import utcnow
from app.platform.http import etag
from surveys import Answer
from tests import factories as f
from tests.feedback.world import Outbox, answered, survey_of


def test_without_an_owner_the_recovery_waits_in_the_queue_and_is_opened_once(
    db: Session, outbox: Outbox
) -> None:
    case, answer_id = answered(db, Answer(csat=4, solved=False))  # "not solved" is a detractor
    first = recovery.open_recovery(db, answer_id)
    again = recovery.open_recovery(db, answer_id)  # a redelivered task
    db.commit()
    assert first is not None and again is not None and first.id == again.id
    assert db.scalar(select(func.count()).select_from(SurveyRecovery)) == 1
    ticket = db.get(Ticket, first.ticket_id)
    assert ticket is not None and ticket.assignee_id is None and first.queue == "recovery"
    assert "solved: no" in ticket.description


def test_closing_the_recovery_ticket_records_the_outcome_and_is_not_surveyed(
    db: Session, outbox: Outbox
) -> None:
    case, answer_id = answered(db, Answer(csat=1))
    rec = recovery.open_recovery(db, answer_id)
    db.commit()
    assert rec is not None
    ticket = db.get(Ticket, rec.ticket_id)
    assert ticket is not None
    now = utcnow()
    ticket_status.change_status(db, ticket, "open", actor=None, channel="phone", at=now)
    ticket_status.change_status(
        db,
        ticket,
        "resolved",
        actor=None,
        channel="phone",
        at=now,
        reason="Called back; free service check booked",
    )
    db.commit()
    db.refresh(rec)
    assert rec.outcome == "resolved" and rec.closed_at is not None
    assert rec.outcome_note == "Called back; free service check booked"
    assert survey_of(db, ticket_id=case.ticket.id).ticket_id == case.ticket.id  # the original survey only
    assert db.scalar(select(Survey.id).where(Survey.ticket_id == ticket.id)) is None


def test_the_360_view_lists_answers_recoveries_and_health_reasons(db: Session, outbox: Outbox) -> None:
    case, answer_id = answered(db, Answer(csat=2, comment="Too slow"))
    recovery.open_recovery(db, answer_id)
    db.commit()
    view = customer_360(db, account_id=case.account.id)
    [s] = view.satisfaction
    assert (s.csat, s.comment, s.is_detractor) == (2, "Too slow", True)
    [r] = view.recoveries
    assert r.queue == "recovery" and r.outcome is None
    health = view.health
    assert 0 <= health.score < 100
    assert any(reason.code == "detractors" for reason in health.reasons)


def test_managers_list_the_recovery_queue(client: TestClient, db: Session, outbox: Outbox, login) -> None:  # type: ignore[no-untyped-def]
    case, answer_id = answered(db, Answer(csat=1, reasons=frozenset({"late"})))
    rec = recovery.open_recovery(db, answer_id)
    db.commit()
    assert rec is not None
    manager = login("manager")
    body = client.get(
        "/api/v1/recoveries", params={"queue": "recovery", "state": "open"}, headers=manager
    ).json()
    [item] = [i for i in body["items"] if i["account_id"] == case.account.id]
    assert (item["ticket_id"], item["csat"], item["reasons"], item["outcome"]) == (
        rec.ticket_id,
        1,
        ["late"],
        None,
    )
    assert (
        client.get(
            "/api/v1/recoveries", params={"state": "closed", "customer_id": case.account.id}, headers=manager
        ).json()["items"]
        == []
    )
    assert client.get("/api/v1/recoveries", headers=login("agent")).status_code == 403
    r = client.get("/api/v1/recoveries", params={"queue": "nobody"}, headers=manager)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")


def test_a_manager_sets_the_account_owner_who_then_gets_the_recoveries(
    client: TestClient,
    db: Session,
    outbox: Outbox,
    login,  # type: ignore[no-untyped-def]
) -> None:
    case, answer_id = answered(db, Answer(csat=2))
    owner = f.make_user(db, role="agent")
    engineer = f.make_user(db, role="engineer")
    db.commit()
    manager = login("manager")
    url = f"/api/v1/customers/{case.account.id}"
    version = client.get(f"{url}/360", headers=manager).json()["account"]["version"]
    body = {"owner_user_id": owner.id}
    assert client.patch(url, json=body, headers=manager).status_code == 428
    assert client.patch(url, json=body, headers={**manager, "If-Match": etag(version + 1)}).status_code == 412
    assert (
        client.patch(url, json=body, headers={**login("agent"), "If-Match": etag(version)}).status_code == 403
    )
    bad = client.patch(
        url, json={"owner_user_id": engineer.id}, headers={**manager, "If-Match": etag(version)}
    )

    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "owner_user_id"
    ok = client.patch(url, json=body, headers={**manager, "If-Match": etag(version)})
    assert ok.status_code == 200 and ok.json() == {"owner_user_id": owner.id, "language": "en"}
    assert ok.headers["ETag"] == etag(version + 1)
    assert client.get(f"{url}/360", headers=manager).json()["account"]["owner_user_id"] == owner.id
    db.expire_all()  # the request committed the owner in its own session
    rec = recovery.open_recovery(db, answer_id)
    assert rec is not None and (rec.owner_user_id, rec.queue) == (owner.id, "owner")


def test_the_recovery_ticket_page_says_it_came_from_a_survey_answer(
    client: TestClient, db: Session, outbox: Outbox, sign_in
) -> None:  # type: ignore[no-untyped-def]
    """It read "via web" (the channel the answer came in by), as if the customer had written."""
    _, answer_id = answered(db, Answer(csat=1))
    opened = recovery.open_recovery(db, answer_id)
    db.commit()
    assert opened is not None
    sign_in("manager")
    page = client.get(f"/desk/tickets/{opened.ticket_id}").text
    assert "from a survey answer (its follow-up)" in page and "via web" not in page


def test_the_recovery_ticket_names_the_reasons_in_the_surveys_words(db: Session, outbox: Outbox) -> None:
    """It read "what went wrong: not_fixed": a code, not what the customer ticked."""
    case, answer_id = answered(db, Answer(csat=1, reasons=frozenset({"not_fixed", "late"})))
    rec = recovery.open_recovery(db, answer_id)
    db.commit()
    assert rec is not None
    ticket = db.get(Ticket, rec.ticket_id)
    assert ticket is not None
    line = next(x for x in ticket.description.splitlines() if x.startswith("- what went wrong:"))
    assert "not_fixed" not in line
    assert "The problem is not fixed" in line and "The engineer came late" in line
    # an answer whose template is gone still gets the standard chips' words
    assert recovery.reason_labels("no-such-template")["late"] == "The engineer came late"
