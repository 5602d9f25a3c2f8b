"""Create staff accounts, change their name, role and whether they may sign in, set a new password.

Admins only (the callers check). Every edit carries the account's version: `_claim` bumps it in one
guarded UPDATE, so of two admins editing the same account from the same view the second is refused
(409) instead of overwriting. Two rules no edit may break:

- there is always an active admin: the last one cannot be demoted or deactivated (the admin rows
  are locked first, so two admins demoting each other at once cannot both succeed), and no admin
  demotes or deactivates their own account (another admin must);
- a deactivated account, or one given a new password, is signed out everywhere at once
  (`auth.revoke_tokens`); a role change needs no sign-out, every request reads the role afresh.

An account that can no longer work the desk (deactivated, or given a role that does not: engineer)
hands its open tickets back to the unassigned queue, each with a timeline entry, so that they are
not left with someone who will never see them (`hand_back`; a writer that goes around this
service is caught at flush by app/accounts/desk_rights.py). The customer accounts it owns keep
their owner, so an admin can see whose they were; the edit's answer lists them, and their unhappy
survey answers go to the recovery queue until someone gives them a new owner (app/feedback/recovery.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.models import Account, Role, SurveyRecovery, Ticket, TicketEvent, TicketStatus, User
from app.platform import audit
from app.platform.auth import create_user as _create_user
from app.platform.auth import revoke_tokens
from app.platform.auth import set_password as _set_password
from app.platform.db import utcnow
from app.platform.errors import Conflict, NotFound, Unprocessable
from app.platform.events import emit
from app.platform.passwords import check_email, check_password_policy
from app.platform.text import is_blank

ROLES = tuple(r.value for r in Role)
NAME_MAX = 200
STALE = (
    "Someone else changed this account after you opened it. Nothing was changed; reload to see the "
    "account as it is now and make your change again."
)
OWN_ACCOUNT = (
    "You cannot take the admin role from your own account or deactivate it: another admin must do "
    "that, so nobody locks themselves out by mistake."
)
LAST_ADMIN = (
    "This is the last active admin account: make another account an admin first, or nobody could "
    "manage the accounts any more."
)


# Who may hold desk tickets: app/desk/tickets/service.py's DESK_ROLES (the desk is a sibling layer).
DESK_ROLES = (Role.agent.value, Role.dispatcher.value, Role.manager.value, Role.admin.value)
DONE = (TicketStatus.resolved.value, TicketStatus.closed.value)
HANDING_BACK = "accounts.handing_back"  # session.info: ids of users `hand_back` is handing back now
UNSENT = "accounts.unsent_events"  # session.info: `ticket.updated` events of a hand-back during a flush


@dataclass
class Handover:
    """What an account that stopped working the desk left: `tickets` (numbers) went back to the
    unassigned queue, `accounts` (ids) are customers it still owns."""

    tickets: list[str] = field(default_factory=list)
    accounts: list[int] = field(default_factory=list)

    def describe(self, name: str) -> str:
        """One sentence for the admin ("" when nothing was left)."""
        parts = []
        if self.tickets:
            n = len(self.tickets)
            parts.append(
                f"{n} open ticket{'s' if n != 1 else ''} of {name} went back to the unassigned queue "
                f"({', '.join(self.tickets)})"
            )
        if self.accounts:
            n = len(self.accounts)
            parts.append(
                f"{name} still owns {n} customer account{'s' if n != 1 else ''} (ids "
                f"{', '.join(map(str, self.accounts))}): their unhappy survey answers go to the recovery "
                "queue until you give them a new owner (the Owner field on each customer's page, "
                "/desk/customers/{id}, or PATCH /api/v1/customers/{id} with owner_user_id)"
            )
        return "; ".join(parts) + ("." if parts else "")


@dataclass
class Edit:
    changed: list[str]  # the names of the fields that changed
    handover: Handover | None = None  # set when the account stopped working the desk


def works_the_desk(user: User) -> bool:
    return bool(user.is_active) and user.role in DESK_ROLES


def _ticket_updated(ticket: Ticket, user: User) -> dict[str, Any]:
    """The `ticket.updated` payload a PATCH of the assignee sends (app/desk/tickets/service.py's
    `_summary` plus `changes`; the desk is a sibling layer, so it is spelt out here)."""
    return {
        "ticket_id": ticket.id,
        "number": ticket.number,
        "account_id": ticket.account_id,
        "asset_id": ticket.asset_id,
        "priority": ticket.priority,
        "status": ticket.status,
        "subject": ticket.subject,
        "resolution_due_at": ticket.resolution_due_at,
        "changes": {"assignee_id": [user.id, None]},
    }


def emit_unsent(session: Session) -> None:
    """Emit the events a hand-back made during a flush (`emit` flushes, which a flush cannot)."""
    for data in session.info.pop(UNSENT, []):
        emit(session, "ticket.updated", data)


def hand_back(session: Session, user: User, *, actor: User | None, flushing: bool = False) -> Handover:
    """Send `user`'s open tickets back to the unassigned queue (open recoveries to the recovery
    queue) and list the customer accounts they own. Called once the user can no longer work the
    desk; the timeline says why each ticket lost its assignee, and a `ticket.updated` event tells the
    webhooks, as any change of the assignee does. During a flush (`flushing`, the session hook) the
    events wait in `session.info` for `emit_unsent`, called before the commit."""
    handover = Handover()
    # The query below may flush the change that took the desk away; the session hook that hands back
    # after any such change (app/accounts/desk_rights.py) leaves this user to this call, which knows
    # the actor and reports what went back.
    handing = session.info.setdefault(HANDING_BACK, set())
    handing.add(user.id)
    try:
        found = session.scalars(
            select(Ticket)
            .where(Ticket.assignee_id == user.id, Ticket.status.not_in(DONE))
            .order_by(Ticket.id)
        ).all()
    finally:
        handing.discard(user.id)
    # Twice in one session hands back once: a ticket handed back but not yet flushed still matches
    # in the database.
    tickets = [t for t in found if t.assignee_id == user.id]
    at = utcnow()
    for ticket in tickets:
        ticket.assignee_id = None  # an ORM change: bumps the ticket's version like any edit
        session.add(
            TicketEvent(
                ticket_id=ticket.id,
                kind="assigned",
                actor_id=actor.id if actor else None,
                at=at,
                body=f"Back to the unassigned queue: {user.name} no longer works the desk.",
                data={"from": user.id, "to": None},
            )
        )
        audit.record(session, actor, "ticket", ticket.id, "update", {"assignee_id": [user.id, None]})
        handover.tickets.append(ticket.number or f"#{ticket.id}")
    events = [_ticket_updated(t, user) for t in tickets]
    if flushing:
        session.info.setdefault(UNSENT, []).extend(events)
    elif events:
        for data in events:
            emit(session, "ticket.updated", data)
    if tickets:
        # The follow-up lists read the queue: an unowned recovery is the recovery queue's.
        for rec in session.scalars(
            select(SurveyRecovery).where(
                SurveyRecovery.ticket_id.in_([t.id for t in tickets]), SurveyRecovery.closed_at.is_(None)
            )
        ):
            rec.queue = "recovery"
    handover.accounts = list(
        session.scalars(select(Account.id).where(Account.owner_user_id == user.id).order_by(Account.id))
    )
    return handover


def list_users(session: Session) -> list[User]:
    """Active accounts first, then by name."""
    return list(session.scalars(select(User).order_by(User.is_active.desc(), User.name, User.id)))


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist.")
    return user


LABELS = {"email": "E-mail", "name": "Name", "role": "Role", "password": "Password", "is_active": "Active"}


def _refuse(field: str, message: str) -> Unprocessable:
    # The detail is read by people (the page's summary, an API client's log): the field's label,
    # not its key ("email: … @-sign.." read like a stack trace)
    text = f"{LABELS.get(field, field)}: {message.rstrip('.')}."
    return Unprocessable(text, errors=[{"field": field, "message": message}])


def _name(value: str) -> str:
    name = " ".join(value.split())
    if is_blank(name):
        raise _refuse("name", "must not be blank")
    if len(name) > NAME_MAX:
        raise _refuse("name", f"at most {NAME_MAX} characters")
    return name


def _role(value: str) -> str:
    if value not in ROLES:
        raise _refuse("role", f"one of {', '.join(ROLES)}")
    return value


def _refuse_all(errors: list[dict[str, Any]]) -> Unprocessable:
    """One refusal naming every field's problem, each by its label ("E-mail: …; Name: …")."""
    text = "; ".join(f"{LABELS.get(e['field'], e['field'])}: {e['message'].rstrip('.')}" for e in errors)
    return Unprocessable(text + ".", errors=errors)


def create(session: Session, *, email: str, name: str, role: str, password: str, actor: User) -> User:
    """A new account; the admin tells its owner the first password (they may change it later).
    Every field is checked before refusing, so one answer lists every mistake."""
    errors: list[dict[str, Any]] = []
    address = email.strip().lower()
    try:
        address = check_email(email)
    except ValueError as exc:
        errors.append({"field": "email", "message": str(exc)})
    clean_name, clean_role = "", ""
    try:
        clean_name = _name(name)
    except Unprocessable as exc:
        errors += exc.errors or []
    try:
        clean_role = _role(role)
    except Unprocessable as exc:
        errors += exc.errors or []
    try:
        check_password_policy(password, email=address)
    except ValueError as exc:
        errors.append({"field": "password", "message": str(exc)})
    if errors:
        raise _refuse_all(errors)
    if session.scalar(select(User.id).where(func.lower(User.email) == address)) is not None:
        # The unique index would refuse it too, but as a 500 that ends the request's transaction.
        raise Conflict(
            f"There is already an account for {address}.",
            errors=[{"field": "email", "message": "already has an account"}],
        )
    user = _create_user(session, email=address, name=clean_name, role=clean_role, password=password)
    audit.record(
        session, actor, "user", user.id, "created", {"email": [None, address], "role": [None, clean_role]}
    )
    return user


def _claim(session: Session, user: User, version: int) -> None:
    """Bump the version, only if it is still the one the editor saw."""
    stmt = update(User).where(User.id == user.id, User.version == version).values(version=User.version + 1)
    if session.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(STALE)
    session.refresh(user)


def _keeps_an_admin(session: Session, user: User) -> None:
    """Refuse to take away the last active admin (the admin rows are locked while we decide)."""
    admins = session.scalars(
        select(User.id).where(User.role == Role.admin.value, User.is_active.is_(True)).with_for_update()
    ).all()
    if list(admins) == [user.id]:
        raise Unprocessable(LAST_ADMIN, errors=[{"field": "role", "message": "the last active admin"}])


def update_user(
    session: Session, user: User, *, values: Mapping[str, Any], version: int, actor: User
) -> list[str]:
    """Set `name`, `role` and/or `is_active` (those given); returns the names of those that changed."""
    return edit_user(session, user, values=values, version=version, actor=actor).changed


def edit_user(session: Session, user: User, *, values: Mapping[str, Any], version: int, actor: User) -> Edit:
    """`update_user`, also saying what an account that stopped working the desk left (`hand_back`)."""
    clean: dict[str, Any] = {}
    errors: list[dict[str, Any]] = []
    for key, check in (("name", _name), ("role", _role)):
        if key in values:  # each checked, so one answer lists every mistake (as `create`'s)
            try:
                clean[key] = check(str(values[key] or ""))
            except Unprocessable as exc:
                errors += exc.errors or []
    if errors:
        raise _refuse_all(errors)
    if "is_active" in values:
        clean["is_active"] = bool(values["is_active"])
    changed = [k for k, v in clean.items() if getattr(user, k) != v]
    if user.version != version:
        raise Conflict(STALE)
    if not changed:
        return Edit([])
    worked_the_desk = works_the_desk(user)
    was_admin = user.role == Role.admin.value and user.is_active
    stays_admin = clean.get("role", user.role) == Role.admin.value and clean.get("is_active", user.is_active)
    if was_admin and not stays_admin:
        if user.id == actor.id:  # one click from locking yourself out: another admin must do it
            # the field the admin changed: the error sits under it on the page
            own = "is_active" if not clean.get("is_active", user.is_active) else "role"
            raise Unprocessable(OWN_ACCOUNT, errors=[{"field": own, "message": "your own account"}])
        _keeps_an_admin(session, user)
    _claim(session, user, version)
    before = {k: getattr(user, k) for k in changed}
    for k in changed:
        setattr(user, k, clean[k])
    # The hand-back first: it holds off the flush hook's own (app/accounts/desk_rights.py), which
    # would hand back with no actor and leave this answer's list empty.
    handover = hand_back(session, user, actor=actor) if worked_the_desk and not works_the_desk(user) else None
    if "is_active" in changed and not user.is_active:
        revoke_tokens(session, user)  # signed out on every device at once
    session.flush()
    audit.record(session, actor, "user", user.id, "updated", {k: [before[k], clean[k]] for k in changed})
    return Edit(changed, handover)


def set_password(session: Session, user: User, *, password: str, version: int, actor: User) -> None:
    """A new password from an admin (the owner forgot theirs): every session of the owner ends."""
    try:
        check_password_policy(password, email=user.email)
    except ValueError as exc:
        raise _refuse("password", str(exc)) from None
    _claim(session, user, version)
    _set_password(session, user, password)
    audit.record(session, actor, "user", user.id, "password_set", {})
