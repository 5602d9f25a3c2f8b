"""A customer found by its name and by a contact's (or by two contacts) is listed once, counted once,
and its row still names the contact that matched so the 360 link preselects the caller."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import User
from app.platform.auth import issue_token
from app.platform.deps import SESSION_COOKIE
from tests import factories as f

API = "/api/v1/customers"


def _agent(client: TestClient, db: Session) -> None:
    user: User = f.make_user(db, role="agent")
    db.commit()
    client.cookies.set(SESSION_COOKIE, issue_token(user))


def _items(client: TestClient, q: str) -> dict[str, Any]:
    r = client.get(API, params={"q": q})
    assert r.status_code == 200, r.text
    return r.json()


def test_account_and_contact_hit_are_one_customer_with_the_contact(client: TestClient, db: Session) -> None:
    praxis = f.make_account(db, name="Praxis Dr. Özdemir")
    ayse = f.make_contact(db, praxis, name="Ayşe Özdemir", phone="089 4455667")
    other = f.make_account(db, name="Özdemir Bau GmbH")
    db.commit()
    _agent(client, db)
    body = _items(client, "Özdemir")
    assert body["total"] == 2 and not body["more"]
    assert [(h["account_id"], h["contact_id"]) for h in body["items"]] == [
        (other.id, None),  # prefix of the account name beats the words-anywhere hits
        (praxis.id, ayse.id),  # the contact's hit, named, so the 360 link preselects her
    ]
    html = client.get("/desk/search", params={"q": "Özdemir"}).text
    assert "2 customers found" in html
    assert html.count("Praxis Dr. Özdemir</span>") == 1
    assert f'href="/desk/customers/{praxis.id}?contact={ayse.id}"' in html
    assert "Contact: Ayşe Özdemir" in html


def test_an_account_name_hit_names_the_one_matching_contact(client: TestClient, db: Session) -> None:
    acc = f.make_account(db, name="Zimmermann Haustechnik")
    karl = f.make_contact(db, acc, name="Karl Zimmermann")
    f.make_contact(db, acc, name="Lea Brandt")
    db.commit()
    _agent(client, db)
    body = _items(client, "zimmermann")
    assert body["total"] == 1
    [hit] = body["items"]
    assert (hit["matched_field"], hit["match"], hit["contact_id"]) == ("account_name", "prefix", karl.id)
    html = client.get("/desk/search", params={"q": "zimmermann"}).text
    assert "1 customer found" in html and "Karl Zimmermann" in html


def test_two_matching_contacts_are_one_row_and_none_is_guessed(client: TestClient, db: Session) -> None:
    acc = f.make_account(db, name="Winkler & Söhne")
    f.make_contact(db, acc, name="Eva Winkler")
    f.make_contact(db, acc, name="Paul Winkler")
    db.commit()
    _agent(client, db)
    body = _items(client, "winkler")
    assert body["total"] == 1
    [hit] = body["items"]
    assert (hit["matched_field"], hit["contact_id"]) == ("account_name", None)


def test_a_phone_hit_keeps_its_contact(client: TestClient, db: Session) -> None:
    acc = f.make_account(db, name="Kanzlei Berger")
    f.make_contact(db, acc, name="Tom Berger", phone="089 1112223")
    lisa = f.make_contact(db, acc, name="Lisa Berger", phone="089 7778889")
    db.commit()
    _agent(client, db)
    [hit] = _items(client, "089 7778889")["items"]
    assert (hit["matched_field"], hit["contact_id"]) == ("phone", lisa.id)


def test_the_limit_counts_customers(client: TestClient, db: Session) -> None:
    for i in range(3):
        acc = f.make_account(db, name=f"Graf Elektro {i}")
        f.make_contact(db, acc, name=f"Anton Graf {i}")
    db.commit()
    _agent(client, db)
    body = client.get(API, params={"q": "graf", "limit": 2}).json()
    assert [h["account_name"] for h in body["items"]] == ["Graf Elektro 0", "Graf Elektro 1"]
    assert (body["total"], body["more"]) == (3, True)
