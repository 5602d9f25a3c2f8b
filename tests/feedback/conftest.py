from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.feedback.world import Outbox, installed_outbox


@pytest.fixture
def outbox() -> Iterator[Outbox]:
    with installed_outbox() as box:
        yield box
