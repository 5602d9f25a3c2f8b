"""The desk's "Unmatched mail" page (/desk/unmatched): held mail from unknown senders listed with
the suggested customer and counted in the menu; attach and discard through the page's forms, with
their hidden version; engineers are refused."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Contact, Ticket, UnmatchedEmail, User
from app.platform.config import get_settings
from tests import factories as f
from tests.integrations.inbound_email.test_inbound_email import mail
from tests.web.conftest import csrf_of

TOKEN = "relay-secret-page"
PAGE = "/desk/unmatched"


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "inbound_email_token", TOKEN)


@pytest.fixture
def held(client: TestClient, db: Session) -> dict[str, Any]:
    account = f.make_account(db, name="Kunde Heizung AG")
    f.make_contact(db, account, email="anna@kunde.example")
    db.commit()
    raw = mail(
        sender="Carola Weiss <carola@kunde.example>",
        subject="Boiler <b>noise</b>",
        message_id="<c1@kunde.example>",
    )
    r = client.post(
        "/api/v1/inbound/email",
        content=raw,
        headers={"Content-Type": "message/rfc822", "X-Relay-Token": TOKEN},
    )
    assert r.status_code == 202, r.text
    return {"account": account, "id": r.json()["unmatched_id"]}


def _form(html: str, action: str) -> dict[str, str]:
    form = html[html.index(f'action="{action}"') :]
    form = form[: form.index("</form>")]
    fields = {}
    for tag in re.findall(r"<input[^>]*>", form):
        name, value = re.search(r'name="(\w+)"', tag), re.search(r'value="([^"]*)"', tag)
        if name:
            fields[name[1]] = value[1] if value else ""
    return fields


def test_the_page_lists_held_mail_and_the_menu_counts_it(
    client: TestClient, sign_in: Callable[..., User], held: dict[str, Any]
) -> None:
    sign_in("agent")
    page = client.get(PAGE)
    assert page.status_code == 200, page.text
    assert "Boiler &lt;b&gt;noise&lt;/b&gt;" in page.text  # the subject is escaped
    assert "carola@kunde.example" in page.text and "Kunde Heizung AG" in page.text
    assert _form(page.text, f"{PAGE}/{held['id']}/attach")["account"] == str(held["account"].id)
    assert re.search(r'href="/desk/unmatched"[^>]*>Unmatched mail \(1\)</a>', page.text)
    # every desk page's menu shows the count
    assert "Unmatched mail (1)" in client.get("/desk/queue").text


def test_attach_from_the_page_opens_the_ticket(
    client: TestClient, db: Session, sign_in: Callable[..., User], held: dict[str, Any]
) -> None:
    sign_in("agent")
    page = client.get(PAGE).text
    form = _form(page, f"{PAGE}/{held['id']}/attach")
    form["name"] = "Carola Weiss"
    r = client.post(f"{PAGE}/{held['id']}/attach", data=form, follow_redirects=False)
    assert r.status_code == 303, r.text
    ticket = db.scalar(select(Ticket).where(Ticket.email_thread_id == "<c1@kunde.example>"))
    assert ticket is not None and r.headers["location"] == f"/desk/tickets/{ticket.id}"
    contact = db.get(Contact, ticket.contact_id)
    assert contact is not None and (contact.email, contact.account_id) == (
        "carola@kunde.example",
        held["account"].id,
    )
    after = client.get(PAGE).text
    assert "No unmatched mail." in after and "Unmatched mail (1)" not in after
    # the other agent's form, loaded before: told, and no second ticket
    again = client.post(f"{PAGE}/{held['id']}/attach", data=form)
    assert again.status_code == 409 and "already attached" in again.text
    assert db.scalar(select(func.count()).select_from(Ticket)) == 1


def test_bad_input_and_a_stale_form_get_readable_pages(
    client: TestClient, db: Session, sign_in: Callable[..., User], held: dict[str, Any]
) -> None:
    sign_in("dispatcher")
    form = _form(client.get(PAGE).text, f"{PAGE}/{held['id']}/attach")
    bad = client.post(f"{PAGE}/{held['id']}/attach", data={**form, "account": "abc"})
    assert bad.status_code == 422 and "Customer: a customer number" in bad.text
    assert 'value="abc"' in bad.text  # what was typed stays
    gone = client.post(f"{PAGE}/{held['id']}/attach", data={**form, "account": "999999"})
    assert gone.status_code == 422 and "does not exist" in gone.text
    stale = client.post(
        f"{PAGE}/{held['id']}/discard",
        data={**_form(client.get(PAGE).text, f"{PAGE}/{held['id']}/discard"), "version": "7"},
    )
    assert stale.status_code == 409 and "reload" in stale.text
    assert db.get(UnmatchedEmail, held["id"]).status == "held"  # type: ignore[union-attr]


def test_discard_from_the_page(
    client: TestClient, db: Session, sign_in: Callable[..., User], held: dict[str, Any]
) -> None:
    sign_in("manager")
    form = _form(client.get(PAGE).text, f"{PAGE}/{held['id']}/discard")
    r = client.post(f"{PAGE}/{held['id']}/discard", data=form, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, f"{PAGE}?done=discarded")
    db.expire_all()
    assert db.get(UnmatchedEmail, held["id"]).status == "discarded"  # type: ignore[union-attr]
    assert "The mail is discarded" in client.get(r.headers["location"]).text
    no_csrf = client.post(f"{PAGE}/{held['id']}/discard", data={**form, "csrf": "x"})
    assert no_csrf.status_code == 403


def test_engineers_are_refused_and_see_no_menu_item(
    client: TestClient, sign_in: Callable[..., User], held: dict[str, Any]
) -> None:
    sign_in("engineer")
    r = client.get(PAGE)
    assert r.status_code == 403 and "Unmatched mail" not in r.text
    assert "Unmatched mail" not in client.get("/field").text
    assert csrf_of(client.get("/field").text)
