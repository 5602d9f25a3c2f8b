"""Reactions of higher layers to a ticket's lifecycle, registered at start-up.

The desk must not import field or planning (the layers in pyproject's import-linter contract),
yet resolving or closing a ticket has to end its visits in the same transaction. So the field
layer registers a handler here at start-up (`app.field.workorders.closing.install_ticket_hooks`,
called by every composition root next to the planning session hooks) and `change_status` runs
the handlers before the ticket leaves its open states. A handler refuses the transition by
raising an `AppError`; nothing of the transition is written then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.models import Ticket, User


@dataclass(frozen=True)
class Closing:
    """The ticket is about to be resolved or closed."""

    to: str  # resolved | closed
    actor: User | None
    channel: str | None
    at: datetime
    reason: str


ClosingHook = Callable[[Session, Ticket, Closing], None]
_closing_hooks: list[ClosingHook] = []


def on_closing(hook: ClosingHook) -> None:
    """Register `hook` (once: installing twice changes nothing)."""
    if hook not in _closing_hooks:
        _closing_hooks.append(hook)


def run_closing(session: Session, ticket: Ticket, closing: Closing) -> None:
    for hook in list(_closing_hooks):
        hook(session, ticket, closing)
