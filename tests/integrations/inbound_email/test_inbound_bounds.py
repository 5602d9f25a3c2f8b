"""Bounded work on hostile inbound mail (QA: a References header of 200 000 ids took 99 s and three
of them made the API answer 503). Each test counts the work done — ids looked up, header text
parsed, MIME parts built — never the wall time."""

from __future__ import annotations

from collections.abc import Iterator
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from app.integrations.inbound_email.mime import (
    MAX_HEADER_CHARS,
    MAX_HEADER_CHARS_READ,
    MAX_MIME_PARTS,
    MAX_REFERENCES,
    parse,
)
from app.models import Ticket
from app.platform import db as app_db
from tests.integrations.inbound_email.test_inbound_email import mail, post

ANNA = b"From: Anna Berg <anna.berg@kunde.example>\r\n"


@pytest.fixture
def parsed_headers(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """(name, length) of every header value the e-mail package parses."""
    seen: list[tuple[str, int]] = []
    original = HeaderRegistry.__call__

    def spy(self: HeaderRegistry, name: str, value: str) -> Any:
        seen.append((name.lower(), len(value)))
        return original(self, name, value)

    monkeypatch.setattr(HeaderRegistry, "__call__", spy)
    return seen


@pytest.fixture
def sql_parameters() -> Iterator[list[int]]:
    """The number of bound parameters of every SQL statement run."""
    counts: list[int] = []

    def count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        counts.append(len(parameters) if isinstance(parameters, tuple | dict | list) and not many else 0)

    engine = app_db.get_engine()
    event.listen(engine, "before_cursor_execute", count)
    yield counts
    event.remove(engine, "before_cursor_execute", count)


def _many_references(n: int) -> bytes:
    refs = " ".join(f"<ref{i}@x.example>" for i in range(n))
    return (
        ANNA
        + b"Subject: Re: Heating down\r\nMessage-ID: <many@kunde.example>\r\n"
        + f"References: {refs}\r\n\r\nStill cold.\r\n".encode()
    )


def test_thousands_of_references_look_up_only_the_newest_and_thread_by_the_newest(
    client: TestClient,
    db: Session,
    people: dict[str, Any],
    parsed_headers: list[tuple[str, int]],
    sql_parameters: list[int],
) -> None:
    # The thread the mail answers (its newest reference) and, opened later, a ticket whose first
    # message is the oldest reference: the newest reference decides, not the highest ticket id.
    newest = post(client, mail(message_id="<ref4999@x.example>")).json()["ticket_id"]
    oldest = post(client, mail(message_id="<ref0@x.example>", subject="Other")).json()["ticket_id"]
    assert oldest > newest
    raw = _many_references(5000)
    parsed_headers.clear()
    sql_parameters.clear()

    r = post(client, raw)

    assert r.status_code == 201, r.text[:300]
    assert r.json()["action"] == "threaded" and r.json()["ticket_id"] == newest
    assert MAX_REFERENCES <= max(sql_parameters) <= MAX_REFERENCES + 5  # the IN lookups: 50 ids, not 5 000
    assert "references" not in {name for name, _ in parsed_headers}  # read raw, from its end
    refs = parse(raw).references
    assert len(refs) == MAX_REFERENCES
    assert refs[0] == "<ref4999@x.example>" and refs[-1] == f"<ref{5000 - MAX_REFERENCES}@x.example>"


def test_in_reply_to_is_the_newest_reference(client: TestClient, db: Session, people: dict[str, Any]) -> None:
    raw = ANNA + b"In-Reply-To: <parent@x>\r\nReferences: <a@x> <b@x> <parent@x>\r\n\r\nhi\r\n"
    assert parse(raw).references == ("<parent@x>", "<b@x>", "<a@x>")


def test_long_subject_and_sender_lists_are_read_cut_short(
    client: TestClient, db: Session, people: dict[str, Any], parsed_headers: list[tuple[str, int]]
) -> None:
    subject = "Heating down " + "and still cold " * 8000  # 120 KB
    senders = ", ".join(["anna.berg@kunde.example", *(f"u{i}@spam.example" for i in range(5000))])
    raw = (
        f"From: {senders}\r\nTo: {senders}\r\nCc: {senders}\r\nSubject: {subject}\r\n"
        "Message-ID: <long@kunde.example>\r\n\r\nhello\r\n"
    ).encode()

    r = post(client, raw)

    assert r.status_code == 201, r.text[:300]
    ticket = db.get(Ticket, r.json()["ticket_id"])
    assert ticket is not None and ticket.contact_id == people["anna"].id
    assert ticket.subject.startswith("Heating down and still cold") and len(ticket.subject) <= 300
    assert max(length for _, length in parsed_headers) <= MAX_HEADER_CHARS
    assert sum(length for _, length in parsed_headers) <= MAX_HEADER_CHARS_READ
    assert not {"to", "cc"} & {name for name, _ in parsed_headers}  # recipients are never read


def test_thousands_of_mime_parts_are_refused_after_building_at_most_the_cap(
    client: TestClient, db: Session, people: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[int] = []
    original = EmailMessage.__init__

    def counting(self: EmailMessage, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(EmailMessage, "__init__", counting)
    raw = (
        ANNA
        + b"Message-ID: <parts@kunde.example>\r\nMIME-Version: 1.0\r\n"
        + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        + b"--b\r\n\r\nx\r\n" * 5000
        + b"--b--\r\n"
    )

    r = post(client, raw)

    assert r.status_code == 422, r.text[:300]
    assert r.json()["errors"][0]["field"] == "message"
    assert len(built) <= MAX_MIME_PARTS + 2
    assert db.scalar(select(func.count()).select_from(Ticket)) == 0


def test_thousands_of_header_fields_are_refused(
    client: TestClient, db: Session, people: dict[str, Any]
) -> None:
    raw = ANNA + b"Message-ID: <fields@kunde.example>\r\n" + b"X-Filler: x\r\n" * 10_000 + b"\r\nhello\r\n"
    r = post(client, raw)
    assert r.status_code == 422, r.text[:300]
    assert r.json()["errors"][0] == {"field": "message", "message": "has more than 5000 header fields"}


def test_a_long_content_type_is_parsed_cut_short(
    client: TestClient, db: Session, people: dict[str, Any], parsed_headers: list[tuple[str, int]]
) -> None:
    params = "; ".join(f"p{i}=v" for i in range(3000))  # 20 KB of parameters: seconds to parse
    raw = (
        ANNA + f"Message-ID: <ct@kunde.example>\r\nContent-Type: text/plain; {params}\r\n\r\nhi\r\n".encode()
    )
    r = post(client, raw)
    assert r.status_code == 201, r.text[:300]
    assert max(length for _, length in parsed_headers) <= MAX_HEADER_CHARS
