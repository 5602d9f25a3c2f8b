"""Customer notices beyond a plan's publish: a visit scheduled or moved by hand is told like a
plan's move; a notice whose delivery enqueue was lost still goes with the beat; the mails carry
Date and Message-ID and greet the contact by name."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import CustomerNotification, WorkOrder
from app.planning import notify
from app.planning import runs as plan_runs
from app.planning.keys import local_at
from app.planning.publish import Moved
from app.platform.db import utcnow
from app.platform.mail import set_mailer
from tests.planning import world as pw
from tests.planning.test_planning_api import plan


@pytest.fixture
def dispatcher(login: Any) -> dict[str, str]:
    return login("dispatcher")


def _schedule(client: TestClient, h: dict[str, str], wo: WorkOrder, engineer_id: int, at: Any) -> None:
    r = client.post(
        f"/api/v1/work-orders/{wo.id}/schedule",
        json={"engineer_id": engineer_id, "planned_start": at.isoformat()},
        headers={**h, "If-Match": f'"v{wo.version}"'},
    )
    assert r.status_code == 200, r.text


def _notices(db: Session, wo_id: int) -> list[CustomerNotification]:
    db.expire_all()
    return list(
        db.scalars(
            select(CustomerNotification)
            .where(CustomerNotification.work_order_id == wo_id)
            .order_by(CustomerNotification.id)
        )
    )


def test_a_first_schedule_by_hand_tells_the_customer_greeting_the_contact(
    client: TestClient, db: Session, dispatcher: dict[str, str], outbox: pw.Recorder
) -> None:
    w = pw.build(db, jobs=1)
    db.commit()
    wo = w.work_orders[0]
    at = local_at(pw.next_weekday(1), time(10, 30), "Europe/Berlin")
    _schedule(client, dispatcher, wo, w.engineers[0].id, at)
    (row,) = _notices(db, wo.id)
    assert (row.kind, row.plan_run_id, row.eta_at, row.status) == ("planned", None, at, "sent")
    (sent,) = outbox.sent
    assert sent.kind == "planned" and "10:30" in sent.eta_local
    assert w.contact is not None and sent.text.startswith(f"Hello {w.contact.name},")


def test_a_reschedule_by_hand_past_the_margin_is_held_and_a_plan_back_supersedes_it(
    client: TestClient, db: Session, dispatcher: dict[str, str], outbox: pw.Recorder
) -> None:
    w = pw.build(db, jobs=1)
    day = pw.next_weekday(1)
    db.commit()
    plan(client, dispatcher, w, day)
    db.expire_all()
    wo = db.get(WorkOrder, w.work_orders[0].id)
    assert wo is not None and wo.eta_at is not None and wo.engineer_id is not None
    told = wo.eta_at
    assert [n.kind for n in outbox.sent] == ["planned"]
    # within the margin: nothing to tell
    _schedule(client, dispatcher, wo, wo.engineer_id, told + timedelta(minutes=20))
    assert [n.kind for n in _notices(db, wo.id)] == ["planned"]
    # two hours later (the QA case): an eta_changed, without a plan run, held like a plan's
    wo = db.get_one(WorkOrder, wo.id)
    _schedule(client, dispatcher, wo, wo.engineer_id, told + timedelta(hours=2))  # type: ignore[arg-type]
    first, moved = _notices(db, wo.id)
    assert (moved.kind, moved.plan_run_id, moved.status) == ("eta_changed", None, "pending")
    assert moved.eta_at == told + timedelta(hours=2) and moved.previous_eta_at == told
    assert len(outbox.sent) == 1  # held: not sent at once
    after_hold = utcnow() + notify.HOLD + timedelta(seconds=1)
    assert notify.due_ids(db, now=after_hold) == [moved.id]
    # A plan puts the visit back to the told time: the held notice is superseded, nothing told;
    # the (visit, run) key of the plan does not see the manual notice (its run is null).
    later = plan_runs.create_run(db, region_id=w.region.id, day=day, send=False)
    back = Moved(wo.id, told + timedelta(hours=2), told)
    assert notify.on_published(db, run_id=later.id, moved=[back]) == 0
    db.commit()
    assert [(n.kind, n.status) for n in _notices(db, wo.id)] == [
        ("planned", "sent"),
        ("eta_changed", "skipped"),
    ]
    # A plan that keeps the hand-made move instead tells it (against what was told: 'planned').
    again = plan_runs.create_run(db, region_id=w.region.id, day=day, send=False)
    kept = Moved(wo.id, told, told + timedelta(hours=2))
    assert notify.on_published(db, run_id=again.id, moved=[kept]) == 1
    db.commit()
    assert _notices(db, wo.id)[-1].kind == "eta_changed"


def test_a_planned_notice_whose_enqueue_was_lost_goes_with_the_beat(db: Session) -> None:
    w = pw.build(db, jobs=1)
    wo = w.work_orders[0]
    n = CustomerNotification(
        work_order_id=wo.id, plan_run_id=None, kind="planned", eta_at=utcnow(), recipient="x@kunde.example"
    )
    db.add(n)
    db.commit()
    made = n.created_at
    assert notify.due_ids(db, now=made + timedelta(seconds=30)) == []  # its own delivery is still due
    assert notify.due_ids(db, now=made + notify.ENQUEUE_GRACE + timedelta(seconds=1)) == [n.id]
    notice = notify.claim(db, n.id, now=made + notify.ENQUEUE_GRACE + timedelta(seconds=1))
    assert notice is not None and notice.kind == "planned"


def test_eta_mail_has_date_and_message_id_headers(db: Session) -> None:
    class Box:
        def __init__(self) -> None:
            self.sent: list[EmailMessage] = []

        def send(self, message: EmailMessage) -> None:
            self.sent.append(message)

    box = Box()
    set_mailer(box)
    try:
        notice = notify.Notice(
            notification_id=1,
            work_order_id=1,
            number="WO-1",
            kind="planned",
            to="jana@kunde.example",
            customer="Zimmermann & Hartmann Steuerberater",
            address="Hauptstr. 1",
            eta_at=utcnow(),
            eta_local="Tue 24 Nov, 10:40 (Europe/Berlin)",
            previous_eta_local="—",
        )
        notify.MailSender().send(notice)
    finally:
        set_mailer(None)
    (msg,) = box.sent
    sent = parsedate_to_datetime(msg["Date"]).replace(tzinfo=UTC)  # UTC: "-0000" parses naive
    assert abs(sent - datetime.now(UTC)) < timedelta(minutes=1)
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@fieldline.example>")
    assert "Hello Zimmermann & Hartmann Steuerberater," in msg.get_content()  # no contact: the company


def test_a_contact_who_left_the_customer_gets_no_visit_notice(
    client: TestClient, db: Session, dispatcher: dict[str, str], outbox: pw.Recorder
) -> None:
    """Deactivated (DELETE /contacts/{id} of a contact with history): the notice is skipped with
    the reason, also when they left after it was written."""
    w = pw.build(db, jobs=2)
    assert w.contact is not None
    w.contact.active = False
    db.commit()
    first, second = w.work_orders
    at = local_at(pw.next_weekday(1), time(10, 30), "Europe/Berlin")
    _schedule(client, dispatcher, first, w.engineers[0].id, at)
    (row,) = _notices(db, first.id)
    assert (row.status, row.error, row.recipient) == ("skipped", notify.LEFT, "")
    assert outbox.sent == []
    # written while they were still the customer's, sent after they left
    w.contact.active = True
    db.flush()
    notify.on_scheduled(db, work_order_id=second.id, old_eta=None, new_eta=at)
    (late,) = _notices(db, second.id)
    assert late.recipient
    w.contact.active = False
    db.flush()
    assert notify.claim(db, late.id) is None
    db.flush()
    assert (late.status, late.error) == ("skipped", notify.LEFT)
