"""Search and ticket suggestions through the API (English and Chinese), "this solved it" with
first-contact resolution, "not helpful", the proven boost, and the ticket page's forms."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.models import KbTicketFeedback, ProductModel, Ticket, TicketEvent
from tests import factories as f
from tests.web.conftest import csrf_of

# The articles name the demo's product models: the database must have them.
pytestmark = pytest.mark.usefixtures("product_models")

API = "/api/v1/kb"
ARTICLES = [
    {
        "title": "Heat pump shows fault F.75: no heating",
        "symptom": "The display shows F.75 and the house stays cold.",
        "body": "Low **system pressure**. Refill the heating circuit to 1.5 bar and vent the radiators.",
        "product_models": ["HP-AROT"],
        "fault_codes": ["F75"],
        "status": "published",
    },
    {
        "title": "Lift door does not close properly",
        "symptom": "The car door reopens again and again.",
        "body": "Clean the light curtain lenses and the door sill.",
        "product_models": ["LI-S3300"],
        "status": "published",
    },
    {
        "title": "UPS reports battery fault after self test",
        "body": "Replace battery modules older than four years.",
        "product_models": ["UPS-GVS"],
        "status": "published",
    },
    {
        "title": "热泵显示故障F.75，不制热",
        "body": "系统水压过低。请客户给采暖系统补水并给散热器排气。",
        "product_models": ["HP-AROT"],
        "fault_codes": ["F75"],
        "status": "published",
    },
    {
        "title": "电梯门关不上或反复开门",
        "body": "清洁光幕镜片和门槛导轨。",
        "status": "published",
    },
    {
        "title": "Draft: heat pump pressure notes",
        "body": "heat pump pressure refill draft",
        "status": "draft",
    },
]


def _seed(client: TestClient, headers: dict[str, str]) -> dict[str, int]:
    ids = {}
    for article in ARTICLES:
        r = client.post(f"{API}/articles", json=article, headers=headers)
        assert r.status_code == 201, r.text
        ids[article["title"]] = r.json()["id"]
    return ids


def _titles(r: Any) -> list[str]:
    assert r.status_code == 200, r.text
    return [h["title"] for h in r.json()["items"]]


def test_english_and_chinese_search(client: TestClient, login: Any) -> None:
    agent = login("agent")
    _seed(client, agent)
    en = client.get(f"{API}/search", params={"q": "lift door keeps reopening"}, headers=agent)
    assert _titles(en)[0] == "Lift door does not close properly"
    first = en.json()["items"][0]
    assert "<mark>door</mark>" in first["title_html"].lower() or "<mark>Door</mark>" in first["title_html"]

    zh = client.get(f"{API}/search", params={"q": "电梯门关不上"}, headers=agent)
    assert _titles(zh)[0] == "电梯门关不上或反复开门"
    assert "<mark>" in zh.json()["items"][0]["title_html"]

    only_zh = client.get(f"{API}/search", params={"q": "F75 heat pump 热泵", "lang": "zh"}, headers=agent)
    assert _titles(only_zh) and all(h["language"] == "zh" for h in only_zh.json()["items"])

    # drafts are never found
    assert "Draft: heat pump pressure notes" not in _titles(
        client.get(f"{API}/search", params={"q": "heat pump pressure refill draft"}, headers=agent)
    )


def test_search_bad_input_is_problem_json(client: TestClient, login: Any) -> None:
    agent = login("agent")
    for params, field in (
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "x", "lang": "pt"}, "lang"),
        ({"q": "x", "limit": 0}, "limit"),
        ({"q": "x", "limit": "many"}, "limit"),
        ({"q": "a\x00b"}, "q"),
    ):
        r = client.get(f"{API}/search", params=params, headers=agent)
        assert r.status_code == 422, params
        assert r.headers["content-type"].startswith("application/problem+json")
        assert any(field in e["field"] for e in r.json()["errors"]), r.json()
    assert client.get(f"{API}/search", params={"q": "   "}, headers=agent).status_code == 422


def _ticket(
    db: Session, *, model: str = "HP-AROT", subject: str = "Heizung kalt", description: str = ""
) -> Ticket:
    region = f.make_region(db)
    acc = f.make_account(db, region=region)
    site = f.make_site(db, acc, region=region)
    pm = db.scalar(select(ProductModel).where(ProductModel.code == model)) or f.make_product_model(
        db, code=model, name=f"{model} unit"
    )
    asset = f.make_asset(db, site, product_model=pm)
    f.make_contact(db, acc)
    ticket = f.open_ticket(db, acc, asset=asset, subject=subject, description=description)
    db.commit()
    return ticket


def test_suggestions_use_subject_description_model_and_fault_code(
    client: TestClient, db: Session, login: Any
) -> None:
    agent = login("agent")
    ids = _seed(client, agent)
    ticket = _ticket(
        db, subject="Customer says display shows F.75", description="no heating since the morning"
    )
    r = client.get(f"/api/v1/tickets/{ticket.id}/suggestions", headers=agent)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["product_model"] == "HP-AROT" and body["fault_code"] == "F75"
    assert body["items"][0]["article_id"] == ids["Heat pump shows fault F.75: no heating"]
    assert (
        len(body["items"]) <= 5
        and "<mark>" in body["items"][0]["snippet_html"] + body["items"][0]["title_html"]
    )

    # what the agent types replaces the saved subject (the page asks as they type)
    lift = _ticket(db, model="LI-S3300", subject="Störung")
    typed = client.get(
        f"/api/v1/tickets/{lift.id}/suggestions", params={"subject": "door reopens"}, headers=agent
    )
    assert typed.json()["items"][0]["article_id"] == ids["Lift door does not close properly"]
    assert typed.json()["query"].startswith("door reopens")

    assert (
        client.get(f"/api/v1/tickets/{ticket.id}/suggestions", headers=login("engineer")).status_code == 403
    )
    assert client.get("/api/v1/tickets/999999/suggestions", headers=agent).status_code == 404


def test_suggestions_put_the_assets_product_then_the_tickets_language_first(
    client: TestClient, db: Session, login: Any
) -> None:
    agent = login("agent")
    # the demo's models (the product_models fixture): HP-AROT and HP-WPL25 heat pumps, a lift, a UPS
    ids = _seed(client, agent)
    # A ticket on a heat pump of a model no article names, whose text reads more like the lift and UPS
    # articles (the tests rank without the encoder); the model's name in the text is not a fault code.
    text = (
        "the cabinet door does not close properly, fault after the self test. Unit: Stiebel Eltron WPL 25 AC"
    )
    ticket = _ticket(db, model="HP-WPL25", subject="Heat pump fault", description=text)
    body = client.get(f"/api/v1/tickets/{ticket.id}/suggestions", headers=agent).json()
    order = [h["article_id"] for h in body["items"]]
    assert body["fault_code"] is None
    heat_pump = ids["Heat pump shows fault F.75: no heating"]
    lift, ups = ids["Lift door does not close properly"], ids["UPS reports battery fault after self test"]
    assert order[0] == heat_pump and {lift, ups} <= set(order[1:])
    # The same text on a lift: the lift article first (the product decides, not the wording alone).
    on_a_lift = _ticket(db, model="LI-S3300", subject="Heat pump fault", description=text)
    body = client.get(f"/api/v1/tickets/{on_a_lift.id}/suggestions", headers=agent).json()
    assert body["items"][0]["article_id"] == lift
    # A Chinese ticket on the heat pump: the Chinese heat-pump article before the English one.
    zh = _ticket(db, model="HP-WPL25", subject="热泵显示故障，不制热", description="heat pump F.75")
    body = client.get(f"/api/v1/tickets/{zh.id}/suggestions", headers=agent).json()
    zh_order = [h["article_id"] for h in body["items"]]
    assert zh_order[0] == ids["热泵显示故障F.75，不制热"] and heat_pump in zh_order

    # "Not helpful" on this ticket sends the article to the end of this ticket's list only.
    r = client.post(
        f"/api/v1/tickets/{ticket.id}/kb-not-helpful", json={"article_id": heat_pump}, headers=agent
    )
    assert r.status_code == 200
    after = client.get(f"/api/v1/tickets/{ticket.id}/suggestions", headers=agent).json()["items"]
    assert [h["article_id"] for h in after][-1] == heat_pump and len(after) == len(order)
    again = _ticket(db, model="HP-WPL25", subject="Heat pump fault", description=text)
    elsewhere = client.get(f"/api/v1/tickets/{again.id}/suggestions", headers=agent).json()
    assert elsewhere["items"][0]["article_id"] == heat_pump


def test_this_solved_it_resolves_with_first_contact_resolution(
    client: TestClient, db: Session, login: Any
) -> None:
    agent = login("agent")
    ids = _seed(client, agent)
    article = ids["Heat pump shows fault F.75: no heating"]
    ticket = _ticket(db, subject="Display shows F.75")
    url = f"/api/v1/tickets/{ticket.id}/kb-solution"
    r = client.post(url, json={"article_id": article}, headers=agent)
    assert r.status_code == 200, r.text
    assert r.json()["first_contact"] is True and r.json()["verdict"] == "solved"
    db.expire_all()
    saved = db.get(Ticket, ticket.id)
    assert saved is not None and saved.status == "resolved"
    events = db.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).all()
    solved = [e for e in events if e.kind == "kb_solved"]
    assert solved and solved[0].data == {"article_id": article, "first_contact": True}
    resolution = [e for e in events if e.kind == "status" and e.data.get("to") == "resolved"]
    # The article is internal (written for agents): the customer's resolution names it, no more.
    assert f"KB-{article}" in resolution[0].body and "F.75" not in resolution[0].body
    assert client.post(url, json={"article_id": article}, headers=agent).status_code == 200  # harmless repeat
    other = ids["Lift door does not close properly"]
    assert client.post(url, json={"article_id": other}, headers=agent).status_code == 409
    assert client.get(f"{API}/articles/{article}", headers=agent).json()["solved_count"] == 1
    feedback = client.get(f"/api/v1/tickets/{ticket.id}/kb-feedback", headers=agent).json()
    assert [(x["article_id"], x["verdict"]) for x in feedback] == [(article, "solved")]

    # A customer-visible article's title and steps are the resolution the customer reads.
    public = client.post(
        f"{API}/articles",
        json={
            "title": "Reset the heat pump after a power cut",
            "body": "Switch it off and on.",
            "resolution_steps": ["Switch off the mains for 30 s", "Switch on again"],
            "visibility": "customer",
            "status": "published",
        },
        headers=agent,
    ).json()["id"]
    second = _ticket(db, subject="Heat pump off after power cut")
    assert (
        client.post(
            f"/api/v1/tickets/{second.id}/kb-solution", json={"article_id": public}, headers=agent
        ).status_code
        == 200
    )
    body = db.scalar(
        select(TicketEvent.body)
        .where(TicketEvent.ticket_id == second.id, TicketEvent.kind == "status")
        .order_by(TicketEvent.id.desc())
    )
    assert (
        body is not None and "Reset the heat pump after a power cut" in body and "2. Switch on again" in body
    )


def test_no_first_contact_resolution_after_a_visit_or_a_second_contact(
    client: TestClient, db: Session, login: Any
) -> None:
    agent = login("agent")
    ids = _seed(client, agent)
    article = ids["Heat pump shows fault F.75: no heating"]
    with_visit = _ticket(db, subject="F.75 again")
    tickets.transition(db, ticket_id=with_visit.id, to="open", actor=None, channel="api")
    f.make_work_order(db, with_visit)
    two_calls = _ticket(db, subject="F.75 once more")
    for _ in range(2):
        tickets.log_call(
            db,
            ticket_id=two_calls.id,
            direction="inbound",
            summary="F.75",
            duration_min=5,
            actor=None,
            channel="api",
        )
    db.commit()
    from app.models import WorkOrder

    for wo in db.scalars(select(WorkOrder).where(WorkOrder.ticket_id == with_visit.id)):
        wo.status = "cancelled"  # the visit happened to be cancelled; it still counts as field work
    db.commit()
    for ticket in (with_visit, two_calls):
        r = client.post(
            f"/api/v1/tickets/{ticket.id}/kb-solution", json={"article_id": article}, headers=agent
        )
        assert r.status_code == 200, r.text
        assert r.json()["first_contact"] is False


def test_not_helpful_is_recorded_and_proven_articles_rank_higher(
    client: TestClient, db: Session, login: Any
) -> None:
    agent = login("agent")
    pair = [
        {
            "title": "Pump leaking at the shaft seal",
            "body": "Replace the mechanical seal.",
            "status": "published",
        },
        {"title": "Pump leaking at the flange", "body": "Tighten the flange bolts.", "status": "published"},
    ]
    ids = [client.post(f"{API}/articles", json=a, headers=agent).json()["id"] for a in pair]
    query = {"q": "pump leaking"}
    before = [
        h["article_id"] for h in client.get(f"{API}/search", params=query, headers=agent).json()["items"]
    ]
    assert set(before) == set(ids)
    underdog = before[1]
    for i in range(3):
        ticket = _ticket(db, subject=f"Pump leaking {i}", model=f"PU-{i}")
        r = client.post(
            f"/api/v1/tickets/{ticket.id}/kb-solution", json={"article_id": underdog}, headers=agent
        )
        assert r.status_code == 200
    after = [
        h["article_id"] for h in client.get(f"{API}/search", params=query, headers=agent).json()["items"]
    ]
    assert after[0] == underdog  # three tickets solved by it lift it above its twin

    ticket = _ticket(db, subject="Pump leaking again", model="PU-9")
    r = client.post(
        f"/api/v1/tickets/{ticket.id}/kb-not-helpful", json={"article_id": before[0]}, headers=agent
    )
    assert r.status_code == 200 and r.json()["verdict"] == "not_helpful" and r.json()["first_contact"] is None
    assert client.get(f"{API}/articles/{before[0]}", headers=agent).json()["not_helpful_count"] == 1
    suggestions = client.get(f"/api/v1/tickets/{ticket.id}/suggestions", headers=agent).json()
    assert suggestions["verdicts"] == {str(before[0]): "not_helpful"}
    assert db.scalar(select(KbTicketFeedback).where(KbTicketFeedback.ticket_id == ticket.id)) is not None


def test_article_from_a_ticket_is_a_prefilled_draft(client: TestClient, db: Session, login: Any) -> None:
    agent = login("agent")
    ticket = _ticket(db, subject="Display shows F.75", description="Cold house")
    tickets.transition(db, ticket_id=ticket.id, to="open", actor=None, channel="api")
    tickets.transition(
        db,
        ticket_id=ticket.id,
        to="resolved",
        reason="1. Refill to 1.5 bar\n2. Reset",
        actor=None,
        channel="api",
    )
    db.commit()
    r = client.post(f"{API}/articles/from-ticket", json={"ticket_id": ticket.id}, headers=agent)
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["title"] == "Display shows F.75" and a["symptom"] == "Cold house" and a["status"] == "draft"
    assert a["product_models"] == ["HP-AROT"] and a["fault_codes"] == ["F75"]
    assert a["resolution_steps"] == ["Refill to 1.5 bar", "Reset"] and "Refill" in a["body"]
    # A second click reopens the ticket's draft (no twin); the timeline names it.
    again = client.post(f"{API}/articles/from-ticket", json={"ticket_id": ticket.id}, headers=agent)
    assert again.status_code == 200 and again.json()["id"] == a["id"]
    kinds = db.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)).all()
    assert kinds.count("kb_draft") == 1
    # Once it is published, a click starts a new draft.
    r = client.patch(
        f"{API}/articles/{a['id']}",
        json={"status": "published"},
        headers={**agent, "If-Match": again.headers["ETag"]},
    )
    assert r.status_code == 200, r.text
    third = client.post(f"{API}/articles/from-ticket", json={"ticket_id": ticket.id}, headers=agent)
    assert third.status_code == 201 and third.json()["id"] != a["id"]
    assert (
        client.post(f"{API}/articles/from-ticket", json={"ticket_id": 999999}, headers=agent).status_code
        == 404
    )
    assert (
        client.post(
            f"{API}/articles/from-ticket", json={"ticket_id": ticket.id}, headers=login("dispatcher")
        ).status_code
        == 403
    )


def test_ticket_page_panel_and_forms(client: TestClient, db: Session, login: Any, sign_in: Any) -> None:
    agent_headers = login("agent")
    ids = _seed(client, agent_headers)
    article = ids["Heat pump shows fault F.75: no heating"]
    ticket = _ticket(db, subject="Display shows F.75")
    sign_in("agent")
    page = client.get(f"/desk/tickets/{ticket.id}")
    assert page.status_code == 200
    assert "Suggested articles" in page.text and f'href="/kb/articles/{article}"' in page.text
    # no CSRF token: refused, nothing recorded
    refused = client.post(f"/desk/tickets/{ticket.id}/kb/{article}/solved", data={"csrf": "nope"})
    assert refused.status_code == 403
    token = csrf_of(page.text)
    done = client.post(
        f"/desk/tickets/{ticket.id}/kb/{article}/solved",
        data={"csrf": token, "confirmed": "1"},  # as kb-suggest.js sends it after its dialog
        follow_redirects=True,
    )
    assert done.status_code == 200
    assert "resolved at first contact" in done.text and "first-contact resolution" in done.text
    assert f"Solved with knowledge article KB-{article} — first-contact resolution" in done.text  # timeline
    wrong = client.post(f"/desk/tickets/{ticket.id}/kb/{article}/maybe", data={"csrf": token})
    assert wrong.status_code == 404 and "text/html" in wrong.headers["content-type"]  # no such page
    draft = client.post(f"/desk/tickets/{ticket.id}/kb-article", data={"csrf": token}, follow_redirects=True)
    assert draft.status_code == 200 and "Draft created from the ticket" in draft.text
    again = client.post(f"/desk/tickets/{ticket.id}/kb-article", data={"csrf": token}, follow_redirects=True)
    assert again.url.path == draft.url.path and "This ticket&#39;s draft, written earlier" in again.text
    assert "written from this ticket" in client.get(f"/desk/tickets/{ticket.id}").text  # the timeline


def test_engineer_visit_page_lists_articles_for_the_model(
    client: TestClient, db: Session, login: Any
) -> None:
    from app.platform.auth import issue_token
    from app.platform.deps import SESSION_COOKIE

    agent = login("agent")
    ids = _seed(client, agent)
    region = f.make_region(db)
    user = f.make_user(db, role="engineer")
    engineer = f.make_engineer(db, region, user=user)
    ticket = _ticket(db, model="LI-S3300", subject="Aufzugstür schließt nicht")
    wo = f.make_work_order(db, ticket)
    wo.engineer_id = engineer.id
    db.commit()
    client.cookies.set(SESSION_COOKIE, issue_token(user))
    page = client.get(f"/field/visits/{wo.id}")
    assert page.status_code == 200, page.text[:500]
    assert "Knowledge articles" in page.text
    assert f'href="/kb/articles/{ids["Lift door does not close properly"]}"' in page.text
    assert "Heat pump shows fault" not in page.text


def test_roles_for_the_ticket_routes(client: TestClient, db: Session, login: Any) -> None:
    """Desk roles use the knowledge routes under /tickets; engineers get 403; an unknown ticket or
    article is 404; a draft is not a suggestion an engineer could use but desk roles may link it."""
    writer = login("agent")
    ids = _seed(client, writer)
    article = ids["Heat pump shows fault F.75: no heating"]
    ticket = _ticket(db, subject="F.75")
    routes = [
        ("get", "/api/v1/tickets/{t}/suggestions", None),
        ("get", "/api/v1/tickets/{t}/kb-feedback", None),
        ("post", "/api/v1/tickets/{t}/kb-not-helpful", {"article_id": article}),
        ("post", "/api/v1/tickets/{t}/kb-solution", {"article_id": article}),
    ]
    for role, known, unknown in (("engineer", 403, 403), ("dispatcher", 200, 404), ("manager", 200, 404)):
        me = login(role)
        for method, path, body in routes:
            kw: dict[str, Any] = {"headers": me} if body is None else {"headers": me, "json": body}
            assert getattr(client, method)(path.format(t=999999), **kw).status_code == unknown, (role, path)
            assert getattr(client, method)(path.format(t=ticket.id), **kw).status_code == known, (role, path)
    agent = login("agent")
    missing = client.post(
        f"/api/v1/tickets/{ticket.id}/kb-not-helpful", json={"article_id": 999999}, headers=agent
    )
    assert missing.status_code == 404
    bad = client.post(f"/api/v1/tickets/{ticket.id}/kb-solution", json={"article_id": "x"}, headers=agent)
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")


def test_german_articles_are_searched_filtered_and_suggested_first_to_a_german_ticket(
    client: TestClient, db: Session, login: Any
) -> None:
    """A German service company writes German articles: filed as "de", found by German words (the
    analyser drops no stop words and stems nothing, so no English rule removes German words), kept
    by lang=de, and first among a German ticket's suggestions, before English and then Chinese."""
    agent = login("agent")
    ids = _seed(client, agent)
    german = {
        "title": "Wärmepumpe zeigt Störung F.75: keine Heizleistung",
        "symptom": "Das Display zeigt F.75 und das Haus bleibt kalt.",
        "body": "Der Anlagendruck ist zu niedrig. Heizkreis auf 1,5 bar füllen und die Heizkörper entlüften.",
        "product_models": ["HP-AROT"],
        "fault_codes": ["F75"],
        "status": "published",
    }
    r = client.post(f"{API}/articles", json=german, headers=agent)
    assert r.status_code == 201 and r.json()["language"] == "de", r.text
    german_id = r.json()["id"]

    found = client.get(f"{API}/search", params={"q": "Heizkörper entlüften Druck"}, headers=agent)
    assert _titles(found)[0] == german["title"]
    assert "<mark>entlüften</mark>" in found.json()["items"][0]["snippet_html"]
    only_de = client.get(
        f"{API}/search", params={"q": "F75 heat pump Wärmepumpe", "lang": "de"}, headers=agent
    )
    assert [h["article_id"] for h in only_de.json()["items"]] == [german_id]

    ticket = _ticket(
        db, subject="Wärmepumpe: Störung F.75", description="Das Haus bleibt kalt, keine Heizung."
    )
    body = client.get(f"/api/v1/tickets/{ticket.id}/suggestions", headers=agent).json()
    order = [h["article_id"] for h in body["items"]]
    english, chinese = ids["Heat pump shows fault F.75: no heating"], ids["热泵显示故障F.75，不制热"]
    assert order[:3] == [german_id, english, chinese], body


@pytest.mark.parametrize("status", ["draft", "archived"])
def test_an_article_no_longer_published_cannot_be_a_tickets_resolution(
    client: TestClient, db: Session, login: Any, status: str
) -> None:
    """A ticket page left open while someone took the article back: "This solved it" resolved the
    ticket with the draft, and the customer's resolution quoted it."""
    agent = login("agent")
    article = client.post(
        f"{API}/articles",
        json={"title": "Reset after a power cut", "body": "Switch it off and on.", "status": status},
        headers=agent,
    ).json()["id"]
    ticket = _ticket(db, subject="Heat pump off after power cut")
    r = client.post(f"/api/v1/tickets/{ticket.id}/kb-solution", json={"article_id": article}, headers=agent)
    assert r.status_code == 409, r.text
    assert f"KB-{article} is {status}, no longer published" in r.json()["detail"]
    db.expire_all()
    assert db.get_one(Ticket, ticket.id).status == ticket.status
    assert client.get(f"/api/v1/tickets/{ticket.id}/kb-feedback", headers=agent).json() == []
