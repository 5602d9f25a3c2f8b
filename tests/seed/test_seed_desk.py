"""The seeded desk (demo mode): account owners by the documented rule, a desk team per region
plus the key accounts team, open tickets worked by the region's team, recoveries to a real owner."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import models as m
from app.desk.tickets import queue
from app.feedback import demo, recovery
from app.insights import lists
from app.insights.records import Filters
from app.seed.data import REGIONS
from app.seed.generate import seed
from app.seed.staff import KEY_ACCOUNTS_TEAM, headcount, team_name
from tests.seed.test_seed import NOW

DESK_ROLES = {"agent", "dispatcher", "manager"}


@pytest.fixture
def seeded(db: Session) -> Session:
    seed(db, customers=120, seed=11, now=NOW, demo_users=True)
    db.expire_all()
    return db


def _teams(db: Session) -> dict[str, set[int]]:
    out: dict[str, set[int]] = defaultdict(set)
    for name, user_id in db.execute(
        select(m.Team.name, m.TeamMember.user_id).join(m.TeamMember, m.TeamMember.team_id == m.Team.id)
    ):
        out[name].add(user_id)
    return out


def test_key_accounts_have_owners_by_the_rule(seeded: Session) -> None:
    db = seeded
    users = {u.id: u for u in db.scalars(select(m.User))}
    teams = _teams(db)
    regions = {r.id: r.code for r in db.scalars(select(m.Region))}
    accounts = list(db.scalars(select(m.Account)))
    by_tier: dict[str, list[m.Account]] = defaultdict(list)
    for a in accounts:
        by_tier[a.tier].append(a)
    assert by_tier["platinum"] and by_tier["gold"]
    key_account_managers = teams[KEY_ACCOUNTS_TEAM]
    for a in by_tier["platinum"]:
        owner = users[a.owner_user_id]
        assert owner.role == "manager" and owner.is_active and owner.id in key_account_managers
    for a in by_tier["gold"]:
        owner = users[a.owner_user_id]
        assert owner.role == "agent" and owner.id in teams[team_name(regions[a.region_id])], a.id
    assert all(a.owner_user_id is None for a in by_tier["silver"] + by_tier["standard"])
    # the demo manager owns the München-Ost platinum accounts she is given
    maria = next(u for u in users.values() if u.email == "manager@example.com")
    assert maria.id in key_account_managers
    owned_by = {a.owner_user_id for a in by_tier["platinum"] if regions[a.region_id] == "MUC-O"}
    assert owned_by <= {u.id for u in users.values() if u.id in key_account_managers}


def test_teams_per_region_and_the_demo_agent_in_two(seeded: Session) -> None:
    db = seeded
    teams = _teams(db)
    assert set(teams) == {team_name(r) for r in REGIONS} | {KEY_ACCOUNTS_TEAM}
    users = {u.id: u for u in db.scalars(select(m.User))}
    agents, managers = headcount(120)
    for region in REGIONS:
        members = teams[team_name(region)]
        assert all(users[u].role == "agent" for u in members)
        assert len(members) == agents + (1 if region == "MUC-N" else 0)
    assert all(users[u].role in DESK_ROLES for t in teams.values() for u in t)
    anna = next(u for u in users.values() if u.email == "agent@example.com")
    assert [n for n, t in sorted(teams.items()) if anna.id in t] == ["Desk München-Nord", KEY_ACCOUNTS_TEAM]
    assert sum(1 for u in teams[KEY_ACCOUNTS_TEAM] if users[u].role == "manager") == managers * len(REGIONS)


def test_open_tickets_are_worked_by_their_region_team(seeded: Session) -> None:
    db = seeded
    teams = _teams(db)
    tickets = list(db.scalars(select(m.Ticket)))
    done = [t for t in tickets if t.status in ("resolved", "closed")]
    live = [t for t in tickets if t.status not in ("resolved", "closed")]
    assert live and all(t.assignee_id is None for t in done)
    assigned = [t for t in live if t.assignee_id is not None]
    assert 0.5 < len(assigned) / len(live) < 0.85  # two in three, some wait unassigned
    sites = {s.id: s.region_id for s in db.scalars(select(m.Site))}
    accounts = {a.id: a.region_id for a in db.scalars(select(m.Account))}
    regions = {r.id: r.code for r in db.scalars(select(m.Region))}
    for t in assigned:
        region = regions[sites[t.site_id] if t.site_id is not None else accounts[t.account_id]]
        assert t.assignee_id in teams[team_name(region)], t.number


def test_the_demo_agents_team_view_shows_tickets(seeded: Session) -> None:
    db = seeded
    anna = db.scalars(select(m.User).where(m.User.email == "agent@example.com")).one()
    rows, _ = queue.list_queue(db, anna, queue.QueueQuery(view="team"))
    assert rows
    members = set(queue.team_member_ids(db, anna, None))
    assert all(t.assignee_id in members for t in rows)


def test_a_key_accounts_detractor_goes_to_its_owner(seeded: Session) -> None:
    db = seeded
    answer = db.scalars(
        select(m.SurveyAnswer)
        .join(m.Account, m.Account.id == m.SurveyAnswer.account_id)
        .where(m.SurveyAnswer.is_detractor.is_(True), m.Account.owner_user_id.is_not(None))
        .order_by(m.SurveyAnswer.answered_at.desc())
        .limit(1)
    ).one()
    account = db.get(m.Account, answer.account_id)
    rec = recovery.open_recovery(db, answer.id)
    assert rec is not None and rec.owner_user_id == account.owner_user_id and rec.queue == "owner"
    assert db.get(m.Ticket, rec.ticket_id).assignee_id == account.owner_user_id
    owner = db.get(m.User, account.owner_user_id)
    day = rec.opened_at.date()  # a UTC date: the list's local days around it
    listed = lists.detractor_follow_ups(
        db, start=day - timedelta(days=1), end=day + timedelta(days=1), filters=Filters()
    )
    assert [(d["ticket_id"], d["owner"]) for d in listed if d["id"] == rec.id] == [
        (rec.ticket_id, owner.name)
    ]


def test_staff_scales_with_customers() -> None:
    assert headcount(120) == (2, 1)
    assert headcount(300) == (2, 1)
    assert headcount(2500) == (3, 1)
    assert headcount(100_000) == (100, 25)


def test_same_seed_same_desk(db: Session) -> None:
    def desk() -> list[tuple[object, ...]]:
        owners = db.execute(
            select(m.Account.external_id, m.User.email, m.User.name)
            .join(m.User, m.User.id == m.Account.owner_user_id)
            .order_by(m.Account.external_id)
        ).all()
        assigned = db.execute(
            select(m.Ticket.number, m.User.email)
            .join(m.User, m.User.id == m.Ticket.assignee_id)
            .order_by(m.Ticket.number)
        ).all()
        return [tuple(r) for r in owners + assigned]

    nested = db.begin_nested()
    seed(db, customers=25, seed=3, now=NOW, demo_users=True)
    first = desk()
    nested.rollback()
    seed(db, customers=25, seed=3, now=NOW, demo_users=True)
    assert first and desk() == first


def test_without_demo_users_nobody_owns_or_works_anything(db: Session) -> None:
    seed(db, customers=10, seed=3, now=NOW, demo_users=False)
    assert db.scalar(select(m.Account.id).where(m.Account.owner_user_id.is_not(None))) is None
    assert db.scalar(select(m.Ticket.id).where(m.Ticket.assignee_id.is_not(None))) is None
    assert db.scalar(select(m.Team.id)) is None


def test_recent_detractors_get_recovery_tickets_to_their_owners(seeded: Session) -> None:
    db = seeded
    window = timedelta(days=30)
    detractors = list(
        db.scalars(
            select(m.SurveyAnswer).where(
                m.SurveyAnswer.is_detractor.is_(True), m.SurveyAnswer.answered_at > NOW - window
            )
        )
    )
    assert detractors
    assert demo.open_recent_recoveries(db, now=NOW, within=window) == len(detractors)
    assert demo.open_recent_recoveries(db, now=NOW, within=window) == 0  # once only
    owners = {a.id: a.owner_user_id for a in db.scalars(select(m.Account))}
    recs = {r.answer_id: r for r in db.scalars(select(m.SurveyRecovery))}
    assert set(recs) == {a.id for a in detractors}
    for a in detractors:
        rec = recs[a.id]
        assert rec.owner_user_id == owners[a.account_id]
        assert rec.queue == ("owner" if owners[a.account_id] else "recovery")
    assert any(r.queue == "owner" for r in recs.values()), "no key account among the detractors"
