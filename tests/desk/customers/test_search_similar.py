"""A name typed with a slip still finds the caller: when the exact search finds little, near spellings
(a few edits per word, by word length) are listed after the exact hits as `match: "similar"`, closest
first; a phone number with a doubled "+" or junk separators is read as the number."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import User
from app.platform.auth import issue_token
from app.platform.deps import SESSION_COOKIE
from tests import factories as f

API = "/api/v1/customers"


@pytest.fixture
def callers(client: TestClient, db: Session) -> dict[str, Any]:
    weber = f.make_account(db, name="Autohaus Weber GmbH")
    haas = f.make_contact(db, weber, name="Johannes Haas", phone="089/88477-0")
    webel = f.make_account(db, name="Autohaus Webel KG")  # two edits from "Webr": not near enough
    wever = f.make_account(db, name="Wever Druck")  # "Weber" with one letter changed
    f.make_account(db, name="Bakery Smith")
    user: User = f.make_user(db, role="agent")
    db.commit()
    client.cookies.set(SESSION_COOKIE, issue_token(user))
    return {"weber": weber, "haas": haas, "webel": webel, "wever": wever}


def _body(client: TestClient, q: str) -> dict[str, Any]:
    r = client.get(API, params={"q": q})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_misspelt_contact_name_finds_the_caller_as_similar(
    client: TestClient, callers: dict[str, Any]
) -> None:
    body = _body(client, "Johanes Haas")
    keys = ("account_id", "contact_id", "matched_field", "match", "value")
    found = [tuple(h[k] for k in keys) for h in body["items"]]
    assert found == [(callers["weber"].id, callers["haas"].id, "contact_name", "similar", "Johannes Haas")]
    assert body["total"] == 1


def test_a_misspelt_account_name_finds_the_customer(client: TestClient, callers: dict[str, Any]) -> None:
    items = _body(client, "Autohaus Webr")["items"]
    assert [(h["account_id"], h["match"]) for h in items] == [(callers["weber"].id, "similar")]


def test_exact_hits_always_rank_first(client: TestClient, callers: dict[str, Any]) -> None:
    # "Wever Druck" starts with the typed word; "Weber" is one letter off, so it follows as similar.
    # "Webel" is two letters off "Wever": too far for a five-letter word.
    items = _body(client, "Wever")["items"]
    assert [(h["account_id"], h["match"]) for h in items] == [
        (callers["wever"].id, "prefix"),
        (callers["weber"].id, "similar"),
    ]


def test_similar_hits_rank_by_edits(client: TestClient, db: Session, callers: dict[str, Any]) -> None:
    # An eight-letter word may be two edits off; a five-letter one only one ("Meyer" is not "Maier").
    two = f.make_account(db, name="Bäckerei Schneiders")  # "schneidr" + "e" + "s"
    one = f.make_account(db, name="Schneider Kältetechnik")  # "schneidr" + "e"
    f.make_account(db, name="Maier Elektro")
    db.commit()
    assert _body(client, "Meyer")["items"] == []
    items = _body(client, "Schneidr")["items"]
    assert [(h["account_id"], h["match"]) for h in items] == [(one.id, "similar"), (two.id, "similar")]


@pytest.mark.parametrize("typed", ["Jx Haas", "Autohaus Wbl", "Zzzzzz Haas", "Bakery Smoth Webr"])
def test_nothing_far_away_is_offered(client: TestClient, callers: dict[str, Any], typed: str) -> None:
    # Short words match only exactly; a word like no stored word, or one word too far, finds nothing.
    assert _body(client, typed)["items"] == []


@pytest.mark.parametrize("typed", ["++49 89 884770", "+49_89_884770", "089;88477;0", "+ + 49 89 88477-0"])
def test_a_phone_number_with_junk_separators_is_read_as_the_number(
    client: TestClient, callers: dict[str, Any], typed: str
) -> None:
    items = _body(client, typed)["items"]
    assert [(h["contact_id"], h["matched_field"], h["match"]) for h in items] == [
        (callers["haas"].id, "phone", "exact")
    ]


def test_a_name_written_in_this_process_is_near_at_once(
    client: TestClient, db: Session, callers: dict[str, Any]
) -> None:
    assert _body(client, "Autohaus Webr")["items"]  # the vocabulary is loaded now
    renamed = f.make_account(db, name="Pflegedienst Sonnenschein")
    db.commit()
    items = _body(client, "Pflegedienst Sonenschein")["items"]
    assert [(h["account_id"], h["match"]) for h in items] == [(renamed.id, "similar")]


def test_the_page_says_no_exact_match(client: TestClient, callers: dict[str, Any]) -> None:
    html = client.get("/desk/search", params={"q": "Johanes Haas"}).text
    assert "No exact match; similar names:" in html
    assert f'href="/desk/customers/{callers["weber"].id}?contact={callers["haas"].id}"' in html
    mixed = client.get("/desk/search", params={"q": "Wever"}).text
    assert "No exact match" not in mixed
    assert mixed.index("Wever Druck") < mixed.index("Similar names:") < mixed.index("Autohaus Weber GmbH")


def test_the_vocabulary_is_reloaded_from_the_database(db: Session, callers: dict[str, Any]) -> None:
    from app.desk.customers import fuzzy  # here: the other tests run (and fail) on the code before it

    fuzzy.forget()
    assert fuzzy.spellings(db, ["johanes", "haas"]) == [fuzzy.Spelling(("johannes", "haas"), 1)]


def test_an_old_vocabulary_is_reloaded_in_the_background(
    db: Session, callers: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from app.desk.customers import fuzzy

    fuzzy.forget()
    old = fuzzy._vocabulary(db)  # the first fuzzy search loads it in the request
    scanning, done = threading.Event(), threading.Event()

    def slow_load(session: Session) -> Any:
        scanning.set()
        assert done.wait(10)
        fresh = fuzzy._Vocabulary(loaded_at=1e12)  # never stale again in this test
        fresh.add(["elsewhere"])  # a name another process wrote
        return fresh

    monkeypatch.setattr(fuzzy, "_load", slow_load)
    monkeypatch.setattr(fuzzy, "RELOAD_AFTER", 0.0)
    try:
        assert fuzzy._vocabulary(db) is old  # the search does not wait for the reload
        assert scanning.wait(10)
        fuzzy.learn("sonnenschein pflege")  # written here while the scan ran: kept
        reload = next(t for t in threading.enumerate() if t.name == "customer-vocabulary")  # blocked
        done.set()
        reload.join(10)
        fresh = fuzzy._vocabulary(db)
        assert fresh is not old
        assert {"elsewhere", "sonnenschein", "pflege"} <= fresh.known
    finally:
        done.set()
        fuzzy.forget()
