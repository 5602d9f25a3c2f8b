"""The demo seed writes its history's replies as rows: none is queued for mailing (the customers
are made up; the outbox is not flooded), as none of its surveys is mailed by the seed either."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import models as m
from app.seed.generate import seed
from tests.seed.test_seed import NOW


def test_seeded_replies_are_not_mailed(db: Session) -> None:
    seed(db, customers=20, seed=5, now=NOW, demo_users=False)
    db.expire_all()
    replies = db.scalar(select(func.count()).select_from(m.TicketEvent).where(m.TicketEvent.kind == "reply"))
    assert replies and replies > 0
    assert db.scalar(select(func.count()).select_from(m.ReplyDelivery)) == 0
    assert (
        db.scalars(select(m.OutboxMessage.task).where(m.OutboxMessage.task.like("fieldline.replies.%"))).all()
        == []
    )
