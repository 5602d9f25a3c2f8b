"""Whatever takes a user's desk work away hands their open tickets back.

`service.edit_user` (the accounts page, `PATCH /api/v1/users/{id}`, `fieldline deactivate-user`)
calls `hand_back` itself: it knows the admin who acted and answers with what went back. Any other
writer that deactivates a user or gives them a role that does not work the desk (engineer) —
`platform.auth.deactivate_user`, a future sign-on sync or import, a script — would leave the open
tickets assigned to someone who never sees them, hidden from the unassigned queue. This session hook
(installed by app.hooks) catches such a change at flush and hands back the same way, with no actor. `emit`
flushes, which a flush cannot: the hand-back's `ticket.updated` events wait in the session and go out
before the commit (`_send`), in the same transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from app.accounts.service import HANDING_BACK, UNSENT, emit_unsent, hand_back, works_the_desk
from app.models import User


def _lost_the_desk(user: User) -> bool:
    """`is_active` or `role` changed, and the user no longer works the desk. Whether they did before
    is not asked: an old value never loaded is unknown, and `hand_back` finds nothing to do when there
    are no open tickets (a leftover from before is handed back too)."""
    state = inspect(user)
    changed = any(state.attrs[name].history.has_changes() for name in ("is_active", "role"))
    return changed and not works_the_desk(user)


def _follow(session: Session, flush_context: Any, instances: Any) -> None:
    handing = session.info.get(HANDING_BACK, set())
    for user in [o for o in session.dirty if isinstance(o, User)]:
        if user.id not in handing and _lost_the_desk(user):
            hand_back(session, user, actor=None, flushing=True)


def _send(session: Session) -> None:
    # A change not flushed yet is flushed here first, so a hand-back it causes is sent too.
    if session.new or session.dirty or session.deleted:
        session.flush()
    emit_unsent(session)


def _forget(session: Session) -> None:
    session.info.pop(UNSENT, None)


_HOOKS = (("before_flush", _follow), ("before_commit", _send), ("after_rollback", _forget))


def install_hand_back_hook() -> None:
    """Called once at start-up by each composition root (app.hooks); again changes nothing."""
    for name, fn in _HOOKS:
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)
