from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from tests.field.workorders import world as fw


@pytest.fixture
def world(db: Session) -> dict[str, Any]:
    """The visits' shared world (`world.build`)."""
    return fw.build(db)
