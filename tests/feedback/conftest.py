from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_mail import smtp_sink  # noqa: F401 - a real SMTP server for the survey mail
from tests.feedback.world import Outbox, installed_outbox
from tests.web.conftest import sign_in  # noqa: F401 - the page tests' cookie sign-in


@pytest.fixture
def outbox() -> Iterator[Outbox]:
    with installed_outbox() as box:
        yield box
