"""Two agents attaching the same held mail at the same moment open one ticket (PostgreSQL: the
versioned UPDATE that takes the mail off the list goes first; the second waits for the first
and then fails on the version, before it writes a contact or a ticket)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.integrations.inbound_email import unmatched
from app.integrations.inbound_email.service import receive_email
from app.models import Contact, Ticket, UnmatchedEmail, User
from app.platform.db import SessionFactory
from app.platform.errors import Conflict
from tests import factories as f
from tests.integrations.inbound_email.test_inbound_email import mail
from tests.worker.conftest import cleanup  # noqa: F401 - deletes the committed rows afterwards

THREAD = "<race1@kunde.example>"


@pytest.mark.usefixtures("cleanup")
def test_racing_attaches_open_one_ticket(engine: Engine, committed_db: Session) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("needs concurrent writers: run with a PostgreSQL TEST_DATABASE_URL")
    db = committed_db
    account = f.make_account(db)
    agents = [f.make_user(db, role="agent"), f.make_user(db, role="agent")]
    got = receive_email(db, raw=mail(sender="carola@race.example", message_id=THREAD))
    assert got.held is not None
    uid, account_id, agent_ids = got.held.id, account.id, [a.id for a in agents]
    db.commit()
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def attach(agent_id: int) -> None:
        with SessionFactory(bind=engine) as s:
            row = s.get_one(UnmatchedEmail, uid)
            assert row.version == 1  # both passed their If-Match
            start.wait(timeout=10)
            try:
                unmatched.attach(s, row, account_id=account_id, name=None, actor=s.get_one(User, agent_id))
                s.commit()
                outcomes.append("attached")
            except Conflict:
                s.rollback()
                outcomes.append("conflict")

    threads = [threading.Thread(target=attach, args=(a,)) for a in agent_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["attached", "conflict"]
    assert db.scalar(select(func.count()).select_from(Ticket).where(Ticket.email_thread_id == THREAD)) == 1
    assert (
        db.scalar(select(func.count()).select_from(Contact).where(Contact.email == "carola@race.example"))
        == 1
    )
    db.rollback()
