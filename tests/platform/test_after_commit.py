"""Tasks are sent after the outermost COMMIT only: a savepoint neither sends nor loses them."""

from __future__ import annotations

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from app.platform.db import after_commit


def _session() -> Session:
    engine = create_engine("sqlite://")
    return Session(engine)


def test_released_savepoint_waits_for_the_outer_commit() -> None:
    sent: list[str] = []
    with _session() as s:
        s.execute(text("select 1"))
        with s.begin_nested():
            after_commit(s, lambda: sent.append("inner"))
        assert sent == []  # RELEASE SAVEPOINT is not a commit: a worker would not see the rows yet
        after_commit(s, lambda: sent.append("outer"))
        s.commit()
    assert sent == ["inner", "outer"]


def test_rolled_back_savepoint_drops_only_its_own_callbacks() -> None:
    sent: list[str] = []
    with _session() as s:
        after_commit(s, lambda: sent.append("outer"))
        try:
            with s.begin_nested():
                after_commit(s, lambda: sent.append("inner"))
                raise RuntimeError("e.g. a unique key taken concurrently")
        except RuntimeError:
            pass
        s.commit()
    assert sent == ["outer"]


def test_nested_savepoints_and_a_rollback_send_nothing() -> None:
    sent: list[str] = []
    with _session() as s:
        with s.begin_nested(), s.begin_nested():
            after_commit(s, lambda: sent.append("deep"))
        s.rollback()
        s.execute(text("select 1"))
        s.commit()  # a later transaction of the same session must not send the old callback
    assert sent == []
