"""Caller search (phone in any format, names, e-mail, serial; best match first) and the 360° view."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from app.desk.customers import keys as customer_keys
from app.desk.customers import service as customers
from app.desk.customers.view360 import asset_entitlement, customer_360, local_today
from app.models import SlaEvent
from app.platform.db import utcnow
from tests import factories as f

API = "/api/v1/customers"


@pytest.fixture
def desk(login: Any) -> dict[str, str]:
    return login("agent")


def search(client: TestClient, headers: dict[str, str], q: str, **params: Any) -> list[dict[str, Any]]:
    r = client.get(API, params={"q": q, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


# --- search keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["+49 89 1234-5678", "089 12345678", "0049891234 5678", "(089) 1234 5678", "+49 (0)89 1234-5678"]
)
def test_phone_digits_are_the_national_number(typed: str) -> None:
    assert customer_keys.phone_digits(typed) == "8912345678"


def test_contact_keys_follow_every_orm_write(db: Session) -> None:
    acc = f.make_account(db, name="Brauerei  Löwenbräu AG")
    assert acc.name_search == "braurei lowenbrau ag"  # ue→u folds Brauerei too (both sides alike)
    contact = f.make_contact(db, acc, phone="089 1234567", email="  Anna.Huber@Example.COM ")
    assert (contact.phone_digits, contact.email) == ("891234567", "anna.huber@example.com")
    contact.mobile = "0171 2345678"
    acc.name = "Weißbräu KG"
    db.flush()
    assert contact.mobile_digits == "1712345678"
    assert acc.name_search == "weissbrau kg"


def test_phone_country_comes_from_the_account_region(
    db: Session, client: TestClient, desk: dict[str, str]
) -> None:
    milan = f.make_region(db, timezone="Europe/Rome")
    acc = f.make_account(db, region=milan)
    # Italian numbers keep their leading 0; read as a German number it would be dropped.
    contact = f.make_contact(db, acc, phone="02 1234 5678")
    db.commit()
    assert contact.phone_digits == "0212345678"
    assert customer_keys.phone_digits("02 1234 5678") == "212345678"
    assert search(client, desk, "+39 02 1234 5678")[0]["contact_id"] == contact.id
    assert customer_keys.country_of("Europe/Rome") == "IT"
    assert customer_keys.country_of(None) == "DE"


# --- search --------------------------------------------------------------------------------


@pytest.fixture
def people(db: Session) -> dict[str, Any]:
    region = f.make_region(db, code="MUC-N")
    huber = f.make_account(db, name="Huber Kältetechnik GmbH", region=region, tier="platinum")
    anna = f.make_contact(
        db,
        huber,
        name="Anna Huber",
        phone="+49 89 1234-5678",
        mobile="0171 9876543",
        email="Anna.Huber@huber-kaelte.example",
    )
    site = f.make_site(db, huber)
    asset = f.make_asset(db, site, serial="CH-4711-X")
    other = f.make_account(db, name="Bäckerei Sonnenschein")
    f.make_contact(db, other, name="Max Sonne", phone="089 99887766", email="max@sonne.example")
    db.commit()
    return {"huber": huber, "anna": anna, "asset": asset, "other": other, "site": site}


@pytest.mark.parametrize("typed", ["+49 89 1234-5678", "089 12345678", "0049891234 5678", "089/1234-5678"])
def test_search_by_phone_in_any_format(
    client: TestClient, desk: dict[str, str], people: dict[str, Any], typed: str
) -> None:
    hits = search(client, desk, typed)
    assert hits[0]["contact_id"] == people["anna"].id
    assert hits[0]["account_id"] == people["huber"].id
    assert (hits[0]["matched_field"], hits[0]["match"]) == ("phone", "exact")
    assert hits[0]["value"] == "+49 89 1234-5678"
    assert hits[0]["tier"] == "platinum" and hits[0]["region"] == "MUC-N"
    assert hits[0]["account_name"] == "Huber Kältetechnik GmbH"
    assert all(h["contact_id"] != people["other"].id for h in hits)


def test_search_by_mobile_and_phone_prefix(
    client: TestClient, desk: dict[str, str], people: dict[str, Any]
) -> None:
    hit = search(client, desk, "+49 171 9876543")[0]
    assert (hit["contact_id"], hit["matched_field"], hit["match"]) == (people["anna"].id, "mobile", "exact")
    hit = search(client, desk, "089 12345")[0]
    assert (hit["contact_id"], hit["matched_field"], hit["match"]) == (people["anna"].id, "phone", "prefix")


def test_search_by_name_prefix_and_substring_ignores_case(
    client: TestClient, desk: dict[str, str], people: dict[str, Any]
) -> None:
    hits = search(client, desk, "HUBER")
    # one customer, at its best hit; the contact that matched too is named on that row
    assert [(h["matched_field"], h["match"], h["contact_name"]) for h in hits] == [
        ("account_name", "prefix", "Anna Huber"),
    ]
    hits = search(client, desk, "kälte")
    assert [(h["account_id"], h["matched_field"], h["match"]) for h in hits] == [
        (people["huber"].id, "account_name", "substring")
    ]
    hits = search(client, desk, "max s")
    assert [(h["contact_name"], h["match"]) for h in hits] == [("Max Sonne", "prefix")]


def test_search_by_email_exact_and_prefix(
    client: TestClient, desk: dict[str, str], people: dict[str, Any]
) -> None:
    hit = search(client, desk, "anna.huber@HUBER-kaelte.example")[0]
    assert (hit["contact_id"], hit["matched_field"], hit["match"]) == (people["anna"].id, "email", "exact")
    assert hit["value"] == "anna.huber@huber-kaelte.example"
    hit = search(client, desk, "anna.hu")[0]
    assert (hit["contact_id"], hit["matched_field"], hit["match"]) == (people["anna"].id, "email", "prefix")


def test_search_by_serial_exact_and_prefix(
    client: TestClient, desk: dict[str, str], people: dict[str, Any], db: Session
) -> None:
    hit = search(client, desk, "ch-4711-x")[0]
    assert (hit["asset_id"], hit["matched_field"], hit["match"]) == (people["asset"].id, "serial", "exact")
    assert hit["account_id"] == people["huber"].id and hit["site_name"] == people["site"].name
    hit = search(client, desk, "CH-47")[0]
    assert (hit["asset_id"], hit["match"]) == (people["asset"].id, "prefix")
    # as read off a plate, with other separators or none: still the exact asset, once
    people["asset"].external_id = "CRM-AS300001"
    db.commit()
    for typed in ("CRM-AS300001", "crm-as300001"):  # the asset's CRM id, as printed or typed
        hit = search(client, desk, typed)[0]
        assert (hit["asset_id"], hit["matched_field"], hit["match"]) == (
            people["asset"].id,
            "external_id",
            "exact",
        ), typed
    for typed in ("CH4711X", "ch 4711 x", "CH/4711.X"):
        hits = search(client, desk, typed)
        assert [(h["asset_id"], h["match"]) for h in hits if h["asset_id"]] == [
            (people["asset"].id, "exact")
        ], typed


def test_exact_matches_come_first_then_prefixes_then_substrings_by_name(
    client: TestClient, desk: dict[str, str], db: Session
) -> None:
    t_rex = f.make_account(db, name="T-Rex Service")
    rex = f.make_account(db, name="Rex Pumpen GmbH")
    rexa = f.make_contact(db, f.make_account(db, name="Alpha AG"), name="Rexa Maier")
    aarex = f.make_account(db, name="Aarex Logistik")
    plate = f.make_asset(db, f.make_site(db, f.make_account(db, name="Zeta GmbH")), serial="REX")
    db.commit()
    hits = search(client, desk, "rex")
    got = [(h["match"], h["matched_field"], h["account_id"], h["contact_id"]) for h in hits]
    assert got == [
        ("exact", "serial", plate.account_id, None),
        ("prefix", "account_name", rex.id, None),  # "rex pumpen gmbh" < "rexa maier"
        ("prefix", "contact_name", rexa.account_id, rexa.id),
        ("substring", "account_name", aarex.id, None),  # "aarex …" < "t-rex …"
        ("substring", "account_name", t_rex.id, None),
    ]
    assert [h["match"] for h in search(client, desk, "rex", limit=2)] == ["exact", "prefix"]


def test_search_special_characters_are_literal(client: TestClient, desk: dict[str, str], db: Session) -> None:
    f.make_account(db, name="100% Service GmbH")
    f.make_account(db, name="1000 Services")
    db.commit()
    assert [h["account_name"] for h in search(client, desk, "100%")] == ["100% Service GmbH"]


@pytest.mark.parametrize("params", [{"q": ""}, {"q": "a"}, {"q": "   "}, {}])
def test_empty_or_short_query_is_422_with_field(
    client: TestClient, desk: dict[str, str], params: dict[str, str]
) -> None:
    r = client.get(API, params=params, headers=desk)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["q"]


def test_search_roles(client: TestClient, login: Any, people: dict[str, Any]) -> None:
    assert client.get(API, params={"q": "huber"}, headers=login("engineer")).status_code == 403
    assert client.get(API, params={"q": "huber"}).status_code == 401
    for role in ("dispatcher", "manager", "admin"):
        assert client.get(API, params={"q": "huber"}, headers=login(role)).status_code == 200


# --- 360 -----------------------------------------------------------------------------------


@pytest.fixture
def account_world(db: Session) -> dict[str, Any]:
    # the desk's day (the app's zone), as the 360 view judges warranty and contracts: between
    # 23:00 and 24:00 UTC the machine's date.today() is already yesterday in Munich
    today = local_today()
    region = f.make_region(db, code="MUC-S", name="München-Süd")
    acc = f.make_account(
        db,
        name="Klinikum Süd",
        region=region,
        tier="gold",
        segment="healthcare",
        external_id="CRM-A-77",
        arr=250000,
        renewal_date=today + timedelta(days=30),
    )
    cal = f.make_calendar(db, name="Extended hours", always_open=False)
    active = f.make_contract(
        db,
        acc,
        cal,
        number="C-ACTIVE",
        starts_on=today - timedelta(days=300),
        ends_on=today + timedelta(days=40),
    )
    expired = f.make_contract(
        db, acc, cal, number="C-OLD", starts_on=today - timedelta(days=800), ends_on=today - timedelta(days=1)
    )
    f.make_contract(
        db,
        acc,
        cal,
        number="C-NEXT",
        starts_on=today + timedelta(days=100),
        ends_on=today + timedelta(days=465),
    )
    site = f.make_site(db, acc, name="Haus A", access_notes="Gate code 4711")
    past = today - timedelta(days=10)
    assets = {
        "warranty": f.make_asset(db, site, contract=active, serial="W-1", warranty_end=today),
        "contract": f.make_asset(db, site, contract=active, serial="C-1", warranty_end=past),
        "lapsed": f.make_asset(db, site, contract=expired, serial="L-1", warranty_end=past),
        "bare": f.make_asset(db, site, serial="B-1", warranty_end=None),
    }
    contact = f.make_contact(db, acc, name="Dr. Eva Brandt", phone="089 5550100")
    p1 = f.open_ticket(db, acc, asset=assets["contract"], priority="P1", subject="OR cooling down")
    p3 = f.open_ticket(db, acc, asset=assets["bare"], priority="P3")
    closed = f.open_ticket(db, acc, priority="P2")
    closed.status = "closed"
    db.add(SlaEvent(ticket_id=p3.id, kind="breach", metric="first_response", at=utcnow() - timedelta(days=5)))
    db.add(SlaEvent(ticket_id=p3.id, kind="breach", metric="resolution", at=utcnow() - timedelta(days=120)))
    visit = f.make_work_order(db, p1)
    engineer = f.make_engineer(db, region, name="Jonas Keller")
    visit.engineer_id, visit.planned_start_at = engineer.id, utcnow() + timedelta(hours=3)
    other = f.make_account(db)
    f.open_ticket(db, other, priority="P1")  # someone else's: must not show up
    db.commit()
    return {
        "account": acc,
        "assets": assets,
        "contact": contact,
        "p1": p1,
        "p3": p3,
        "closed": closed,
        "visit": visit,
        "site": site,
    }


def test_360_has_everything_about_the_account(
    client: TestClient, desk: dict[str, str], account_world: dict[str, Any]
) -> None:
    w = account_world
    r = client.get(f"{API}/{w['account'].id}/360", headers=desk)
    assert r.status_code == 200, r.text
    body = r.json()
    acc = body["account"]
    assert (acc["name"], acc["tier"], acc["segment"], acc["region"], acc["external_id"]) == (
        "Klinikum Süd",
        "gold",
        "healthcare",
        "MUC-S",
        "CRM-A-77",
    )
    assert float(acc["arr"]) == 250000.0
    assert [c["name"] for c in body["contacts"]] == ["Dr. Eva Brandt"]
    assert body["sites"][0]["access_notes"] == "Gate code 4711"
    assert {c["number"]: c["status"] for c in body["contracts"]} == {
        "C-ACTIVE": "active",
        "C-OLD": "expired",
        "C-NEXT": "upcoming",
    }
    assert {c["calendar_name"] for c in body["contracts"]} == {"Extended hours"}
    entitlement = {a["serial"]: a["entitlement"] for a in body["assets"]}
    assert entitlement == {
        "W-1": "in_warranty",
        "C-1": "under_contract",
        "L-1": "billable",
        "B-1": "billable",
    }
    c1 = next(a for a in body["assets"] if a["serial"] == "C-1")
    assert (c1["contract_number"], c1["site_name"]) == ("C-ACTIVE", "Haus A")
    assert [t["id"] for t in body["open_tickets"]] == [w["p1"].id, w["p3"].id]  # P1 first
    assert {t["id"] for t in body["recent_tickets"]} == {w["p1"].id, w["p3"].id, w["closed"].id}
    [visit] = body["upcoming_visits"]
    assert (visit["id"], visit["engineer_name"]) == (w["visit"].id, "Jonas Keller")
    assert visit["planned_start_at"] is not None
    assert body["recent_visits"] == []
    assert body["satisfaction"] == []
    health = body["health"]
    assert (health["open_p1"], health["open_p2"], health["sla_breaches_90d"]) == (1, 0, 1)
    # surveys.health_score: an open P1 takes 15 points, an SLA breach in 90 days 4 (docs/kpis.md).
    assert [(r["code"], r["points"]) for r in health["reasons"]] == [("open_p1", -15), ("sla_breaches", -4)]
    assert (health["score"], health["band"], health["status"]) == (81, "healthy", "green")
    # C-ACTIVE ends in 40 days, but C-NEXT only starts after a gap: that is an expiry to chase.
    assert health["expiring_contracts"] == ["C-ACTIVE"]


def test_360_health_is_green_for_a_quiet_customer(
    client: TestClient, desk: dict[str, str], db: Session
) -> None:
    acc = f.make_account(db)
    db.commit()
    body = client.get(f"{API}/{acc.id}/360", headers=desk).json()
    assert body["health"] == {
        "status": "green",
        "score": 100,
        "band": "healthy",
        "open_p1": 0,
        "open_p2": 0,
        "sla_breaches_90d": 0,
        "expiring_contracts": [],
        "reasons": [],
        "notes": [],
    }
    assert body["assets"] == body["contacts"] == body["open_tickets"] == []


def test_360_query_count_does_not_grow_with_rows(
    db: Session, connection: Connection, account_world: dict[str, Any]
) -> None:
    """No per-row loads: ten more assets, contacts and tickets cost no extra queries."""
    w = account_world

    def count() -> int:
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(connection, "before_cursor_execute", listener)
        try:
            customer_360(db, account_id=w["account"].id)
        finally:
            event.remove(connection, "before_cursor_execute", listener)
        return len(seen)

    before = count()
    for _ in range(10):
        asset = f.make_asset(db, w["site"])
        f.make_contact(db, w["account"])
        f.make_work_order(db, f.open_ticket(db, w["account"], asset=asset))
    db.commit()
    assert count() == before <= 16  # 12 of the desk's, 4 of the survey signals (app.feedback.customer)


def test_warranty_wins_over_contract() -> None:
    from app.models import Asset, Contract

    today = date(2026, 6, 1)
    contract = Contract(starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31))
    assert asset_entitlement(Asset(warranty_end=today), contract, today) == "in_warranty"
    assert asset_entitlement(Asset(warranty_end=date(2026, 5, 31)), contract, today) == "under_contract"
    assert asset_entitlement(Asset(warranty_end=None), contract, date(2027, 1, 1)) == "billable"
    assert asset_entitlement(Asset(warranty_end=None), contract, date(2025, 12, 31)) == "billable"


def test_360_unknown_account_is_404_problem(client: TestClient, desk: dict[str, str]) -> None:
    r = client.get(f"{API}/999999/360", headers=desk)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "999999" in r.json()["detail"]


def test_360_is_for_desk_roles(client: TestClient, login: Any, db: Session) -> None:
    acc = f.make_account(db)
    db.commit()
    assert client.get(f"{API}/{acc.id}/360", headers=login("engineer")).status_code == 403


def test_too_many_candidates_are_flagged_truncated(
    client: TestClient, desk: dict[str, str], db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(3):
        f.make_account(db, name=f"Zander Technik {i}")
    db.commit()
    body = client.get(API, params={"q": "zan"}, headers=desk).json()
    assert (len(body["items"]), body["truncated"]) == (3, False)
    # two characters are enough for a name prefix
    assert [h["account_name"] for h in search(client, desk, "Za")] == [
        f"Zander Technik {i}" for i in range(3)
    ]
    monkeypatch.setattr(customers, "CANDIDATES", 2)
    body = client.get(API, params={"q": "zan"}, headers=desk).json()
    assert (len(body["items"]), body["truncated"]) == (2, True)
