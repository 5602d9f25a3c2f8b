"""The planning tests' shared fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.planning import notify
from tests.planning.world import Recorder


@pytest.fixture
def outbox() -> Iterator[Recorder]:
    """The customer notices sent during the test, instead of mails."""
    rec = Recorder()
    notify.set_sender(rec)
    yield rec
    notify.set_sender(None)
