"""Audit trail: who changed what, when, old → new."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from app.models import AuditLog, User


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value


def record(
    session: Session,
    user: User | None,
    entity: str,
    entity_id: int,
    action: str,
    changes: Mapping[str, Any] | None = None,
) -> None:
    session.add(
        AuditLog(
            user_id=user.id if user else None,
            entity=entity,
            entity_id=entity_id,
            action=action,
            changes=dict(changes or {}),
        )
    )


def apply_changes(obj: Any, values: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Set attributes and return {field: [old, new]} for those that really changed."""
    changes: dict[str, list[Any]] = {}
    for field, new in values.items():
        old = getattr(obj, field)
        if old != new:
            setattr(obj, field, new)
            changes[field] = [_plain(old), _plain(new)]
    return changes
