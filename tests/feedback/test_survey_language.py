"""Survey mails and pages in the account's language: a German account gets a German invitation,
reminder, form (questions, scale labels, buttons, errors) and thank-you and expired pages; an
English account's stay word for word what they were."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy.orm import Session

from app.feedback import sending, tokens
from app.platform.db import utcnow
from tests.feedback.world import Case, Outbox, customer, later, survey_of, visit

LINK = re.compile(r"http://[^\s]+(/survey/[^\s?/]+)\?csat=(\d)")


def _mailed(db: Session, outbox: Outbox, language: str) -> tuple[Case, EmailMessage, str]:
    case = customer(db, tier="standard", language=language)
    visit(db, case)
    db.commit()
    assert sending.send_due(now=later(hours=3)) == {"send": 1}
    (msg,) = outbox.sent
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    match = LINK.search(text)
    assert match is not None
    return case, msg, match.group(1)


def _plain(msg: EmailMessage) -> str:
    return msg.get_body(("plain",)).get_content()  # type: ignore[union-attr,no-any-return]


def test_a_german_account_gets_a_german_invitation_and_reminder(db: Session, outbox: Outbox) -> None:
    case, msg, _ = _mailed(db, outbox, "de")
    number = case.work_order.number  # type: ignore[union-attr]
    assert msg["Subject"] == f"Wie war unser Besuch? ({number})"
    text = _plain(msg)
    assert text.startswith("Guten Tag Pat Customer,\n")
    assert (
        "Wie zufrieden sind Sie mit unserem Service? Klicken Sie auf eine Bewertung "
        "(1 = Sehr unzufrieden, 5 = Sehr zufrieden):"
    ) in text
    assert "Der Link öffnet ein kurzes Formular; Ihre Antwort zählt, sobald Sie es absenden." in text
    assert "Keine weiteren Umfragen: http" in text and "Hello" not in text and "Click" not in text
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert ">Keine weiteren Umfragen</a>" in html and "Sehr unzufrieden" in html

    # the reminder, a few days on, in German as well
    assert sending.send_due(now=later(days=4)) == {"remind": 1}
    assert outbox.sent[-1]["Subject"] == f"Erinnerung: Wie war unser Besuch? ({number})"


def test_an_english_account_gets_the_english_mail_unchanged(db: Session, outbox: Outbox) -> None:
    case, msg, _ = _mailed(db, outbox, "en")
    assert msg["Subject"] == f"How was our visit? ({case.work_order.number})"  # type: ignore[union-attr]
    text = _plain(msg)
    assert text.startswith("Hello Pat Customer,\n\nHow satisfied are you with the service? Click a rating ")
    assert "(1 = Very dissatisfied, 5 = Very satisfied):" in text
    assert "The link opens a short form; your answer counts once you send it." in text


def test_the_survey_page_speaks_german_for_a_german_account(
    client: TestClient, db: Session, outbox: Outbox
) -> None:
    case, _, path = _mailed(db, outbox, "de")
    r = client.get(path, params={"csat": "4"})
    assert r.status_code == 200
    page = r.text
    assert '<html lang="de">' in page and "Zum Inhalt springen" in page
    assert "<title>Wie war unser Besuch? · Fieldline</title>" in page
    assert "Zu unserem Besuch am " in page  # the visit's day, "Dienstag, 8. Dezember 2026"
    assert re.search(
        r"am (Montag|Dienstag|Mittwoch|Donnerstag|Freitag|Samstag|Sonntag), \d{1,2}\. \w+ \d{4}", page
    )
    for words in (
        "Wie zufrieden sind Sie mit unserem Service?",
        "(Pflichtangabe)",
        "Sehr unzufrieden",
        "Sehr zufrieden",
        "Wurde Ihr Problem gelöst?",
        ">Ja</label>",
        ">Nein</label>",
        "Was ist schiefgelaufen?",
        "Der Techniker kam zu spät",
        "(optional, Mehrfachauswahl möglich)",
        "Möchten Sie uns noch etwas mitteilen?",
        "Antwort senden",
        f"Service für {case.account.name}",
    ):
        assert words in page, words
    for english in ("How satisfied", "Send answer", "Very satisfied", "(required)", "Skip to content"):
        assert english not in page, english

    # the errors in German, naming the question by its German name
    refused = client.post(path, data={"solved": "vielleicht", "reasons": "weather"})
    assert refused.status_code == 422
    assert "Bitte prüfen Sie Ihre Angaben:" in refused.text
    assert "Bewertung: Bitte wählen Sie eine Antwort aus." in refused.text
    assert "Gelöst: Bitte antworten Sie mit Ja oder Nein." in refused.text
    assert "Gründe: „weather“ ist keine der angebotenen Möglichkeiten." in refused.text
    twice = client.post(
        path, content="csat=3&csat=5", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert "Bewertung wurde 2-mal gesendet: Bitte wählen Sie eine Antwort aus." in twice.text

    # answered: the thank-you page, then "already answered", both German
    done = client.post(path, data={"csat": "5"})
    assert done.status_code == 200 and "Vielen Dank!" in done.text
    assert "Ihre Antwort wurde gespeichert. Wir lesen jede einzelne." in done.text
    again = client.get(path)
    assert "Bereits beantwortet" in again.text


def test_an_expired_link_of_a_german_account_says_so_in_german(
    client: TestClient, db: Session, outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    case, _, _ = _mailed(db, outbox, "de")
    survey = survey_of(db, ticket_id=case.ticket.id)
    fifteen_days_ago = int((utcnow() - timedelta(days=15)).timestamp())
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: fifteen_days_ago)
    old = tokens.make(survey.id, "answer")
    monkeypatch.undo()
    r = client.get(f"/survey/{old}")
    assert r.status_code == 410 and "Diese Umfrage ist beendet" in r.text and '<html lang="de">' in r.text
    # a tampered link names no account: the browser's language, else English
    broken = old[:-3] + ("AAA" if not old.endswith("AAA") else "BBB")
    assert (
        "Dieser Link funktioniert nicht"
        in client.get(f"/survey/{broken}", headers={"Accept-Language": "de-AT,de;q=0.9"}).text
    )
    assert "This link does not work" in client.get(f"/survey/{broken}").text


def test_the_english_page_is_unchanged(client: TestClient, db: Session, outbox: Outbox) -> None:
    case, _, path = _mailed(db, outbox, "en")
    page = client.get(path).text
    assert '<html lang="en">' in page and "Skip to content" in page
    assert "How satisfied are you with the service?" in page and "Send answer" in page
    assert f"Service for {case.account.name}" in page
    assert re.search(r"About the visit on \w{3} \d{2} \w{3} \d{4} \(WO-", page)
    refused = client.post(path, data={"solved": "maybe"})
    assert "Rating is required: please choose one" in refused.text
    assert "Solved: please answer yes or no" in refused.text
