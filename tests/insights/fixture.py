"""A small service history whose KPIs are computed by hand in test_kpis_api.py.

Week under test: ISO week 2026-W11 (Mon 9 – Sun 15 March 2026, before either DST change), the
week before is 2026-W10. Two regions: Berlin (UTC+1) and New York (UTC−4 from 8 March). The SLA
calendar is Mon–Fri 08–12 and 13–17 Berlin time. All times below are UTC unless marked local.

Tickets
- T1 Berlin phone: opened Fri 6 Mar 15:00 (16:00 local); call logged and first response Mon 9 Mar
  08:00 (09:00 local); resolved 10:00. No visit. FR due 07:30 (breached), resolution due 12:00 (met).
- T2 Berlin email, asset A: opened Mon 9 Mar 07:30 (08:30 local), first response 08:00 (due 08:30,
  met). Visit W2a Tue 10 Mar 09:00–10:00, promised 08:00–10:00, not fixed; visit W2b Wed 11 Mar
  09:30–10:30, promised 08:00–09:00 (late), fixed; ticket arrived 10 Mar 09:00 (due 08:00,
  breached), resolved 11 Mar 10:30 (due 12 Mar 00:00, met).
- T3 New York web: opened Sun 15 Mar 20:00; FR due 21:00, never answered (breached); visit W3
  arrived Mon 16 Mar 03:30 UTC = **Sun 15 Mar 23:30 local**, promised 03:00–04:00, fixed, left
  03:50 (23:50 local); arrival due 04:00 (met); resolved Mon 16 Mar 04:30 (00:30 local, week 12).
- T4 Berlin phone: opened Tue 10 Mar 07:00, resolved by a person 08:00 (its first response),
  reopened 09:00, resolved again Thu 12 Mar 08:00.
- T5 Berlin phone, asset A: opened Thu 12 Mar 07:00; visit W5 Fri 13 Mar 09:00–10:00 (no promised
  window), fixed — a repeat visit of asset A, 2 days after W2b fixed it. Ticket still open, at risk.
Engineers: E1 Berlin (W2a, W2b, W5), E2 New York (W3), both Mon–Fri 08:00–17:00 with a 30-minute
break (510 shift minutes); E2 absent Thu 12 Mar.

Surveys (sent → answered: CSAT, NPS, CES, solved)
- S1 about W2b: sent Wed 11 Mar 12:00, answered 20:00: 2, 3, 3, not solved (a detractor).
- S2 about W3: sent Sun 15 Mar 23:00 UTC (19:00 New York), answered Mon 16 Mar 03:45 UTC =
  **Sun 23:45 local**: 5, 10, 7, solved.
- S3 about T1: sent Mon 9 Mar 12:00, answered Tue 10 Mar 09:00: 4, 8, (no CES), solved.
- S4 about T4: sent Thu 12 Mar 10:00, never answered. S5 about T5: not sent yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from app import models as m
from tests import factories


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@dataclass
class World:
    berlin: m.Region
    new_york: m.Region
    e1: m.Engineer
    e2: m.Engineer
    model: m.ProductModel
    tickets: dict[str, m.Ticket]
    visits: dict[str, m.WorkOrder]


def _ticket(db: Session, account: m.Account, site: m.Site, cal: m.BusinessCalendar, **kw: object) -> m.Ticket:
    i = factories.n()
    t = m.Ticket(
        number=f"TK-{i}",
        account_id=account.id,
        site_id=site.id,
        subject="Unit down",
        priority="P2",
        sla_calendar_id=cal.id,
        **kw,
    )
    db.add(t)
    db.flush()
    return t


def _visit(
    db: Session, ticket: m.Ticket, region: m.Region, engineer: m.Engineer, **kw: object
) -> m.WorkOrder:
    i = factories.n()
    wo = m.WorkOrder(
        number=f"WO-{i}",
        ticket_id=ticket.id,
        account_id=ticket.account_id,
        site_id=ticket.site_id,
        asset_id=ticket.asset_id,
        region_id=region.id,
        priority="P2",
        engineer_id=engineer.id,
        duration_min=60,
        **kw,
    )
    db.add(wo)
    db.flush()
    return wo


def _survey(
    db: Session,
    key: str,
    ticket: m.Ticket,
    visit: m.WorkOrder | None,
    region: m.Region,
    model: m.ProductModel | None,
    sent: datetime | None,
    answer: tuple[datetime, int, int, int | None, bool] | None,
) -> None:
    context = {
        "ticket_id": ticket.id,
        "work_order_id": visit.id if visit else None,
        "engineer_id": visit.engineer_id if visit else None,
        "account_id": ticket.account_id,
        "site_id": ticket.site_id,
        "region_id": region.id,
        "asset_id": ticket.asset_id,
        "product_model_id": model.id if model else None,
        "tier": ticket.sla_tier,
        "channel": ticket.channel,
    }
    survey = m.Survey(
        trigger_key=f"test:{key}:{factories.n()}",
        trigger="visit_checked_out" if visit else "ticket_resolved",
        template_id="visit" if visit else "resolution",
        triggered_at=sent or at(13, 12),
        status="sent" if sent else "pending",
        sent_at=sent,
        answered_at=answer[0] if answer else None,
        **context,
    )
    db.add(survey)
    db.flush()
    if answer:
        answered_at, csat, nps, ces, solved = answer
        db.add(
            m.SurveyAnswer(
                survey_id=survey.id,
                template_id=survey.template_id,
                answered_at=answered_at,
                csat=csat,
                nps=nps,
                ces=ces,
                solved=solved,
                is_detractor=nps <= 6 or csat <= 2 or not solved,
                **context,
            )
        )


def build(db: Session) -> World:
    berlin = factories.make_region(db, timezone="Europe/Berlin", code="BER", name="Berlin")
    new_york = factories.make_region(db, timezone="America/New_York", code="NYC", name="New York")
    cal = factories.make_calendar(db)
    acct_b = factories.make_account(db, region=berlin, tier="gold")
    acct_u = factories.make_account(db, region=new_york, tier="silver")
    site_b = factories.make_site(db, acct_b)
    site_u = factories.make_site(db, acct_u)
    model = factories.make_product_model(db, code="CH-900", name="Chiller 900")
    asset = factories.make_asset(db, site_b, product_model=model)
    e1 = factories.make_engineer(db, berlin, name="Eva Berlin")
    e2 = factories.make_engineer(db, new_york, name="Ned York")
    db.add(m.Absence(engineer_id=e2.id, day=date(2026, 3, 12)))

    t1 = _ticket(
        db,
        acct_b,
        site_b,
        cal,
        channel="phone",
        status="resolved",
        opened_at=at(6, 15),
        first_response_at=at(9, 8),
        first_response_via="call",
        resolved_at=at(9, 10),
        first_response_due_at=at(9, 7, 30),
        resolution_due_at=at(9, 12),
    )
    db.add(m.TicketEvent(ticket_id=t1.id, at=at(9, 8), kind="call", channel="phone"))
    t2 = _ticket(
        db,
        acct_b,
        site_b,
        cal,
        channel="email",
        asset_id=asset.id,
        status="resolved",
        opened_at=at(9, 7, 30),
        first_response_at=at(9, 8),
        first_response_via="reply",
        arrived_at=at(10, 9),
        resolved_at=at(11, 10, 30),
        first_response_due_at=at(9, 8, 30),
        arrival_due_at=at(10, 8),
        resolution_due_at=at(12, 0),
    )
    db.add(m.TicketEvent(ticket_id=t2.id, at=at(9, 8), kind="reply", channel="email"))
    w2a = _visit(
        db,
        t2,
        berlin,
        e1,
        status="needs_follow_up",
        appointment_start_at=at(10, 8),
        appointment_end_at=at(10, 10),
        checked_in_at=at(10, 9),
        checked_out_at=at(10, 10),
    )
    w2b = _visit(
        db,
        t2,
        berlin,
        e1,
        status="done",
        appointment_start_at=at(11, 8),
        appointment_end_at=at(11, 9),
        checked_in_at=at(11, 9, 30),
        checked_out_at=at(11, 10, 30),
    )
    t3 = _ticket(
        db,
        acct_u,
        site_u,
        cal,
        channel="web",
        status="resolved",
        opened_at=at(15, 20),
        arrived_at=at(16, 3, 30),
        resolved_at=at(16, 4, 30),
        first_response_due_at=at(15, 21),
        arrival_due_at=at(16, 4),
    )
    w3 = _visit(
        db,
        t3,
        new_york,
        e2,
        status="done",
        appointment_start_at=at(16, 3),
        appointment_end_at=at(16, 4),
        checked_in_at=at(16, 3, 30),
        checked_out_at=at(16, 3, 50),
    )
    t4 = _ticket(
        db,
        acct_b,
        site_b,
        cal,
        channel="phone",
        status="resolved",
        opened_at=at(10, 7),
        first_response_at=at(10, 8),
        first_response_via="resolution",
        resolved_at=at(12, 8),
    )
    db.add(m.SlaEvent(ticket_id=t4.id, at=at(10, 9), kind="resume", data={"reason": "x", "reopened": True}))
    t5 = _ticket(
        db,
        acct_b,
        site_b,
        cal,
        channel="phone",
        asset_id=asset.id,
        status="in_progress",
        opened_at=at(12, 7),
        arrived_at=at(13, 9),
        at_risk_since=at(13, 12),
        at_risk_reason="no engineer free",
    )
    w5 = _visit(db, t5, berlin, e1, status="done", checked_in_at=at(13, 9), checked_out_at=at(13, 10))
    for key, ticket, visit, region, sent, answer in (
        ("S1", t2, w2b, berlin, at(11, 12), (at(11, 20), 2, 3, 3, False)),
        ("S2", t3, w3, new_york, at(15, 23), (at(16, 3, 45), 5, 10, 7, True)),
        ("S3", t1, None, berlin, at(9, 12), (at(10, 9), 4, 8, None, True)),
        ("S4", t4, None, berlin, at(12, 10), None),
        ("S5", t5, w5, berlin, None, None),
    ):
        _survey(db, key, ticket, visit, region, model if ticket.asset_id else None, sent, answer)
    db.commit()
    return World(
        berlin,
        new_york,
        e1,
        e2,
        model,
        {"T1": t1, "T2": t2, "T3": t3, "T4": t4, "T5": t5},
        {"W2a": w2a, "W2b": w2b, "W3": w3, "W5": w5},
    )
