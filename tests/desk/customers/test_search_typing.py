"""Search the way people type: folded accents and case, spelled-out umlauts, words in any order,
the last digits of a phone number, and a result that says when more matches exist than it shows."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests import factories as f

API = "/api/v1/customers"


@pytest.fixture
def desk(login: Any) -> dict[str, str]:
    return login("agent")


def body(client: TestClient, headers: dict[str, str], q: str, **params: Any) -> dict[str, Any]:
    r = client.get(API, params={"q": q, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def callers(db: Session) -> dict[str, Any]:
    yilmaz = f.make_account(db, name="Bäckerei Yılmaz")
    juergen = f.make_contact(db, yilmaz, name="Jürgen Wagner", phone="+49 (0)89 71381-100")
    strasse = f.make_account(db, name="Hotel Schloßstraße")
    mueller = f.make_account(db, name="Mueller Kälte OHG")
    istanbul = f.make_account(db, name="İSTANBUL GRILL")
    f.make_account(db, name="Bakery Smith")  # shares no folded word with the queries below
    db.commit()
    return {
        "yilmaz": yilmaz,
        "juergen": juergen,
        "strasse": strasse,
        "mueller": mueller,
        "istanbul": istanbul,
    }


@pytest.mark.parametrize(
    "typed",
    [
        "Backerei Yilmaz",
        "BACKEREI YILMAZ",
        "bäckerei yilmaz",
        "Baeckerei Yılmaz",
        "Yilmaz Backerei",
        "yılmaz",
    ],
)
def test_accents_case_dotless_i_and_spelled_umlauts_fold_together(
    client: TestClient, desk: dict[str, str], callers: dict[str, Any], typed: str
) -> None:
    hits = body(client, desk, typed)["items"]
    assert hits[0]["account_id"] == callers["yilmaz"].id
    assert hits[0]["account_name"] == "Bäckerei Yılmaz"  # shown as stored, only compared folded


@pytest.mark.parametrize(
    ("typed", "who"),
    [
        ("Schlossstrasse", "strasse"),
        ("hotel schloßstr", "strasse"),
        ("Müller Kälte", "mueller"),  # ü typed, ue stored
        ("mueller kaelte", "mueller"),
        ("Istanbul", "istanbul"),  # İ (dotted capital) typed as a plain I
        ("istanbul grill", "istanbul"),
    ],
)
def test_eszett_and_umlauts_match_both_ways(
    client: TestClient, desk: dict[str, str], callers: dict[str, Any], typed: str, who: str
) -> None:
    assert [h["account_id"] for h in body(client, desk, typed)["items"]] == [callers[who].id]


@pytest.mark.parametrize("typed", ["Wagner Jürgen", "wagner juergen", "Jurgen Wagner", "JÜRG"])
def test_contact_names_in_any_word_order(
    client: TestClient, desk: dict[str, str], callers: dict[str, Any], typed: str
) -> None:
    hits = [h for h in body(client, desk, typed)["items"] if h["matched_field"] == "contact_name"]
    assert [h["contact_id"] for h in hits] == [callers["juergen"].id]


@pytest.mark.parametrize("typed", ["381100", "381-100", "71381-100", "71 38 11 00"])
def test_last_digits_of_a_phone_number_find_the_caller(
    client: TestClient, desk: dict[str, str], callers: dict[str, Any], typed: str
) -> None:
    hits = body(client, desk, typed)["items"]
    assert [(h["contact_id"], h["matched_field"], h["match"]) for h in hits] == [
        (callers["juergen"].id, "phone", "suffix")
    ]


def test_fewer_than_six_trailing_digits_are_not_a_phone_tail(
    client: TestClient, desk: dict[str, str], callers: dict[str, Any]
) -> None:
    assert body(client, desk, "81100")["items"] == []


def test_full_number_with_trunk_zero_is_still_an_exact_match(
    client: TestClient, desk: dict[str, str], callers: dict[str, Any]
) -> None:
    hit = body(client, desk, "089 71381100")["items"][0]
    assert (hit["contact_id"], hit["match"]) == (callers["juergen"].id, "exact")


def test_result_says_how_many_matches_beyond_those_shown(
    client: TestClient, desk: dict[str, str], db: Session
) -> None:
    for i in range(37):
        f.make_account(db, name=f"Kältetechnik Süd {i:02d}")
    db.commit()
    got = body(client, desk, "kaltetechnik", limit=10)
    assert (len(got["items"]), got["total"], got["more"], got["truncated"]) == (10, 37, True, False)
    got = body(client, desk, "kaltetechnik sud 3", limit=10)  # 03, 13, 23, 30-36
    assert (len(got["items"]), got["total"], got["more"]) == (10, 10, False)
