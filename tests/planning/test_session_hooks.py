"""The planning session hooks are installed by an explicit start-up call, once however often it runs."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from app.models import Absence
from app.planning import triggers
from tests import factories as f


def test_installing_twice_collects_each_event_once(db: Session) -> None:
    triggers.install_session_hooks()
    triggers.install_session_hooks()  # create_app, app.worker and the CLI may all have run
    engineer = f.make_engineer(db, f.make_region(db))
    db.add(Absence(engineer_id=engineer.id, day=date(2030, 1, 7), reason="sick"))
    db.flush()
    collected = db.info.get(triggers._KEY, [])
    assert [kind for kind, _ in collected] == ["sickness"]
    db.rollback()
    assert triggers._KEY not in db.info  # after_rollback forgets what was collected
