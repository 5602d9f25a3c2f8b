"""The hotline types a company word and a person together ("Müller GmbH": GmbH in the account's name,
Müller its contact's; "Ziegler Müller"), or a company's mail domain ("ziegler-maschinenbau.de"):
both found nothing. Now the account is found with that contact, ranked below whole-name matches,
and a domain finds the accounts whose contacts have addresses at exactly that domain."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.desk.customers import service as customers
from app.models import Contact
from app.platform.auth import issue_token
from app.platform.deps import SESSION_COOKIE
from tests import factories as f

API = "/api/v1/customers"
MIGRATIONS = Path(__file__).parents[3] / "alembic" / "versions"


@pytest.fixture
def desk(login: Any) -> dict[str, str]:
    headers: dict[str, str] = login("agent")
    return headers


def found(client: TestClient, headers: dict[str, str], q: str) -> list[tuple[int, int | None, str, str]]:
    r = client.get(API, params={"q": q}, headers=headers)
    assert r.status_code == 200, r.text
    return [(h["account_id"], h["contact_id"], h["matched_field"], h["match"]) for h in r.json()["items"]]


@pytest.fixture
def world(db: Session) -> dict[str, Any]:
    ziegler = f.make_account(db, name="Ziegler Maschinenbau GmbH")
    hans = f.make_contact(db, ziegler, name="Hans Müller", email="h.mueller@ziegler-maschinenbau.de")
    eva = f.make_contact(db, ziegler, name="Eva Brandt", email="e.brandt@ziegler-maschinenbau.de")
    mueller = f.make_account(db, name="Müller GmbH")  # the whole name: ranked first
    f.make_contact(db, mueller, name="Karl Wendt", email="k.wendt@mueller-gmbh.de")
    # "Müller" and "Hans" in two different contacts of one account: no contact is both
    weber = f.make_account(db, name="Weber Ziegler AG")
    f.make_contact(db, weber, name="Hans Weber", email="hans@sub.ziegler-maschinenbau.de")
    weber_eva = f.make_contact(db, weber, name="Eva Müller", email="eva@bau.de")
    db.commit()
    return {
        "ziegler": ziegler,
        "hans": hans,
        "eva": eva,
        "mueller": mueller,
        "weber": weber,
        "weber_eva": weber_eva,
    }


def test_company_word_and_contact_name_find_the_account_with_that_contact(
    client: TestClient, desk: dict[str, str], world: dict[str, Any]
) -> None:
    ziegler, hans, mueller, weber = (world[k] for k in ("ziegler", "hans", "mueller", "weber"))
    # "GmbH" only in Ziegler's name, "Müller" only in its contact's; Müller GmbH is the whole name
    assert found(client, desk, "Müller GmbH") == [
        (mueller.id, None, "account_name", "prefix"),
        (ziegler.id, hans.id, "contact_name", "substring"),
    ]
    assert (ziegler.id, hans.id, "contact_name", "substring") in found(client, desk, "Ziegler Müller")
    # typed any way round, with a comma, folded (Mueller = Müller)
    for q in ("Hans Müller Ziegler", "ziegler, hans mueller", "Maschinenbau Hans Müller"):
        assert found(client, desk, q) == [(ziegler.id, hans.id, "contact_name", "substring")], q
    # two contacts of Weber Ziegler AG hold "Hans" and "Müller": not one person, not found
    assert all(account != weber.id for account, *_ in found(client, desk, "Hans Müller Weber"))
    # a word in neither name
    assert found(client, desk, "Ziegler Schmidt") == []


def test_ranked_below_whole_name_matches_and_counted(
    client: TestClient, db: Session, desk: dict[str, str], world: Any
) -> None:
    ziegler, hans, weber = world["ziegler"], world["hans"], world["weber"]
    r = client.get(API, params={"q": "Ziegler Müller"}, headers=desk).json()
    # Weber Ziegler AG's contact Eva Müller is a split match too; both accounts, each with its contact
    assert [(h["account_id"], h["contact_name"]) for h in r["items"]] == [
        (weber.id, "Eva Müller"),
        (ziegler.id, "Hans Müller"),
    ]
    assert r["total"] == 2 and not r["truncated"]
    client.cookies.set(SESSION_COOKIE, issue_token(f.make_user(db, role="agent")))
    html = client.get("/desk/search", params={"q": "Müller GmbH"}).text
    assert f'href="/desk/customers/{ziegler.id}?contact={hans.id}"' in html


def test_keys_follow_renames_and_moves(
    client: TestClient, db: Session, desk: dict[str, str], world: Any
) -> None:
    ziegler, hans, mueller = world["ziegler"], world["hans"], world["mueller"]
    ziegler.name = "Zeller Maschinenbau GmbH"
    db.commit()
    assert found(client, desk, "Ziegler Hans Müller") == []
    assert found(client, desk, "Zeller Hans Müller") == [(ziegler.id, hans.id, "contact_name", "substring")]
    hans.name = "Hans Schuster"
    db.commit()
    assert found(client, desk, "Zeller Schuster") == [(ziegler.id, hans.id, "contact_name", "substring")]
    hans.account_id = mueller.id  # moved to another account
    db.commit()
    assert found(client, desk, "Zeller Schuster") == []
    assert found(client, desk, "Müller Schuster") == [(mueller.id, hans.id, "contact_name", "substring")]


def test_a_mail_domain_finds_the_accounts_of_its_contacts(
    client: TestClient, desk: dict[str, str], world: dict[str, Any]
) -> None:
    ziegler, weber = world["ziegler"], world["weber"]
    # two contacts at the domain: one customer, no contact guessed
    for q in ("ziegler-maschinenbau.de", "@Ziegler-Maschinenbau.de", " @ziegler-maschinenbau.de "):
        assert found(client, desk, q) == [(ziegler.id, None, "email", "exact")], q
    [hit] = client.get(API, params={"q": "ziegler-maschinenbau.de"}, headers=desk).json()["items"]
    assert hit["value"] == "@ziegler-maschinenbau.de" and hit["contact_name"] is None
    # exactly the domain: not a substring ("bau.de") nor a subdomain's address
    # one contact at the domain: that contact is the caller
    assert found(client, desk, "bau.de") == [(weber.id, world["weber_eva"].id, "email", "exact")]
    assert [a for a, *_ in found(client, desk, "sub.ziegler-maschinenbau.de")] == [weber.id]
    assert found(client, desk, "maschinenbau.de") == []
    # a whole address still finds its contact only
    assert found(client, desk, "h.mueller@ziegler-maschinenbau.de") == [
        (ziegler.id, world["hans"].id, "email", "exact")
    ]


def test_only_queries_that_can_be_such_a_case_run_the_new_lookups() -> None:
    def fields(q: str) -> set[tuple[str, int]]:
        probes = customers._probes(customers.validate_query(q), "DE")
        return {(str(p.selected_columns[0].element.value), r) for r, ps in probes.items() for p in ps}

    assert ("contact_name", customers.SPLIT) in fields("Müller GmbH")
    assert ("contact_name", customers.SPLIT) not in fields("Müller")  # one word: one name or none
    assert ("contact_name", customers.SPLIT) not in fields("089 1234567")
    domain = customers._DOMAIN
    assert domain.fullmatch("ziegler-maschinenbau.de") and domain.fullmatch("@bau.de")
    for not_a_domain in ("E.04", "2.5", "Dr. Müller", "DK-2158.0001", "müller"):
        assert not domain.fullmatch(not_a_domain.lower()), not_a_domain


def test_the_migration_fills_the_key_of_rows_written_without_the_orm(
    db: Session, world: dict[str, Any]
) -> None:
    """Rows from before 0025 (or from any bulk writer) get the key from the stored name keys."""
    ziegler = world["ziegler"]
    conn = db.connection()
    conn.execute(sa.update(Contact.__table__).values(account_and_name_search=None))
    [path] = MIGRATIONS.glob("*_customer_search_split_names_and_domain.py")
    spec = importlib.util.spec_from_file_location("migration_0025", path)
    assert spec and spec.loader
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with Operations.context(MigrationContext.configure(conn)):
        migration._backfill()
    keys = dict(
        conn.execute(
            sa.select(Contact.id, Contact.account_and_name_search).where(Contact.account_id == ziegler.id)
        )
        .tuples()
        .all()
    )
    assert keys == {
        world["hans"].id: "ziegler maschinenbau gmbh\thans muller",
        world["eva"].id: "ziegler maschinenbau gmbh\teva brandt",
    }
    assert [h.contact_id for h in customers.search(db, q="Ziegler Hans Müller").items] == [world["hans"].id]
