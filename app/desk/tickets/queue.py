"""The desk's ticket queue: saved views (mine, my team's, unassigned, breaching soon), filters,
sorting by SLA risk, and bulk assign / status change.

Views list live tickets (not resolved or closed) unless a status filter says otherwise. Their
order is the next SLA due time (`sla_next_due`), which the partial indexes of
app/models/tickets.py serve, so a view stays fast however much closed history the desk holds.

Pages are keyset pages, like the plain ticket list: the cursor holds the last row's sort key
(the next due time for `sla_risk`, nothing more for `newest`) and its id, the tie-breaker, and the
next page starts strictly after it. A ticket closed, or one created, between two pages shifts
nothing: every ticket whose sort key did not change meanwhile is listed exactly once (an OFFSET
skipped one for each ticket that left the view and repeated one for each that joined before it).
A ticket whose next due time moves while the agent pages (its first response given) may move past
the cursor; it is then listed on the page where its new time falls, or on none already read.

Bulk changes check each ticket's version and apply item by item (a savepoint each): a ticket
changed by someone else meanwhile, or one that cannot make the move, is reported by number and
the others still apply. All-or-nothing would make one stale row block a whole morning's triage.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select, text, tuple_, union_all
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.desk.tickets import service as tickets
from app.desk.tickets.queries import matches_text
from app.desk.tickets.status import DONE, open_work_orders
from app.models import Asset, Role, Team, TeamMember, Ticket, User, WorkOrder, WorkOrderStatus
from app.models.tickets import sla_next_due
from app.platform.db import utcnow
from app.platform.errors import AppError, InvalidTransition, Unprocessable
from app.platform.inputs import INT_MAX, problem_with

VIEWS = ("mine", "team", "unassigned", "breaching_soon")
SORTS = ("sla_risk", "newest")
BREACHING_WITHIN = timedelta(hours=4)
# Verbatim the predicate of the partial queue indexes (PostgreSQL proves the match textually).
LIVE = text("ticket.status NOT IN ('resolved', 'closed')")
ACROSS_TEAMS = {Role.manager.value, Role.admin.value}
TEAM_BRANCHES_MAX = 200  # beyond that many members one IN list is cheaper than the branches


@dataclass(frozen=True)
class QueueQuery:
    view: str | None = None
    status: Sequence[str] = ()
    priority: Sequence[str] = ()
    account_id: int | None = None
    account_ids: Sequence[int] = ()  # several customers (a name that matches more than one)
    product_model_id: int | None = None
    asset_id: int | None = None
    channel: str | None = None
    breached: bool | None = None
    q: str | None = None  # subject contains, or the exact ticket number (as the plain list)
    sla_due_before: datetime | None = None
    team_id: int | None = None
    sort: str = "sla_risk"


@dataclass(frozen=True)
class After:
    """Where the next page starts: strictly after this row in the sort's order."""

    sort: str
    id: int
    due: datetime | None = None  # the row's next due time (`sla_risk`); None sorts last


def encode_cursor(after: After) -> str:
    payload: dict[str, Any] = {"s": after.sort, "i": after.id}
    if after.sort == "sla_risk":
        payload["d"] = after.due.isoformat() if after.due else None
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> After:
    """The position a cursor of this list holds; 422 naming `cursor` for anything else (a forged
    or truncated one, one of the plain list, one of another sort order)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        if not isinstance(payload, dict) or payload.get("s") != sort:
            raise ValueError("another list's cursor")
        row_id = payload["i"]
        if not isinstance(row_id, int) or isinstance(row_id, bool) or not 0 < row_id <= INT_MAX:
            raise ValueError("not a row id")
        due: datetime | None = None
        if sort == "sla_risk" and payload["d"] is not None:
            due = datetime.fromisoformat(payload["d"])
            if due.tzinfo is None or problem_with(due):
                raise ValueError("not a due time")
        return After(sort, row_id, due)
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError) as exc:
        raise Unprocessable(
            "The cursor is not valid for this list; start again without it.",
            errors=[{"field": "cursor", "message": "invalid cursor (use next_cursor of the previous page)"}],
        ) from exc


def _after(after: After) -> ColumnElement[bool]:
    """Rows strictly after `after` in the order `statement` gives."""
    if after.sort == "newest":
        return Ticket.id < after.id
    due = sla_next_due()
    if after.due is None:  # among the tickets without a due time, which come last
        return and_(due.is_(None), Ticket.id > after.id)
    return or_(tuple_(due, Ticket.id) > (after.due, after.id), due.is_(None))


def teams_of(session: Session, user: User) -> list[Team]:
    return list(
        session.scalars(
            select(Team).join(TeamMember, TeamMember.team_id == Team.id).where(TeamMember.user_id == user.id)
        )
    )


def visible_teams(session: Session, user: User) -> list[Team]:
    """The teams a user may pick: their own; managers and admins see across all teams."""
    if user.role in ACROSS_TEAMS:
        return list(session.scalars(select(Team).order_by(Team.name)))
    return sorted(teams_of(session, user), key=lambda t: t.name)


def team_member_ids(session: Session, user: User, team_id: int | None) -> list[int]:
    teams = [t.id for t in visible_teams(session, user)]
    if team_id is not None:
        if team_id not in teams:
            raise Unprocessable(
                f"team {team_id} is not one of yours", errors=[{"field": "team", "message": "not your team"}]
            )
        teams = [team_id]
    if not teams:
        return []
    return sorted(set(session.scalars(select(TeamMember.user_id).where(TeamMember.team_id.in_(teams)))))


def _check(query: QueueQuery) -> None:
    errors = []
    if query.view is not None and query.view not in VIEWS:
        errors.append({"field": "view", "message": f"must be one of {', '.join(VIEWS)}"})
    if query.sort not in SORTS:
        errors.append({"field": "sort", "message": f"must be one of {', '.join(SORTS)}"})
    if errors:
        raise Unprocessable("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)


def statement(
    session: Session,
    user: User,
    query: QueueQuery,
    now: datetime | None = None,
    window: int = 0,
    after: After | None = None,
) -> Select[Any]:
    """The view as one SELECT of tickets in its order, from just after `after`. `window` (rows
    the caller will read) lets the team view read each member's rows from their own index range."""
    _check(query)
    due = sla_next_due()
    stmt: Select[Any] = select(Ticket)
    stmt = stmt.where(Ticket.status.in_(list(query.status))) if query.status else stmt.where(LIVE)
    if query.view == "mine":
        stmt = stmt.where(Ticket.assignee_id == user.id)
    elif query.view == "unassigned":
        stmt = stmt.where(Ticket.assignee_id.is_(None))
    elif query.view == "breaching_soon":
        # Overdue targets stay in (they are the most urgent); paused clocks cannot breach.
        stmt = stmt.where(due <= (now or utcnow()) + BREACHING_WITHIN, Ticket.sla_paused.is_(False))
    stmt = _filters(stmt, query)
    if after is not None:  # before the team's branches, so that each starts at the cursor
        stmt = stmt.where(_after(after))
    if query.view == "team":
        stmt = _team(session, user, query, stmt, window)
    if query.sort == "sla_risk":
        return stmt.order_by(due.asc().nulls_last(), Ticket.id)
    return stmt.order_by(Ticket.id.desc())


def _filters(stmt: Select[Any], query: QueueQuery) -> Select[Any]:
    if query.priority:
        stmt = stmt.where(Ticket.priority.in_(list(query.priority)))
    if query.account_id is not None:
        stmt = stmt.where(Ticket.account_id == query.account_id)
    if query.account_ids:
        stmt = stmt.where(Ticket.account_id.in_(list(query.account_ids)))
    if query.product_model_id is not None:
        assets = select(Asset.id).where(Asset.product_model_id == query.product_model_id)
        stmt = stmt.where(Ticket.asset_id.in_(assets))
    if query.asset_id is not None:
        stmt = stmt.where(Ticket.asset_id == query.asset_id)
    if query.channel:
        stmt = stmt.where(Ticket.channel == query.channel)
    if query.breached is not None:
        stmt = stmt.where(Ticket.sla_breached.is_(query.breached))
    if query.q and query.q.strip():
        stmt = stmt.where(matches_text(query.q))
    if query.sla_due_before is not None:
        stmt = stmt.where(sla_next_due() <= query.sla_due_before)
    return stmt


def _team(session: Session, user: User, query: QueueQuery, stmt: Select[Any], window: int) -> Select[Any]:
    """Tickets of the team's members. `assignee_id IN (members)` ordered by due time makes
    PostgreSQL walk the whole live index when the team is quiet (measured: 150 ms over 50 000
    live tickets for a team with none); instead each member's first `window` rows come from their
    own range of the (assignee, due) index, and only those few are merged."""
    members = team_member_ids(session, user, query.team_id)
    if not members or not window or len(members) > TEAM_BRANCHES_MAX:
        return stmt.where(Ticket.assignee_id.in_(members or [-1]))
    order = (
        (sla_next_due().asc().nulls_last(), Ticket.id) if query.sort == "sla_risk" else (Ticket.id.desc(),)
    )
    branches = []
    for member in members:
        ranged = stmt.with_only_columns(Ticket.id, sla_next_due().label("due"))
        inner = ranged.where(Ticket.assignee_id == member).order_by(*order).limit(window).subquery()
        branches.append(select(inner.c.id, inner.c.due))  # SQLite: no LIMIT on a bare branch
    merged = union_all(*branches).subquery()
    top = select(merged.c.id).limit(window)  # only these are fetched as whole rows
    top = (
        top.order_by(merged.c.due.asc().nulls_last(), merged.c.id)
        if query.sort == "sla_risk"
        else top.order_by(merged.c.id.desc())
    )
    return select(Ticket).where(Ticket.id.in_(top))


def list_queue(
    session: Session, user: User, query: QueueQuery, *, limit: int = 50, cursor: str | None = None
) -> tuple[list[Ticket], str | None]:
    """A page of the view, and the cursor of the next one (None: this is the last)."""
    after = decode_cursor(cursor, query.sort) if cursor else None
    stmt = statement(session, user, query, window=limit + 1, after=after)
    # The due time as SQL computed it, for the cursor: the page compares against this very value.
    rows = list(session.execute(stmt.add_columns(sla_next_due()).limit(limit + 1)).tuples())
    if len(rows) <= limit:
        return [t for t, _ in rows], None
    last, due = rows[limit - 1]
    return [t for t, _ in rows[:limit]], encode_cursor(After(query.sort, last.id, due))


def count_capped(session: Session, user: User, query: QueueQuery, cap: int = 100) -> int:
    """How many tickets a view holds, counted up to `cap` (the start page shows "99+")."""
    inner = statement(session, user, query, window=cap).order_by(None).limit(cap).subquery()
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def next_due(ticket: Ticket) -> tuple[str | None, datetime | None]:
    """The metric and time `sla_next_due` sorts by, for showing next to the ticket; none once the
    ticket is resolved or closed (its clock stopped: "overdue 167 d" on a closed ticket misled)."""
    if ticket.status in DONE:
        return None, None
    if ticket.first_response_at is None and ticket.first_response_due_at is not None:
        return "first_response", ticket.first_response_due_at
    if ticket.arrived_at is None and ticket.arrival_due_at is not None and ticket.first_visit_at is not None:
        return "arrival", ticket.arrival_due_at
    return ("resolution", ticket.resolution_due_at) if ticket.resolution_due_at else (None, None)


# "T-0001071", "t-1071", "T1071", "1071": people drop the zeros, the prefix and the case.
_TICKET_NUMBER = re.compile(r"\s*(?:t\s*-?\s*)?0*(\d{1,10})\s*", re.IGNORECASE)


def ticket_number(text: str) -> str | None:
    """The canonical number ("T-0001071") a typed ticket number means, or None if it is not one.
    Numbers are "T-" and the ticket id zero-padded to 7 digits (service.create_ticket), so every
    spelling names at most one ticket."""
    match = _TICKET_NUMBER.fullmatch(text or "")
    if match is None or int(match[1]) > 2**31 - 1:
        return None
    return f"T-{int(match[1]):07d}"


def find_ticket(session: Session, text: str) -> Ticket | None:
    number = ticket_number(text)
    return session.scalar(select(Ticket).where(Ticket.number == number)) if number else None


@dataclass(frozen=True)
class VisitToCancel:
    number: str  # work order
    ticket: str
    status: str
    starts_at: datetime | None  # the appointment agreed with the customer, else the planned start


# Visits that resolving or closing cancels; one under way (en route, on site) refuses the ticket
# instead (app/field/workorders/closing.py), so it cancels nothing.
_CANCELLED_ON_CLOSING = (WorkOrderStatus.unscheduled.value, WorkOrderStatus.scheduled.value)
_UNDER_WAY = (WorkOrderStatus.en_route.value, WorkOrderStatus.on_site.value)


def visits_cancelled_by(
    session: Session, items: Sequence[tuple[int, int]], status: str
) -> list[VisitToCancel]:
    """The visits a bulk move to `status` would cancel, for the agent to confirm first. Tickets
    that will be refused anyway (stale version, already done, a visit under way) cancel nothing."""
    if status not in DONE:
        return []
    seen = dict(items)
    live = [
        t
        for t in session.scalars(select(Ticket).where(Ticket.id.in_(list(seen))).order_by(Ticket.id))
        if t.version == seen[t.id] and t.status not in DONE
    ]
    visits: list[VisitToCancel] = []
    for ticket in live:
        rows = open_work_orders(session, ticket)
        if any(w.status in _UNDER_WAY for w in rows):
            continue
        visits += [
            VisitToCancel(
                w.number or str(w.id),
                ticket.number or "",
                w.status,
                w.appointment_start_at or w.planned_start_at,
            )
            for w in rows
            if w.status in _CANCELLED_ON_CLOSING
        ]
    return visits


def cancelled_visits(session: Session, numbers: Sequence[str]) -> list[VisitToCancel]:
    """The named work orders that are cancelled now, with their ticket (the result message)."""
    rows = session.execute(
        select(WorkOrder, Ticket.number)
        .join(Ticket, Ticket.id == WorkOrder.ticket_id)
        .where(WorkOrder.number.in_(list(numbers)), WorkOrder.status == WorkOrderStatus.cancelled.value)
        .order_by(WorkOrder.id)
    ).tuples()
    return [
        VisitToCancel(w.number or "", number or "", w.status, w.appointment_start_at or w.planned_start_at)
        for w, number in rows
    ]


@dataclass
class BulkResult:
    changed: list[str] = field(default_factory=list)  # ticket numbers
    refused: list[tuple[str, str]] = field(default_factory=list)  # (number or id, why)
    cancelled: list[str] = field(default_factory=list)  # work orders ended by resolving/closing


def _why(exc: AppError) -> str:
    """The refusal for the agent, inside "T-…: …" (status.check writes it in the page's labels)."""
    if isinstance(exc, InvalidTransition) and exc.detail.startswith("A ticket that is"):
        return "a" + exc.detail[1:]
    return exc.detail


def bulk_apply(
    session: Session,
    *,
    items: Sequence[tuple[int, int]],
    actor: User,
    assignee_id: int | None = None,
    unassign: bool = False,
    status: str | None = None,
    reason: str = "",
    channel: str = "web",
) -> BulkResult:
    """Assign (or unassign) and/or move each (ticket id, version seen) pair, one savepoint each."""
    result = BulkResult()
    for ticket_id, version in items:
        ticket = session.get(Ticket, ticket_id)
        name = ticket.number or str(ticket_id) if ticket else str(ticket_id)
        if ticket is None:
            result.refused.append((name, "does not exist"))
            continue
        try:
            with session.begin_nested():
                if assignee_id is not None or unassign:
                    tickets.update_ticket(
                        session,
                        ticket_id=ticket_id,
                        values={"assignee_id": assignee_id},
                        actor=actor,
                        channel=channel,
                        expected_version=version,
                    )
                    session.flush()
                    version = ticket.version
                ending: list[str] = []
                if status and status != ticket.status:
                    if status in DONE and ticket.status not in DONE:  # resolving/closing ends visits
                        ending = [w.number or str(w.id) for w in open_work_orders(session, ticket)]
                    tickets.transition(
                        session,
                        ticket_id=ticket_id,
                        to=status,
                        reason=reason,
                        actor=actor,
                        channel=channel,
                        expected_version=version,
                    )
                else:
                    tickets.update_ticket(
                        session,
                        ticket_id=ticket_id,
                        values={},
                        actor=actor,
                        channel=channel,
                        expected_version=version,
                    )  # a status already reached: only the version check
                session.flush()
            result.changed.append(name)
            result.cancelled += ending  # the move succeeded, so none of them is open any more
        except StaleDataError:
            result.refused.append((name, "was changed by someone else meanwhile; reload and retry"))
        except AppError as exc:
            result.refused.append((name, _why(exc)))
    return result
