"""The dashboard's work lists: detractors to follow up, renewals at risk (lowest health first)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app import models as m
from app.insights import aggregates
from app.insights.api import local_today
from app.platform.auth import issue_token
from app.platform.deps import SESSION_COOKIE
from tests import factories
from tests.insights import fixture

WEEK = {"from": "2026-03-09", "to": "2026-03-15"}


@pytest.fixture
def world(db):
    w = fixture.build(db)
    today = local_today()
    accounts = {t.account_id for t in w.tickets.values()}
    berlin_acct = db.get(m.Account, w.tickets["T5"].account_id)
    ny_acct = db.get(m.Account, w.tickets["T3"].account_id)
    assert accounts == {berlin_acct.id, ny_acct.id}
    berlin_acct.renewal_date = today + timedelta(days=60)
    ny_acct.renewal_date = today + timedelta(days=100)
    later = factories.make_account(db, region=w.berlin, name="Later Renewal AG")
    later.renewal_date = today + timedelta(days=200)
    # the detractor S1 (CSAT 2, NPS 3, not solved) got a recovery ticket in the recovery queue
    answer = db.query(m.SurveyAnswer).filter(m.SurveyAnswer.csat == 2).one()
    recovery_ticket = m.Ticket(
        number="TK-REC-1",
        account_id=berlin_acct.id,
        subject="Follow up an unhappy answer",
        priority="P3",
        channel="phone",
        category="recovery",
        status="open",
        opened_at=datetime(2026, 3, 11, 20, 1, tzinfo=UTC),
    )
    db.add(recovery_ticket)
    db.flush()
    db.add(
        m.SurveyRecovery(
            answer_id=answer.id,
            ticket_id=recovery_ticket.id,
            account_id=berlin_acct.id,
            queue="recovery",
            opened_at=recovery_ticket.opened_at,
        )
    )
    db.commit()
    return w, berlin_acct, ny_acct, later


def test_detractor_list(client, login, world):
    w, berlin_acct, _, _ = world
    r = client.get("/api/v1/kpis/detractors", params=WEEK, headers=login("manager"))
    assert r.status_code == 200
    items = r.json()["items"]
    assert [(i["number"], i["csat"], i["nps"], i["solved"], i["account_id"]) for i in items] == [
        ("TK-REC-1", 2, 3, False, berlin_acct.id)
    ]
    assert items[0]["owner"] is None and items[0]["queue"] == "recovery"
    # sliced like the answer it follows up: S1 was about a Berlin visit
    assert (
        client.get(
            "/api/v1/kpis/detractors", params={**WEEK, "region": "NYC"}, headers=login("manager")
        ).json()["items"]
        == []
    )


def test_recovery_tickets_are_not_service_tickets(client, login, world):
    # the recovery ticket opened in week 11 and is open: it is in neither the backlog nor FRT's n
    r = client.get("/api/v1/kpis", params={**WEEK, "metric": "backlog"}, headers=login("manager")).json()
    assert r["metrics"][0]["total"]["n"] == 2


def test_renewal_risk_lowest_health_first(client, login, world):
    w, berlin_acct, ny_acct, later = world
    r = client.get("/api/v1/kpis/renewal-risk", headers=login("manager"))
    items = r.json()["items"]
    # Berlin: T5 is an open P2 (−5) → 95; New York: nothing open, March is outside every 90-day
    # window → 100; the account renewing in 200 days is not listed
    assert [(i["account_id"], i["score"]) for i in items] == [(berlin_acct.id, 95), (ny_acct.id, 100)]
    assert later.id not in {i["account_id"] for i in items}
    assert items[0]["reasons"] and "P2" in items[0]["reasons"][0]
    # the 360 view shows the same score
    view = client.get(f"/api/v1/customers/{berlin_acct.id}/360", headers=login("manager")).json()
    assert view["health"]["score"] == 95


@pytest.mark.parametrize("role", ["dispatcher", "agent", "engineer"])
@pytest.mark.parametrize("path", ["/api/v1/kpis/detractors", "/api/v1/kpis/renewal-risk"])
def test_lists_are_for_managers(client, login, role, path):
    assert client.get(path, headers=login(role)).status_code == 403


def test_dashboard_shows_both_lists_to_managers_only(client, db, world, login):
    w, berlin_acct, _, _ = world
    manager = factories.make_user(db, role="manager")
    dispatcher = factories.make_user(db, role="dispatcher")
    db.commit()
    client.cookies.set(SESSION_COOKIE, issue_token(manager))
    page = client.get("/insights", params=WEEK).text
    assert "Detractors to follow up" in page and "TK-REC-1" in page
    assert "Renewals at risk" in page and f'data-account="{berlin_acct.id}"' in page
    client.cookies.set(SESSION_COOKIE, issue_token(dispatcher))
    page = client.get("/insights", params=WEEK).text
    assert "Detractors to follow up" not in page and "Renewals at risk" not in page


def test_the_periodic_job_keeps_the_renewal_order(client, db, login, world):
    """After the refresh job the page scores only the first accounts of the kept order; the list
    is the same as scoring every renewing account, with and without a filter."""
    w, berlin_acct, ny_acct, _ = world
    live = client.get("/api/v1/kpis/renewal-risk", headers=login("manager")).json()["items"]
    live_ny = client.get(
        "/api/v1/kpis/renewal-risk", params={"region": "NYC"}, headers=login("manager")
    ).json()
    aggregates.refresh(db)
    state = db.get(m.KpiRefresh, 1)
    assert state.renewal_day == local_today()
    assert [row[:2] for row in state.renewal_scores] == [[berlin_acct.id, 95], [ny_acct.id, 100]]
    kept = client.get("/api/v1/kpis/renewal-risk", headers=login("manager")).json()["items"]
    kept_ny = client.get(
        "/api/v1/kpis/renewal-risk", params={"region": "NYC"}, headers=login("manager")
    ).json()
    assert kept == live and kept_ny == live_ny
    assert [i["account_id"] for i in kept_ny["items"]] == [ny_acct.id]


def test_both_lists_show_the_owner(client, db, world, login):
    """An account's owner is named in the renewal list and on its recovery tickets; without one
    the list says so (and a recovery is in the recovery queue)."""
    w, berlin_acct, ny_acct, _ = world
    owner = factories.make_user(db, role="agent", name="Olga Owner")
    berlin_acct.owner_user_id = owner.id
    rec = db.query(m.SurveyRecovery).one()
    rec.owner_user_id, rec.queue = owner.id, "owner"
    db.get(m.Ticket, rec.ticket_id).assignee_id = owner.id  # as open_recovery assigns it
    db.commit()
    risk = client.get("/api/v1/kpis/renewal-risk", headers=login("manager")).json()["items"]
    owners = [(i["account_id"], i["owner"]) for i in risk]
    assert owners == [(berlin_acct.id, "Olga Owner"), (ny_acct.id, None)]
    follow_ups = client.get("/api/v1/kpis/detractors", params=WEEK, headers=login("manager")).json()["items"]
    assert [i["owner"] for i in follow_ups] == ["Olga Owner"]
    client.cookies.set(SESSION_COOKIE, issue_token(factories.make_user(db, role="manager")))
    db.commit()
    page = client.get("/insights", params=WEEK).text
    assert page.count('class="owner">Olga Owner</td>') == 2  # both lists
    assert 'class="owner">no owner</td>' in page  # the New York account


def test_follow_up_list_reads_the_recovery_ticket_as_it_is_now(client, db, world):
    """A manager took the recovery ticket from the queue and resolved it: the list names them and
    says "Resolved" as the ticket page does (it kept "recovery queue" and "closed (resolved)"), shows
    the opening time in the desk's zone like every page, and links the ticket the answer was about."""
    from app.web.shared import fmt_dt

    manager = factories.make_user(db, role="manager", name="Mona Manager")
    rec = db.query(m.SurveyRecovery).one()
    ticket = db.get(m.Ticket, rec.ticket_id)
    ticket.assignee_id = manager.id
    ticket.status, ticket.resolved_at = "resolved", datetime(2026, 3, 12, 9, 0, tzinfo=UTC)
    rec.closed_at, rec.outcome = ticket.resolved_at, "resolved"
    case = db.get(m.Ticket, db.get(m.SurveyAnswer, rec.answer_id).ticket_id)
    db.commit()
    client.cookies.set(SESSION_COOKIE, issue_token(manager))
    page = client.get("/insights", params=WEEK).text
    row = page[page.index(f'data-recovery="{rec.id}"') :].split("</tr>")[0]
    assert 'class="owner">Mona Manager</td>' in row
    assert 'class="state">Resolved</td>' in row and "closed (" not in row
    assert fmt_dt(rec.opened_at) in row and " UTC" not in row
    assert f'<a href="/desk/tickets/{case.id}">{case.number}</a>' in row
    assert "from the survey answer" in row
    item = client.get("/api/v1/kpis/detractors", params=WEEK, headers=factories.bearer(manager)).json()[
        "items"
    ][0]
    assert (item["owner"], item["status"], item["case_number"]) == ("Mona Manager", "resolved", case.number)
