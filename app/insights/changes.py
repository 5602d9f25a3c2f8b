"""What a change can move in kpi_day, recorded where the change is made (table kpi_dirty).

`updated_at` cannot tell a re-plan of next week's visit from a resolution: a published plan bumps
many work orders (engineer, start, ETA, status `scheduled`, at-risk marks) and their tickets, and
the refresh then rebuilt every day of those tickets, months back for old backlog. This session hook
looks at each flushed Ticket, WorkOrder, TicketEvent and SlaEvent, with the values before and after
(attribute history), and writes in the same flush only what the KPIs read (docs/kpis.md, "Refresh"):

- a ticket: its times, status only when it becomes or stops being resolved/closed, and what slices
  it (channel, category, account, site, asset, SLA calendar). Rows: the old days of the times that
  changed, the ticket itself (its days as they are at the refresh), and for the backlog the days
  between the old and new opening or ending (a reopen puts it back in every snapshot since);
- a work order is a visit once checked in (records.load_visits): only then do its check-in/out,
  completion, promised window, target, engineer, account, region or ticket move visit metrics.
  Rows: its old and new check-in and check-out days with its target and ticket (the refresh adds
  the days of the visits there within the return window) and the engineer-days;
- a ticket's engineer is its first work order's with an engineer, visits first
  (records.load_tickets): a work order's engineer (even a never-visited one's) moves ticket
  metrics only when a change makes another engineer the ticket's first one, which is checked here
  against the database; then every day of the ticket, and its backlog days, are marked;
- a logged reply or call (contacts to resolve) and a reopen (SLA resume) mark their ticket.

Writes that bypass the ORM (bulk UPDATEs) are not seen; the seed is followed by a full build.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import Session

from app.insights import records
from app.models import KpiDirty, SlaEvent, Ticket, TicketEvent, WorkOrder

TICKET_TIMES = tuple(c.key for c in records.TICKET_TIMES)
TICKET_KEYS = ("channel", "category", "account_id", "site_id", "asset_id", "sla_calendar_id")
VISIT_FIELDS = (
    "ticket_id",
    "asset_id",
    "site_id",
    "checked_in_at",
    "checked_out_at",
    "appointment_start_at",
    "appointment_end_at",
    "engineer_id",
    "account_id",
    "region_id",
)
DONE_VISIT = "done"  # records.load_visits: completed = status done
Row = tuple[str, date | None, str | None, int | None]  # scope, day, target, ticket id


def day_of(at: datetime) -> date:
    return (at.astimezone(UTC) if at.tzinfo else at).date()


def days_between(a: datetime | None, b: datetime | None, now: datetime) -> list[date]:
    """Every UTC day from a to b (None: still open, i.e. now)."""
    lo, hi = sorted((day_of(a or now), day_of(b or now)))
    return [lo + timedelta(days=i) for i in range((hi - lo).days + 1)]


def _states(
    obj: Any, fields: Iterable[str], kind: str
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The fields before and after this flush (None: the row did not exist before / after)."""
    if kind == "new":
        return None, {f: getattr(obj, f) for f in fields}
    if kind == "deleted":
        return {f: getattr(obj, f) for f in fields}, None
    attrs = inspect(obj).attrs
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for f in fields:
        hist = attrs[f].history
        if hist.has_changes():
            old[f] = hist.deleted[0] if hist.deleted else None
            new[f] = hist.added[0] if hist.added else None
        else:
            old[f] = new[f] = getattr(obj, f)
    return old, new


def _done_ticket(state: dict[str, Any]) -> bool:
    return state["status"] in records.DONE_TICKET


def _ticket_rows(obj: Ticket, kind: str, now: datetime) -> set[Row]:
    old, new = _states(obj, (*TICKET_TIMES, *TICKET_KEYS, "status"), kind)
    rows: set[Row] = {("ticket", None, None, obj.id)} if new is not None else set()
    if old is None or new is None:  # a new ticket's days are read at the refresh, a deleted one's now
        state = old or new or {}
        rows |= {("tickets", day_of(state[t]), None, None) for t in TICKET_TIMES if state[t]}
        rows |= {("backlog", d, None, None) for d in days_between(state["opened_at"], _ended(state), now)}
        return rows
    changed = {f for f in (*TICKET_TIMES, *TICKET_KEYS) if old[f] != new[f]}
    if _done_ticket(old) != _done_ticket(new):
        changed.add("status")
    if not changed:
        return set()
    rows |= {("tickets", day_of(old[t]), None, None) for t in TICKET_TIMES if t in changed and old[t]}
    # Backlog snapshots: membership moves between the old and new opening and ending; a new slice
    # (or leaving the KPIs as a recovery ticket) moves every snapshot the ticket is in.
    spans = [(old["opened_at"], new["opened_at"]), (_ended(old), _ended(new))]
    if changed & set(TICKET_KEYS):
        spans += [(old["opened_at"], _ended(old)), (new["opened_at"], _ended(new))]
        rows.add(("visits", None, None, obj.id))  # its visits are sliced by its channel and model
    for a, b in spans:
        if a != b or changed & set(TICKET_KEYS):
            rows |= {("backlog", d, None, None) for d in days_between(a, b, now)}
    return rows


def _ended(state: dict[str, Any]) -> datetime | None:
    """When the ticket left the backlog (None: it has not)."""
    ended: datetime | None = state["resolved_at"] or state["closed_at"]
    return ended


def _target(state: dict[str, Any]) -> str:
    return f"asset:{state['asset_id']}" if state["asset_id"] is not None else f"site:{state['site_id']}"


def _visit_rows(obj: WorkOrder, kind: str) -> tuple[set[Row], set[int]]:
    """Rows for a work order that is (or was) a visit; and the tickets whose first engineer a
    change to a never-visited work order may have moved."""
    old, new = _states(obj, (*VISIT_FIELDS, "status"), kind)
    states = [s for s in (old, new) if s is not None]
    ordering = ("engineer_id", "checked_in_at", "ticket_id")
    moved = old is None or new is None or any(old[f] != new[f] for f in ordering)
    candidates = {s["ticket_id"] for s in states} if moved else set()
    if not any(s["checked_in_at"] for s in states):
        return set(), candidates
    if old is not None and new is not None:
        done_flip = (old["status"] == DONE_VISIT) != (new["status"] == DONE_VISIT)
        if not done_flip and all(old[f] == new[f] for f in VISIT_FIELDS):
            return set(), set()
    rows: set[Row] = set()
    # Its ticket's visit count (first-contact resolution) moves when it becomes or stops being a
    # visit, or another ticket's.
    counted = {s["ticket_id"] for s in states if s["checked_in_at"]}
    if old is None or new is None or len(counted) != 1 or not (old["checked_in_at"] and new["checked_in_at"]):
        rows |= {("ticket", None, None, t) for t in counted}
    for s in states:
        if not s["checked_in_at"]:
            continue
        for at in (s["checked_in_at"], s["checked_out_at"]):
            if at is not None:
                rows.add(("visits", day_of(at), _target(s), s["ticket_id"]))
        rows.add(("shifts", day_of(s["checked_in_at"]), None, None))
    return rows, candidates


def first_engineer(work_orders: Iterable[tuple[int, int | None, datetime | None]]) -> int | None:
    """A ticket's engineer as records.load_tickets reads it: of its work orders (id, engineer,
    checked in), visits first in check-in order, then the others by id; the first with one."""
    ordered = sorted(work_orders, key=lambda w: (w[2] is None, _instant(w[2]), w[0]))
    return next((engineer for _, engineer, _ in ordered if engineer is not None), None)


def _instant(at: datetime | None) -> datetime:
    if at is None:
        return datetime.min.replace(tzinfo=UTC)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _engineer_moves(session: Session, tickets: set[int], flushed: list[tuple[WorkOrder, str]]) -> set[Row]:
    """The tickets that have another first engineer after this flush than before it: every figure
    of theirs is sliced by it, the backlog snapshots of every day they were open included."""
    if not tickets:
        return set()
    after: dict[int, dict[int, tuple[int, int | None, datetime | None]]] = {t: {} for t in tickets}
    conn = session.connection()
    for t_id, wo_id, engineer, checked_in in conn.execute(
        select(WorkOrder.ticket_id, WorkOrder.id, WorkOrder.engineer_id, WorkOrder.checked_in_at).where(
            WorkOrder.ticket_id.in_(sorted(tickets))
        )
    ):
        after[t_id][wo_id] = (wo_id, engineer, checked_in)
    before = {t: dict(wos) for t, wos in after.items()}
    for wo, kind in flushed:
        old, new = _states(wo, ("ticket_id", "engineer_id", "checked_in_at"), kind)
        if new is not None and new["ticket_id"] in before:
            before[new["ticket_id"]].pop(wo.id, None)
        if old is not None and old["ticket_id"] in before:
            before[old["ticket_id"]][wo.id] = (wo.id, old["engineer_id"], old["checked_in_at"])
    return {
        (scope, None, None, t)
        for t in tickets
        if first_engineer(before[t].values()) != first_engineer(after[t].values())
        for scope in ("ticket", "open")
    }


def _marks_ticket(obj: object) -> bool:
    """A logged contact (contacts to resolve) or a resumed clock (a reopen)."""
    if isinstance(obj, TicketEvent):
        return obj.kind in records.CONTACT_EVENTS
    return isinstance(obj, SlaEvent) and obj.kind == "resume"


def _collect(session: Session, _ctx: Any) -> None:
    now = datetime.now(UTC)
    rows: set[Row] = set()
    engineer_tickets: set[int] = set()
    flushed_wos: list[tuple[WorkOrder, str]] = []
    for kind, objs in (("new", session.new), ("dirty", session.dirty), ("deleted", session.deleted)):
        for obj in objs:
            if isinstance(obj, Ticket):
                rows |= _ticket_rows(obj, kind, now)
            elif isinstance(obj, WorkOrder):
                flushed_wos.append((obj, kind))
                found, tickets = _visit_rows(obj, kind)
                rows |= found
                engineer_tickets |= tickets
            elif kind == "new" and _marks_ticket(obj):
                rows.add(("ticket", None, None, obj.ticket_id))
    rows |= _engineer_moves(session, engineer_tickets, flushed_wos)
    if rows:
        session.connection().execute(
            insert(KpiDirty),
            [{"scope": s, "day": d, "target": t, "ticket_id": i} for s, d, t, i in sorted(rows, key=str)],
        )


def _keep_old(target: object, value: object, old: object, initiator: object) -> object:
    return value


def _watched() -> list[Any]:
    return [getattr(Ticket, f) for f in (*TICKET_TIMES, *TICKET_KEYS, "status")] + [
        getattr(WorkOrder, f) for f in (*VISIT_FIELDS, "status")
    ]


def install_session_hooks() -> None:
    """Record every ORM flush's KPI-relevant changes. Called once at start-up by each composition
    root (app.hooks); calling it again changes nothing. The watched attributes keep their old
    value even when it was expired (a commit expires every object): setting one loads it first,
    else the history would not say which days a reopen or a moved check-in leaves."""
    for attr in _watched():
        if not event.contains(attr, "set", _keep_old):
            event.listen(attr, "set", _keep_old, active_history=True, retval=True)
    if not event.contains(Session, "after_flush", _collect):
        event.listen(Session, "after_flush", _collect)
