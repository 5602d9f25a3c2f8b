"""Seeded survey answers agree with the seeded visits and behave like real ones."""

from __future__ import annotations

from datetime import timedelta
from statistics import mean

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import models as m
from app.feedback import capture
from app.seed.generate import seed
from surveys import Answer
from tests.seed.test_seed import NOW


@pytest.fixture
def seeded(db: Session) -> Session:
    seed(db, customers=120, seed=11, now=NOW, demo_users=False)
    db.expire_all()
    return db


def test_surveys_follow_the_visits_and_the_sending_rules(seeded: Session) -> None:
    db = seeded
    surveys = list(db.scalars(select(m.Survey)))
    visits = {w.id: w for w in db.scalars(select(m.WorkOrder))}
    assert surveys
    last_sent: dict[int, object] = {}
    for s in sorted(surveys, key=lambda s: (s.contact_id, s.triggered_at)):
        if s.work_order_id is not None:
            w = visits[s.work_order_id]
            assert w.status in ("done", "needs_follow_up") and w.checked_out_at == s.triggered_at
            assert (s.ticket_id, s.account_id, s.asset_id, s.region_id) == (
                w.ticket_id,
                w.account_id,
                w.asset_id,
                w.region_id,
            )
        if s.sent_at is not None:
            assert s.sent_at == s.triggered_at + timedelta(hours=2) and s.sent_at <= NOW
            previous = last_sent.get(s.contact_id)
            assert previous is None or s.sent_at - previous >= timedelta(days=30)  # type: ignore[operator]
            last_sent[s.contact_id] = s.sent_at
        else:
            assert s.status in ("pending", "skipped")
    sent = [s for s in surveys if s.sent_at is not None]
    answered = [s for s in surveys if s.answered_at is not None]
    rate = len(answered) / len(sent)
    assert 0.25 <= rate <= 0.35, rate
    assert all(s.sent_at is not None and s.sent_at < s.answered_at <= NOW for s in answered)  # type: ignore[operator]


def test_answers_are_worse_after_late_repeated_or_part_short_visits(seeded: Session) -> None:
    answers = list(seeded.scalars(select(m.SurveyAnswer)))
    assert len(answers) > 100
    by_survey = {s.id: s for s in seeded.scalars(select(m.Survey))}
    for a in answers:
        s = by_survey[a.survey_id]
        assert (a.ticket_id, a.work_order_id, a.account_id) == (s.ticket_id, s.work_order_id, s.account_id)
        assert a.answered_at == s.answered_at
        assert a.is_detractor == Answer(csat=a.csat, nps=a.nps, solved=a.solved).is_detractor
    visit_answers = [a for a in answers if a.work_order_id is not None and a.csat is not None]
    facts = ("late", "part_missing", "repeat_visit")
    # against visits that went well: a part-short visit that was also late would count on both
    # sides of a one-fact split, which blurs the effect the seed models
    without = [a.csat for a in visit_answers if not any(getattr(a, f) for f in facts)]
    for fact in facts:
        with_fact = [a.csat for a in visit_answers if getattr(a, fact)]
        assert with_fact and without, fact
        # The seeded effect is about −1 CSAT point (less after clipping to 1–5); on this small seed
        # the sample's gap depends on the random stream (0.49 for part_missing once main's seed
        # drew call notes too), so the test asks for a clear gap, not the full point.
        assert mean(with_fact) < mean(without) - 0.5, (fact, mean(with_fact), mean(without))


def test_seeded_surveys_have_the_tier_and_template_live_capture_chooses(seeded: Session) -> None:
    """The KPIs slice answers by `tier`: a seeded survey must carry what app.feedback.capture would
    have chosen for the same case (the account's tier, not the SLA entitlement's), and its template."""
    db = seeded
    tiers = {a.id: a.tier for a in db.scalars(select(m.Account))}
    surveys = list(db.scalars(select(m.Survey)))
    by_tier = {s.tier for s in surveys}
    assert {"standard", "platinum"} <= by_tier, by_tier
    for s in surveys:
        ticket = db.get(m.Ticket, s.ticket_id)
        order = db.get(m.WorkOrder, s.work_order_id) if s.work_order_id is not None else None
        assert ticket is not None
        ctx, template = capture.choose(db, s.trigger, ticket, order)  # type: ignore[arg-type]
        assert template is not None
        assert (s.tier, s.template_id) == (ctx["tier"], template.id) == (tiers[s.account_id], template.id)
    answers = list(db.scalars(select(m.SurveyAnswer)))
    assert all(a.tier == tiers[a.account_id] for a in answers)
    # a contract customer's visit asks NPS, whatever the SLA of the asset visited
    assert all(a.nps is not None for a in answers if a.work_order_id is not None and a.tier != "standard")
