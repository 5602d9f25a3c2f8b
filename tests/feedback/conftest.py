from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.platform.mail import set_mailer
from tests.feedback.world import Outbox


@pytest.fixture
def outbox() -> Iterator[Outbox]:
    box = Outbox()
    set_mailer(box)
    try:
        yield box
    finally:
        set_mailer(None)
