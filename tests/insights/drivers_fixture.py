"""Answers with visit facts whose driver effects are computed by hand in test_drivers.py.

On top of tests/insights/fixture.py (window 2026-W11, Mon 9 – Sun 15 March 2026; its three
answers carry no facts, so they count in n but sit on neither side of any fact), six Berlin
answers (fact values: T true, F false, – unknown):

    answer  CSAT  late  repeat_visit  part_missing  sla_breach  first_time_fix
    A1      1     T     T             F             T           –
    A2      2     T     F             F             F           –
    A3      3     T     –             F             F           –
    A4      3     F     F             F             T           F
    A5      4     F     F             F             F           T
    A6      5     F     –             F             F           T

and three that must not count in the Berlin window: one with no CSAT (NPS only), one answered
Sun 15 Mar 23:30 UTC (= Mon 16 Mar 00:30 Berlin, the next week), and one late visit in New York
rated 5 (only without the region filter).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app import models as m
from tests import factories
from tests.insights import fixture
from tests.insights.fixture import at

FACTS = ("late", "repeat_visit", "part_missing", "sla_breach", "first_time_fix")
T, F, U = True, False, None
ROWS: dict[str, tuple[datetime, int | None, tuple[bool | None, ...]]] = {
    "A1": (at(12, 9), 1, (T, T, F, T, U)),
    "A2": (at(12, 10), 2, (T, F, F, F, U)),
    "A3": (at(13, 9), 3, (T, U, F, F, U)),
    "A4": (at(13, 11), 3, (F, F, F, T, F)),
    "A5": (at(14, 9), 4, (F, F, F, F, T)),
    "A6": (at(14, 10), 5, (F, U, F, F, T)),
    "no_csat": (at(12, 11), None, (T, T, T, T, F)),
    "next_week": (at(15, 23, 30), 1, (T, T, T, T, F)),
}


@dataclass
class DriversWorld:
    base: fixture.World
    answers: dict[str, m.SurveyAnswer]


def _answer(
    db: Session, key: str, visit: m.WorkOrder, region: m.Region, when: datetime, csat: int | None, facts: dict
) -> m.SurveyAnswer:
    ticket = db.get(m.Ticket, visit.ticket_id)
    assert ticket is not None
    context = {
        "ticket_id": ticket.id,
        "work_order_id": visit.id,
        "engineer_id": visit.engineer_id,
        "account_id": ticket.account_id,
        "site_id": ticket.site_id,
        "region_id": region.id,
        "asset_id": ticket.asset_id,
        "channel": ticket.channel,
    }
    survey = m.Survey(
        trigger_key=f"test:drivers:{key}:{factories.n()}",
        trigger="visit_checked_out",
        template_id="visit",
        triggered_at=when,
        status="sent",
        sent_at=when,
        answered_at=when,
        **context,
    )
    db.add(survey)
    db.flush()
    answer = m.SurveyAnswer(
        survey_id=survey.id,
        template_id="visit",
        answered_at=when,
        csat=csat,
        nps=8,
        solved=True,
        is_detractor=csat is not None and csat <= 2,
        **facts,
        **context,
    )
    db.add(answer)
    db.flush()
    return answer


def build(db: Session) -> DriversWorld:
    base = fixture.build(db)
    answers = {}
    for key, (when, csat, values) in ROWS.items():
        facts = dict(zip(FACTS, values, strict=True))
        answers[key] = _answer(db, key, base.visits["W5"], base.berlin, when, csat, facts)
    answers["new_york"] = _answer(
        db, "new_york", base.visits["W3"], base.new_york, at(13, 15), 5, {"late": True}
    )
    db.commit()
    return DriversWorld(base, answers)
