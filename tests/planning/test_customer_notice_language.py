"""Visit notices in the account's language: a German account's ETA mail is German (subject, body,
"Dienstag, 8. Dezember 2026, 14:30 Uhr"); an English account's is what it always was."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from sqlalchemy.orm import Session

from app.models import CustomerNotification
from app.planning import notify
from app.platform.mail import set_mailer
from tests.planning import world as pw

# Tuesday 8 December 2026, 14:30 in Munich (CET, UTC+1)
ETA = datetime(2026, 12, 8, 13, 30, tzinfo=UTC)
BEFORE = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)


class Box:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []

    def send(self, message: EmailMessage) -> None:
        self.sent.append(message)


def _mail(db: Session, language: str, kind: str) -> EmailMessage:
    w = pw.build(db, jobs=1)
    wo = w.work_orders[0]
    assert w.contact is not None and w.contact.email
    assert w.account is not None
    w.account.language = language
    n = CustomerNotification(
        work_order_id=wo.id,
        plan_run_id=None,
        kind=kind,
        eta_at=None if kind in ("unplanned", "cancelled") else ETA,
        previous_eta_at=BEFORE if kind != "planned" else None,
        recipient=w.contact.email,
    )
    db.add(n)
    db.commit()
    notice = notify.claim(db, n.id, now=n.created_at + notify.HOLD * 2)
    assert notice is not None
    box = Box()
    set_mailer(box)
    try:
        notify.MailSender().send(notice)
    finally:
        set_mailer(None)
    (msg,) = box.sent
    return msg


def test_a_german_account_gets_a_german_eta_notice(db: Session) -> None:
    msg = _mail(db, "de", "planned")
    number = msg["Subject"].split(":")[0].removeprefix("Ihr Servicetermin ")
    assert msg["Subject"] == (
        f"Ihr Servicetermin {number}: Unser Techniker kommt am Dienstag, 8. Dezember 2026, 14:30 Uhr"
    )
    body = msg.get_content()
    assert body.startswith("Guten Tag ")
    assert "unser Techniker kommt voraussichtlich am Dienstag, 8. Dezember 2026, 14:30 Uhr zu Ihnen (" in body
    assert "Europe/Berlin" not in body and "engineer" not in body


@pytest.mark.parametrize(
    ("kind", "subject", "words"),
    [
        (
            "eta_changed",
            "Neue Ankunftszeit für Ihren Servicetermin",
            "bisher angekündigt war Dienstag, 8. Dezember 2026, 09:00 Uhr.",
        ),
        (
            "unplanned",
            "muss neu geplant werden",
            "am Dienstag, 8. Dezember 2026, 09:00 Uhr kann leider nicht eingehalten werden",
        ),
        (
            "cancelled",
            "wurde abgesagt",
            "der für Dienstag, 8. Dezember 2026, 09:00 Uhr angekündigte Servicetermin",
        ),
    ],
)
def test_every_german_notice_kind(db: Session, kind: str, subject: str, words: str) -> None:
    msg = _mail(db, "de", kind)
    assert subject in msg["Subject"]
    assert words in msg.get_content()


def test_an_english_account_gets_the_english_notice_unchanged(db: Session) -> None:
    msg = _mail(db, "en", "eta_changed")
    number = msg["Subject"].split(": ")[0].removeprefix("New arrival time for your service visit ")
    assert (
        msg["Subject"]
        == f"New arrival time for your service visit {number}: Tue 08 Dec, 14:30 (Europe/Berlin)"
    )
    body = msg.get_content()
    assert body.startswith("Hello ")
    assert "around Tue 08 Dec, 14:30 (Europe/Berlin) (before: Tue 08 Dec, 09:00 (Europe/Berlin)).\n" in body
