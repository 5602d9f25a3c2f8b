"""The desk's queue: saved views, filters, SLA-risk order, teams, and per-item bulk changes."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.desk.tickets import queue
from app.models import Team, TeamMember, Ticket, User
from app.platform.db import utcnow
from tests import factories as f


def _ticket(db: Session, account, *, due_in_h: float, assignee: User | None = None, **kw) -> Ticket:
    t = f.open_ticket(db, account, **kw)
    t.first_response_due_at = utcnow() + timedelta(hours=due_in_h)
    t.assignee_id = assignee.id if assignee else None
    db.flush()
    return t


def _numbers(client: TestClient, headers: dict[str, str], **params: object) -> list[str]:
    r = client.get("/api/v1/tickets", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return [t["number"] for t in r.json()["items"]]


def test_views_filter_and_sort_by_the_next_sla_due_time(client: TestClient, db: Session) -> None:
    me = f.make_user(db, role="agent")
    mate = f.make_user(db, role="agent")
    stranger = f.make_user(db, role="agent")
    team = Team(name="Hotline")
    db.add(team)
    db.flush()
    db.add_all([TeamMember(team_id=team.id, user_id=me.id), TeamMember(team_id=team.id, user_id=mate.id)])
    account = f.make_account(db)
    other = f.make_account(db)
    late = _ticket(db, account, due_in_h=-1, assignee=me)  # already overdue
    soon = _ticket(db, account, due_in_h=2, assignee=mate, channel="email")
    later = _ticket(db, other, due_in_h=30, assignee=me)
    free = _ticket(db, account, due_in_h=3)
    theirs = _ticket(db, account, due_in_h=1, assignee=stranger)
    done = _ticket(db, account, due_in_h=0.5, assignee=me)
    done.status = "closed"
    db.commit()
    headers = f.bearer(me)

    assert _numbers(client, headers, view="mine") == [late.number, later.number]  # closed left out
    assert _numbers(client, headers, view="team") == [late.number, soon.number, later.number]
    assert _numbers(client, headers, view="unassigned") == [free.number]
    assert _numbers(client, headers, view="breaching_soon") == [
        late.number,
        theirs.number,
        soon.number,
        free.number,
    ]
    # Filters narrow a view; the order stays the SLA risk.
    assert _numbers(client, headers, view="breaching_soon", channel="email") == [soon.number]
    assert _numbers(client, headers, view="mine", customer=other.id) == [later.number]
    before = (utcnow() + timedelta(hours=2.5)).isoformat()
    assert _numbers(client, headers, view="team", sla_due_before=before) == [late.number, soon.number]
    assert _numbers(client, headers, view="mine", status="closed") == [done.number]
    # Each item says which target it counts down to.
    first = client.get("/api/v1/tickets", params={"view": "mine"}, headers=headers).json()["items"][0]
    assert first["sla_next_metric"] == "first_response" and first["sla_next_due_at"]


def test_product_filter_and_paging(client: TestClient, db: Session) -> None:
    me = f.make_user(db, role="agent")
    account = f.make_account(db)
    model = f.make_product_model(db)
    asset = f.make_asset(db, f.make_site(db, account), product_model=model)
    with_asset = _ticket(db, account, due_in_h=5, asset=asset)
    rest = [_ticket(db, account, due_in_h=h) for h in (1, 2, 3)]
    db.commit()
    headers = f.bearer(me)
    assert _numbers(client, headers, view="unassigned", product=asset.product_model_id) == [with_asset.number]
    page = client.get("/api/v1/tickets", params={"view": "unassigned", "limit": 2}, headers=headers).json()
    assert [t["number"] for t in page["items"]] == [rest[0].number, rest[1].number]
    assert queue.decode_cursor(page["next_cursor"], "sla_risk").id == rest[1].id  # keyset, no offset
    page2 = client.get(
        "/api/v1/tickets",
        params={"view": "unassigned", "limit": 2, "cursor": page["next_cursor"]},
        headers=headers,
    ).json()
    assert [t["number"] for t in page2["items"]] == [rest[2].number, with_asset.number]
    assert page2["next_cursor"] is None


def test_manager_sees_every_team_an_agent_only_their_own(client: TestClient, db: Session) -> None:
    a, b, manager = f.make_user(db), f.make_user(db), f.make_user(db, role="manager")
    t1, t2 = Team(name="North"), Team(name="South")
    db.add_all([t1, t2])
    db.flush()
    db.add_all([TeamMember(team_id=t1.id, user_id=a.id), TeamMember(team_id=t2.id, user_id=b.id)])
    account = f.make_account(db)
    ta = _ticket(db, account, due_in_h=1, assignee=a)
    tb = _ticket(db, account, due_in_h=2, assignee=b)
    db.commit()
    assert _numbers(client, f.bearer(manager), view="team") == [ta.number, tb.number]
    assert _numbers(client, f.bearer(manager), view="team", team=t2.id) == [tb.number]
    assert _numbers(client, f.bearer(a), view="team") == [ta.number]
    r = client.get("/api/v1/tickets", params={"view": "team", "team": t2.id}, headers=f.bearer(a))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "team"


def test_bad_view_is_named(client: TestClient, db: Session) -> None:
    r = client.get("/api/v1/tickets", params={"view": "everything"}, headers=f.bearer(f.make_user(db)))
    assert r.status_code == 422 and "view" in r.text


def test_bulk_applies_each_item_and_reports_the_stale_one(db: Session) -> None:
    me, other = f.make_user(db), f.make_user(db)
    account = f.make_account(db)
    fresh = _ticket(db, account, due_in_h=1)
    stale = _ticket(db, account, due_in_h=2)
    seen = {fresh.id: fresh.version, stale.id: stale.version}
    # Someone else edits `stale` after the agent loaded the list.
    from app.desk.tickets import service as tickets

    tickets.update_ticket(db, ticket_id=stale.id, values={"subject": "edited"}, actor=other, channel="web")
    db.flush()
    result = queue.bulk_apply(db, items=list(seen.items()), actor=me, assignee_id=me.id)
    assert result.changed == [fresh.number]
    assert [n for n, _ in result.refused] == [stale.number]
    assert "changed by someone else" in result.refused[0][1]
    db.refresh(fresh)
    db.refresh(stale)
    assert fresh.assignee_id == me.id and stale.assignee_id is None


def test_team_view_pages_across_members_in_due_order(client: TestClient, db: Session) -> None:
    a, b = f.make_user(db), f.make_user(db)
    team = Team(name="Pairs")
    db.add(team)
    db.flush()
    db.add_all([TeamMember(team_id=team.id, user_id=a.id), TeamMember(team_id=team.id, user_id=b.id)])
    account = f.make_account(db)
    # Interleaved due times: a page must merge both members' rows, not list one member first.
    made = [
        _ticket(db, account, due_in_h=h, assignee=(a if i % 2 == 0 else b))
        for i, h in enumerate((1, 2, 3, 4, 5))
    ]
    db.commit()
    headers = f.bearer(a)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"view": "team", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/tickets", params=params, headers=headers).json()
        seen += [t["number"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [t.number for t in made]
    newest = _numbers(client, headers, view="team", sort="newest")
    assert newest == [t.number for t in reversed(made)]


def test_the_next_due_time_counts_arrival_only_once_the_ticket_has_a_visit(
    client: TestClient, db: Session
) -> None:
    """The ticket page measures arrival only for tickets with a visit; the queue once counted every
    ticket's arrival due time ("overdue 2 d Arrival" beside "Arrival: not applicable"), and showed a
    closed ticket as overdue."""
    me = f.make_user(db, role="agent")
    region = f.make_region(db)
    account = f.make_account(db, region=region)
    asset = f.make_asset(db, f.make_site(db, account, region=region))
    ticket = _ticket(db, account, due_in_h=-5, asset=asset)
    ticket.first_response_at = utcnow() - timedelta(hours=4)  # answered: the next target is later
    ticket.arrival_due_at = utcnow() - timedelta(hours=2)  # run out, but no visit: not measured
    ticket.resolution_due_at = utcnow() + timedelta(days=2)
    db.commit()
    headers = f.bearer(me)

    def item() -> dict[str, object]:
        found: dict[str, object] = client.get(f"/api/v1/tickets/{ticket.id}", headers=headers).json()
        return found

    assert item()["sla_next_metric"] == "resolution"
    assert _numbers(client, headers, view="unassigned", sla_due_before=utcnow().isoformat()) == []

    f.make_work_order(db, ticket)  # a visit: arrival applies
    db.commit()
    assert item()["sla_next_metric"] == "arrival"
    assert _numbers(client, headers, view="unassigned", sla_due_before=utcnow().isoformat()) == [
        ticket.number
    ]

    ticket.status = "closed"
    db.commit()
    assert item()["sla_next_metric"] is None and item()["sla_next_due_at"] is None


def test_a_ticket_number_is_read_in_the_spellings_people_type() -> None:
    for typed in ("T-0001071", "t-0001071", "T-1071", "T1071", "1071", " 0001071 ", "t - 1071"):
        assert queue.ticket_number(typed) == "T-0001071", typed
    for typed in ("", "T-", "WO-0001071", "Fischer", "10 71", "T-99999999999"):
        assert queue.ticket_number(typed) is None, typed


def test_bulk_refusals_name_statuses_by_their_labels(db: Session) -> None:
    me = f.make_user(db)
    new = _ticket(db, f.make_account(db), due_in_h=1)
    result = queue.bulk_apply(db, items=[(new.id, new.version)], actor=me, status="resolved", reason="Fixed")
    assert result.refused == [
        (
            new.number,
            "a ticket that is New cannot move to Resolved; allowed next: Open, Waiting on customer, Closed.",
        )
    ]
