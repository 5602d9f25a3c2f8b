"""The queue mode of GET /api/v1/tickets (`sort`, `view`, ...): keyset pages that list each ticket
once while tickets are closed and opened between pages, and every filter of the plain list."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.desk.tickets import queue
from app.models import Account, Team, TeamMember, Ticket, User
from app.platform.db import utcnow
from app.platform.http import encode_cursor
from tests import factories as f

API = "/api/v1/tickets"


def _ticket(db: Session, account: Account, due: datetime | None, assignee: User | None = None) -> Ticket:
    """A live ticket whose next due time is `due` (None: no target at all, sorted last)."""
    t = f.open_ticket(db, account)
    t.first_response_due_at = due
    if due is None:
        t.resolution_due_at = None
    t.assignee_id = assignee.id if assignee else None
    db.flush()
    return t


def _page(client: TestClient, headers: dict[str, str], **params: object) -> tuple[list[int], str | None]:
    r = client.get(API, params=params, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    return [t["id"] for t in body["items"]], body["next_cursor"]


@pytest.mark.parametrize(
    "params",
    [{"sort": "sla_risk"}, {"sort": "newest"}, {"view": "team"}, {"view": "team", "sort": "newest"}],
    ids=["sla_risk", "newest", "team", "team-newest"],
)
def test_paging_while_tickets_close_and_open_lists_each_ticket_once(
    client: TestClient, db: Session, params: dict[str, str]
) -> None:
    """The QA report: closing a ticket of page 1 skipped one on page 2, and tickets opened between
    pages came back twice (an OFFSET cursor). The cursor now holds the last row's (due, id)."""
    me, mate = f.make_user(db), f.make_user(db)
    team = Team(name="Keyset")
    db.add(team)
    db.flush()
    db.add_all([TeamMember(team_id=team.id, user_id=me.id), TeamMember(team_id=team.id, user_id=mate.id)])
    account = f.make_account(db)
    base = utcnow().replace(microsecond=0) + timedelta(hours=1)
    # Equal due times (the id breaks the tie) and tickets without any target (they come last).
    dues: list[datetime | None] = [base + timedelta(minutes=10 * (i // 3)) for i in range(10)] + [None, None]
    made = [_ticket(db, account, due, assignee=(me, mate)[i % 2]) for i, due in enumerate(dues)]
    db.commit()
    headers = f.bearer(me)
    query = {**params, "customer": account.id, "limit": 4}

    seen, cursor = _page(client, headers, **query)
    assert len(seen) == 4 and cursor
    # After page 1 a ticket of it is closed (an OFFSET then skipped one); after page 2 new ones
    # open before and after the cursor: an earlier due time, a later one, none; all newer ids (an
    # OFFSET then listed one again for each that sorts before it).
    closed = db.get(Ticket, seen[0])
    assert closed is not None
    closed.status = "closed"
    db.commit()
    pages = 1
    while cursor:
        ids, cursor = _page(client, headers, **query, cursor=cursor)
        seen += ids
        pages += 1
        if pages == 2:
            for due in (base - timedelta(hours=1), base + timedelta(days=1), None):
                _ticket(db, account, due, assignee=me)
            db.commit()
        assert pages < 10
    assert len(seen) == len(set(seen)), "a ticket was listed twice"
    assert {t.id for t in made} <= set(seen), "a ticket was skipped"


def test_the_order_is_the_sort_key_then_the_id(client: TestClient, db: Session) -> None:
    me = f.make_user(db)
    account = f.make_account(db)
    base = utcnow().replace(microsecond=0) + timedelta(hours=2)
    late, none, tie_a, tie_b, early = (
        _ticket(db, account, due)
        for due in (base + timedelta(hours=1), None, base, base, base - timedelta(hours=1))
    )
    db.commit()
    headers = f.bearer(me)
    seen: list[int] = []
    cursor: str | None = None
    while True:
        ids, cursor = _page(
            client,
            headers,
            sort="sla_risk",
            customer=account.id,
            limit=2,
            **({"cursor": cursor} if cursor else {}),
        )
        seen += ids
        if not cursor:
            break
    assert seen == [early.id, tie_a.id, tie_b.id, late.id, none.id]


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 !",
        encode_cursor(5),  # the OFFSET cursor this list gave before, or one of the plain list
        queue.encode_cursor(queue.After("newest", 3)),  # another sort order's
        queue.encode_cursor(queue.After("sla_risk", 2**31)),
        "eyJzIjoic2xhX3Jpc2siLCJpIjoxLCJkIjoiMjAyNi0xMi0xMFQwMDowMDowMCJ9",  # a due time without zone
    ],
)
def test_a_forged_cursor_is_a_422_naming_it(client: TestClient, db: Session, cursor: str) -> None:
    r = client.get(API, params={"sort": "sla_risk", "cursor": cursor}, headers=f.bearer(f.make_user(db)))
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["cursor"]


@pytest.mark.parametrize("params", [{"sort": "newest"}, {"sort": "sla_risk"}, {"view": "unassigned"}])
def test_asset_text_and_breach_filters_apply_with_a_sort_or_view(
    client: TestClient, db: Session, params: dict[str, str]
) -> None:
    """`?asset_id=973&sort=newest` listed tickets of other assets: the queue dropped the filter."""
    account = f.make_account(db)
    site = f.make_site(db, account)
    asset, other_asset = f.make_asset(db, site), f.make_asset(db, site)
    due = utcnow() + timedelta(hours=3)
    on_asset = f.open_ticket(db, account, asset=asset, subject="Boiler pressure low")
    on_other = f.open_ticket(db, account, asset=other_asset, subject="Chiller noise")
    breached = f.open_ticket(db, account, subject="Door sensor")
    for t in (on_asset, on_other, breached):
        t.first_response_due_at = due
    breached.sla_breached = True
    db.commit()
    headers = f.bearer(f.make_user(db))

    def ids(**extra: object) -> set[int]:
        found, _ = _page(client, headers, **params, customer=account.id, **extra)
        return set(found)

    assert ids() == {on_asset.id, on_other.id, breached.id}
    assert ids(asset_id=asset.id) == {on_asset.id}
    assert ids(q="boiler") == {on_asset.id}
    assert ids(q=on_other.number) == {on_other.id}
    assert ids(breached="true") == {breached.id}
    assert ids(breached="false") == {on_asset.id, on_other.id}
