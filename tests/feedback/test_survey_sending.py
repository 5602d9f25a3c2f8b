"""The sending job applies surveys.next_step to real rows: delay, cooldown, reminder, opt-out,
missing address, cancel on reopen — and a survey is created only by the events that should."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.desk.tickets import status as ticket_status
from app.feedback import sending
from app.models import Asset, Survey
from app.platform.db import utcnow
from tests.feedback.world import Outbox, customer, later, survey_of, visit


def test_a_filed_visit_report_creates_one_survey_with_the_case_context(db: Session) -> None:
    case = customer(db, tier="gold")
    wo = visit(db, case)
    db.commit()
    s = survey_of(db, work_order_id=wo.id)
    asset = db.get(Asset, case.asset.id)
    assert asset is not None
    assert (s.trigger, s.template_id, s.status) == ("visit_checked_out", "post_visit_contract", "pending")
    assert (s.ticket_id, s.engineer_id, s.account_id, s.contact_id) == (
        case.ticket.id,
        case.engineer.id,
        case.account.id,
        case.contact.id,
    )
    assert (s.site_id, s.region_id, s.asset_id, s.product_model_id) == (
        wo.site_id,
        wo.region_id,
        asset.id,
        asset.product_model_id,
    )
    # The visit resolved the ticket: the case is asked about once, by the visit's survey.
    assert db.scalar(select(func.count()).select_from(Survey).where(Survey.ticket_id == case.ticket.id)) == 1


def test_standard_tier_gets_the_short_visit_template(db: Session) -> None:
    case = customer(db, tier="standard")
    wo = visit(db, case)
    db.commit()
    assert survey_of(db, work_order_id=wo.id).template_id == "post_visit"


def test_desk_resolution_gets_a_resolution_survey_but_api_tickets_none(db: Session) -> None:
    case = customer(db)
    now = utcnow()
    ticket_status.change_status(db, case.ticket, "open", actor=None, channel="phone", at=now)
    ticket_status.change_status(db, case.ticket, "resolved", actor=None, channel="phone", at=now)
    db.commit()
    assert survey_of(db, ticket_id=case.ticket.id).template_id == "post_resolution"

    machine = customer(db)
    machine.ticket.channel = "api"
    ticket_status.change_status(db, machine.ticket, "open", actor=None, channel="api", at=now)
    ticket_status.change_status(db, machine.ticket, "resolved", actor=None, channel="api", at=now)
    db.commit()
    assert db.scalar(select(Survey.id).where(Survey.ticket_id == machine.ticket.id)) is None


def test_nothing_goes_out_before_the_delay_then_one_mail_to_the_contact(db: Session, outbox: Outbox) -> None:
    case = customer(db)
    wo = visit(db, case)
    db.commit()
    assert sending.send_due(now=later(hours=1)) == {"wait": 1}
    assert outbox.sent == []
    assert sending.send_due(now=later(hours=1.5)) == {}  # nothing is due until the delay ends
    assert sending.send_due(now=later(hours=2, days=0.01)) == {"send": 1}
    [mail] = outbox.sent
    assert mail["To"] == "pat@customer.example"
    s = survey_of(db, work_order_id=wo.id)
    assert s.status == "sent" and s.sent_at is not None


def test_cooldown_skips_a_second_survey_to_the_same_contact(db: Session, outbox: Outbox) -> None:
    case = customer(db)
    first = visit(db, case)
    db.commit()
    sending.send_due(now=later(hours=3))
    second = visit(db, case, new_ticket=True)
    db.commit()
    assert sending.send_due(now=later(days=1)) == {"skip": 1}  # before the first one's reminder
    assert len(outbox.sent) == 1
    assert survey_of(db, work_order_id=first.id).status == "sent"
    skipped = survey_of(db, work_order_id=second.id)
    assert skipped.status == "skipped" and "cooldown" in skipped.note


def test_one_reminder_after_three_days_then_nothing_more(db: Session, outbox: Outbox) -> None:
    case = customer(db)
    wo = visit(db, case)
    db.commit()
    sending.send_due(now=later(hours=3))
    assert sending.send_due(now=later(days=2)) == {}
    assert sending.send_due(now=later(days=3, hours=4)) == {"remind": 1}
    assert [m["Subject"].startswith("Reminder: ") for m in outbox.sent] == [False, True]
    assert sending.send_due(now=later(days=13)) == {}
    assert len(outbox.sent) == 2
    assert survey_of(db, work_order_id=wo.id).reminders_sent == 1


def test_opted_out_or_addressless_contacts_are_never_mailed(db: Session, outbox: Outbox) -> None:
    opted = customer(db)
    opted.contact.survey_opt_out = True
    a = visit(db, opted)
    nobody = customer(db, email=None)
    b = visit(db, nobody)
    db.commit()
    assert sending.send_due(now=later(hours=3)) == {"skip": 2}
    assert outbox.sent == []
    assert "opted out" in survey_of(db, work_order_id=a.id).note
    assert "no e-mail address" in survey_of(db, work_order_id=b.id).note


def test_a_reopened_case_cancels_the_pending_survey(db: Session, outbox: Outbox) -> None:
    case = customer(db)
    wo = visit(db, case)
    db.commit()
    db.refresh(case.ticket)
    assert case.ticket.status == "resolved"
    ticket_status.change_status(
        db, case.ticket, "open", actor=None, channel="phone", at=utcnow(), reason="still broken"
    )
    db.commit()
    assert sending.send_due(now=later(hours=3)) == {"cancel": 1}
    s = survey_of(db, work_order_id=wo.id)
    assert s.status == "cancelled" and s.cancelled_at is not None
    assert outbox.sent == []


def test_a_case_reopened_after_sending_gets_no_reminder(db: Session, outbox: Outbox) -> None:
    case = customer(db)
    wo = visit(db, case)
    db.commit()
    sending.send_due(now=later(hours=3))
    db.refresh(case.ticket)
    ticket_status.change_status(db, case.ticket, "open", actor=None, channel="phone", at=utcnow())
    db.commit()
    assert sending.send_due(now=later(days=4)) == {"cancel": 1}
    assert len(outbox.sent) == 1
    assert survey_of(db, work_order_id=wo.id).status == "cancelled"


def test_a_failing_mail_relay_keeps_the_survey_due(db: Session) -> None:
    from app.platform.mail import set_mailer

    class Down:
        def send(self, message: object) -> None:
            raise ConnectionRefusedError("relay down")

    case = customer(db)
    wo = visit(db, case)
    db.commit()
    set_mailer(Down())
    try:
        assert sending.send_due(now=later(hours=3)) == {}
    finally:
        set_mailer(None)
    s = survey_of(db, work_order_id=wo.id)
    assert s.status == "pending" and s.sent_at is None


def test_a_desk_resolution_survey_takes_the_sites_region_before_the_accounts(db: Session) -> None:
    """As the ticket KPIs slice the ticket: its site's region, else its account's (the account's
    alone put answers of such tickets in "(none)" and out of every region filter)."""
    from tests import factories as f

    case = customer(db)
    site_region = f.make_region(db)
    case.account.region_id = None
    site = f.make_site(db, case.account, region=site_region)
    ticket = f.open_ticket(db, case.account, asset=f.make_asset(db, site), contact_id=case.contact.id)
    assert ticket.site_id == site.id
    now = utcnow()
    ticket_status.change_status(db, ticket, "open", actor=None, channel="phone", at=now)
    ticket_status.change_status(db, ticket, "resolved", actor=None, channel="phone", at=now)
    db.commit()
    assert survey_of(db, ticket_id=ticket.id).region_id == site_region.id


def test_a_contact_who_left_gets_no_invitation_and_no_reminder(db: Session, outbox: Outbox) -> None:
    """Contact.active false (DELETE /contacts/{id} of a contact with history): the survey is
    skipped with the reason, and one already sent gets no reminder."""
    gone = customer(db)
    a = visit(db, gone)
    sent = customer(db)
    b = visit(db, sent)
    db.commit()
    gone.contact.active = False
    db.commit()
    assert sending.send_due(now=later(hours=3)) == {"skip": 1, "send": 1}
    assert [m["To"] for m in outbox.sent] == [sent.contact.email]
    skipped = survey_of(db, work_order_id=a.id)
    assert skipped.status == "skipped" and "left the customer" in skipped.note
    sent.contact.active = False  # leaves after the invitation: no reminder
    db.commit()
    assert sending.send_due(now=later(days=3, hours=4)) == {"done": 1}
    assert len(outbox.sent) == 1
    assert "left the customer" in survey_of(db, work_order_id=b.id).note
