"""Punctuation typed around a name ("Müller GmbH.", '"Acme"', "Weber, Jana") does not hide the
customer, while a name's own punctuation, e-mail addresses, phone numbers, serials and CRM ids
match as before."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.desk.customers import service as customers
from tests import factories as f

API = "/api/v1/customers"


@pytest.fixture
def desk(login: Any) -> dict[str, str]:
    headers: dict[str, str] = login("agent")
    return headers


def hits(client: TestClient, headers: dict[str, str], q: str) -> list[dict[str, Any]]:
    r = client.get(API, params={"q": q}, headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


@pytest.fixture
def world(db: Session) -> dict[str, Any]:
    mueller = f.make_account(db, name="Müller GmbH", external_id="CRM-A1.7")
    acme = f.make_account(db, name="Acme Inc")
    praxis = f.make_account(db, name="Praxis Dr. Özdemir")
    alt = f.make_account(db, name="(Alt) Huber KG")
    jana = f.make_contact(
        db, mueller, name="Jana Weber", email="a.b@x.de", phone="+49 89/123 456 78", mobile=None
    )
    serial = f.make_asset(db, f.make_site(db, acme), serial="SN-12.4/A")
    f.make_account(db, name="Bakery Smith")  # shares no word with the queries below
    db.commit()
    return {"mueller": mueller, "acme": acme, "praxis": praxis, "alt": alt, "jana": jana, "serial": serial}


@pytest.mark.parametrize(
    ("typed", "who"),
    [
        ("Müller GmbH", "mueller"),  # as before
        ("Müller GmbH.", "mueller"),
        ("Müller GmbH,", "mueller"),
        ("„Müller GmbH“", "mueller"),
        ("(Müller GmbH)", "mueller"),
        ("Müller GmbH!?", "mueller"),
        ("Acme Inc.", "acme"),
        ('"Acme"', "acme"),
        ("'acme'", "acme"),
        ("Acme*", "acme"),
        ("Praxis Dr. Özdemir.", "praxis"),  # the name's own dot stays, the trailing one goes
        ("(Alt) Huber", "alt"),  # a name stored with leading punctuation still starts with it
    ],
)
def test_punctuation_around_a_name_is_ignored(
    client: TestClient, desk: dict[str, str], world: dict[str, Any], typed: str, who: str
) -> None:
    found = hits(client, desk, typed)
    assert [(h["account_id"], h["matched_field"], h["match"]) for h in found] == [
        (world[who].id, "account_name", "prefix")
    ]


@pytest.mark.parametrize(
    ("typed", "who"),
    [
        ("Müller, GmbH", "mueller"),
        ("Özdemir, Dr.", "praxis"),
        ("Dr Özdemir", "praxis"),
        ("Huber, Alt", "alt"),
    ],
)
def test_punctuation_around_words_in_any_order_is_ignored(
    client: TestClient, desk: dict[str, str], world: dict[str, Any], typed: str, who: str
) -> None:
    assert [(h["account_id"], h["match"]) for h in hits(client, desk, typed)] == [
        (world[who].id, "substring")
    ]


@pytest.mark.parametrize(("typed", "match"), [("Jana Weber.", "prefix"), ("Weber, Jana", "substring")])
def test_contact_names_too(
    client: TestClient, desk: dict[str, str], world: dict[str, Any], typed: str, match: str
) -> None:
    [hit] = hits(client, desk, typed)
    assert (hit["contact_id"], hit["matched_field"], hit["match"]) == (
        world["jana"].id,
        "contact_name",
        match,
    )


@pytest.mark.parametrize(
    ("typed", "field", "value"),
    [
        ("a.b@x.de", "email", "a.b@x.de"),
        ("+49 89/123 456 78", "phone", "+49 89/123 456 78"),
        ("SN-12.4/A", "serial", "SN-12.4/A"),
        ("sn 12.4/a", "serial", "SN-12.4/A"),  # other separators, compared as the 0024 index reduces them
        ("CRM-A1.7", "external_id", "CRM-A1.7"),
    ],
)
def test_emails_phones_serials_and_crm_ids_still_match_exactly(
    client: TestClient, desk: dict[str, str], world: dict[str, Any], typed: str, field: str, value: str
) -> None:
    first = hits(client, desk, typed)[0]
    assert (first["matched_field"], first["match"], first["value"]) == (field, "exact", value)


@pytest.mark.parametrize("typed", ["...", '""', "?!", '"A"', "(a)"])
def test_punctuation_alone_matches_nothing(
    client: TestClient, desk: dict[str, str], world: dict[str, Any], typed: str
) -> None:
    # Trimmed to nothing (or one letter) it would be LIKE '%': every customer, not a search.
    assert hits(client, desk, typed) == []


def test_the_name_query_keeps_one_prefix_when_only_trailing_punctuation_goes() -> None:
    # One LIKE 'x%' is one range scan of ix_account_name_search; a second only when it must.
    q = customers._NameQuery.of("Müller GmbH.")
    assert (q.prefixes, q.words) == (("muller gmbh",), ("muller", "gmbh"))
    q = customers._NameQuery.of("„Praxis Dr. Özdemir“")
    assert (q.prefixes, q.words) == (
        ("„praxis dr. ozdemir“", "praxis dr. ozdemir"),
        ("praxis", "dr", "ozdemir"),
    )
