"""On-site actions of a visit: check-in (and its undo), check-out and the service report.

Check-in and check-out are idempotent (a repeat returns the visit unchanged), so a field app
on a bad connection can simply retry. A check-in tapped on the wrong visit can be undone: by the
engineer for a short while, by dispatch until its day is over (`undo_check_in`). The report books
the parts used in the same transaction (`inventory.record_usage`: guarded decrement, all or
nothing) before anything else is written.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.field.engineers import service as engineers
from app.field.inventory import reservations
from app.field.inventory import stock as inventory
from app.field.inventory.stock import Line
from app.field.workorders.filed import report_refusal
from app.field.workorders.status import (
    UNDONE_TO,
    add_event,
    change_status,
    check,
    hint,
    refuse_finished,
    summary,
)
from app.models import (
    Account,
    Engineer,
    PartUsage,
    Region,
    Role,
    Site,
    User,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderStatus,
)
from app.platform import audit
from app.platform.db import utcnow
from app.platform.errors import Conflict, refuse
from app.platform.events import emit
from app.platform.text import is_blank

REPORTED = (WorkOrderStatus.done.value, WorkOrderStatus.needs_follow_up.value)
# How long the engineer can undo their own check-in. A wrong tap (stops close together in a list
# on a phone) is seen at once: the page shows the wrong customer. Later, the check-in is most
# likely real, and others have acted on it (the desk saw the engineer on site, the day was
# re-planned around it, customers were told new times), so taking it back is dispatch's
# correction, not a tap. Dispatch (and managers, admins) may undo it until the end of the
# check-in's day in the region's time zone (`undo_deadline`): that day's plan can still be
# re-planned around the visit, while a past day's plan and its KPI day are history (a re-plan
# never goes back to them), so a visit put back on a day that is over would sit there unplanned.
UNDO_CHECK_IN_GRACE = timedelta(minutes=15)


def check_in(
    session: Session,
    *,
    work_order: WorkOrder,
    actor: User | None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> WorkOrder:
    """Arrival on site: status on_site, check-in time, ticket arrival hook. Refused (409) while the
    engineer is still on site at another visit: each check-in settles the ticket's arrival SLA and
    moves it to in progress (taken back only by `undo_check_in`, for a short while)."""
    refuse_finished(work_order)
    if work_order.checked_in_at is not None:
        return work_order  # a retry: same result, nothing written
    check(work_order, "on_site", action="check_in")
    _lock_engineer(session, work_order)
    elsewhere = _on_site_elsewhere(session, work_order, actor)
    if elsewhere is not None:
        raise elsewhere
    now = utcnow()
    work_order.checked_in_at = now
    # What an undo returns to (`undo_check_in`): the state, ETA and planned start before arriving
    # (a re-plan the check-in asks for moves the planned start to the check-in).
    add_event(
        session,
        work_order,
        "check_in",
        actor=actor,
        at=now,
        data={
            "from": work_order.status,
            "eta_at": work_order.eta_at,
            "planned_start_at": work_order.planned_start_at,
        },
    )
    change_status(session, work_order, "on_site", actor=actor, at=now, reason="checked in")
    # 0, 0 is a device without a GPS fix (the position API refuses it): the check-in stands, the
    # position is not taken.
    fix = latitude is not None and longitude is not None and (latitude, longitude) != (0, 0)
    if fix and latitude is not None and longitude is not None and work_order.engineer_id is not None:
        engineer = engineers.get_engineer(session, work_order.engineer_id)
        engineers.set_position(session, engineer=engineer, latitude=latitude, longitude=longitude, at=now)
    tickets.on_visit_arrived(session, ticket_id=work_order.ticket_id, at=now, actor=actor)
    return work_order


def by_engineer(actor: User | None) -> bool:
    """The undo is the engineer's own (the grace applies), not dispatch's correction."""
    return actor is not None and actor.role == Role.engineer.value


def undo_deadline(session: Session, work_order: WorkOrder, actor: User | None) -> datetime | None:
    """Until when `actor` may undo the visit's check-in: the engineer within UNDO_CHECK_IN_GRACE,
    dispatch until the end of the check-in's day (the region's clock). None when it cannot be
    undone at all (not on site; for the engineer also once checked out: leaving says they were
    there)."""
    checked_in_at = work_order.checked_in_at
    if work_order.status != WorkOrderStatus.on_site or checked_in_at is None:
        return None
    if by_engineer(actor):
        return None if work_order.checked_out_at is not None else checked_in_at + UNDO_CHECK_IN_GRACE
    return _end_of_day(session, work_order, checked_in_at)


def _end_of_day(session: Session, work_order: WorkOrder, at: datetime) -> datetime:
    region = session.get(Region, work_order.region_id)
    tz = ZoneInfo(region.timezone if region else "UTC")
    day = at.astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _ago(delta: timedelta) -> str:
    """'15 min 1 s', '2 h 5 min': rounded up to the second, so a check-in refused for being past
    the grace never reads as being within it ('this one was 15 minutes ago')."""
    seconds = math.ceil(delta.total_seconds())
    if seconds >= 3600:  # far past the grace (minutes): rounding down cannot contradict it
        hours, rest = divmod(seconds, 3600)
        return f"{hours} h {rest // 60} min"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def undo_refusal(
    session: Session, work_order: WorkOrder, actor: User | None, now: datetime
) -> Conflict | None:
    """Why `actor` may not undo the visit's check-in now (the 409 `undo_check_in` raises), or None
    when they may. Reads only, so a page can say why without trying."""
    try:
        refuse_finished(work_order)  # the report was filed: "This visit is already finished: …"
    except Conflict as exc:
        return exc
    checked_in_at = work_order.checked_in_at
    if work_order.status != WorkOrderStatus.on_site or checked_in_at is None:
        state = work_order.status.replace("_", " ")
        human = f"This visit is not checked in (it is {state}): there is no check-in to undo."
        return Conflict(
            f"{human} Work order {work_order.number} is {work_order.status}.",
            current=work_order.status,
            hint=human,
        )
    engineer = by_engineer(actor)
    if engineer and work_order.checked_out_at is not None:
        human = (
            "You checked out of this visit already, so you were there: the check-in stays. "
            "Ask dispatch to undo it if it is wrong."
        )
        return Conflict(
            f"{human} Work order {work_order.number} was checked out.", current=work_order.status, hint=human
        )
    if session.scalar(select(PartUsage.id).where(PartUsage.work_order_id == work_order.id).limit(1)):
        human = "Parts were booked on this visit, so the check-in stays."
        return Conflict(human, current=work_order.status, hint=human)
    until = undo_deadline(session, work_order, actor)
    if until is None or now <= until:
        return None
    if engineer:
        grace = int(UNDO_CHECK_IN_GRACE.total_seconds() // 60)
        human = (
            f"A check-in can only be undone within {grace} minutes; this one was "
            f"{_ago(now - checked_in_at)} ago. Ask dispatch to undo it."
        )
    else:
        region = session.get(Region, work_order.region_id)
        local = checked_in_at.astimezone(ZoneInfo(region.timezone if region else "UTC"))
        human = (
            f"A check-in can only be undone on its own day; this one was on {local:%a %d %b} "
            f"at {local:%H:%M}, and that day's plan is history."
        )
    return Conflict(
        f"{human} Work order {work_order.number} was checked in at {checked_in_at.isoformat()}.",
        current=work_order.status,
        hint=human,
        undo_until=until.isoformat(),
    )


def undo_check_in(session: Session, *, work_order: WorkOrder, actor: User | None) -> WorkOrder:
    """Take back a check-in tapped on the wrong visit: the visit returns to the state it had before
    (scheduled or en route, with its ETA and planned start), `checked_in_at` (and a check-out) is
    cleared and the ticket hears of it (`on_visit_arrival_withdrawn`: timeline line naming the
    actor, arrival SLA stamp withdrawn). Only while on site with no report and no parts booked;
    the engineer within UNDO_CHECK_IN_GRACE and before checking out, dispatch until the end of the
    check-in's day (`undo_deadline`); else 409 saying why (`undo_refusal`). Not idempotent by
    itself (a repeat finds no check-in: 409 naming the state); Idempotency-Key replays a retried
    request."""
    now = utcnow()
    refused = undo_refusal(session, work_order, actor, now)
    if refused is not None:
        raise refused
    checked_in_at = work_order.checked_in_at
    assert checked_in_at is not None  # undo_refusal: on site, checked in
    back, eta, planned = _before_check_in(session, work_order)
    old_eta, old_start, checked_out_at = (
        work_order.eta_at,
        work_order.planned_start_at,
        work_order.checked_out_at,
    )
    work_order.checked_in_at = None
    work_order.checked_out_at = None  # dispatch's undo of a visit checked out: neither happened
    work_order.eta_at = eta
    if planned is not None:
        work_order.planned_start_at = planned
    add_event(
        session,
        work_order,
        "check_in_undone",
        actor=actor,
        at=now,
        data={"checked_in_at": checked_in_at, "checked_out_at": checked_out_at, "to": back, "eta_at": eta},
    )
    changes: dict[str, list[str | None]] = {"checked_in_at": [checked_in_at.isoformat(), None]}
    for name, old, new in (
        ("checked_out_at", checked_out_at, None),
        ("eta_at", old_eta, eta),
        ("planned_start_at", old_start, work_order.planned_start_at),
    ):
        if old != new:
            changes[name] = [old.isoformat() if old else None, new.isoformat() if new else None]
    audit.record(session, actor, "work_order", work_order.id, "undo_check_in", changes)
    change_status(
        session, work_order, back, actor=actor, at=now, reason="check-in undone", undo_check_in=True
    )
    tickets.on_visit_arrival_withdrawn(
        session,
        ticket_id=work_order.ticket_id,
        work_order_id=work_order.id,
        number=work_order.number or f"work order {work_order.id}",
        checked_in_at=checked_in_at,
        at=now,
        actor=actor,
    )
    return work_order


def _before_check_in(session: Session, work_order: WorkOrder) -> tuple[str, datetime | None, datetime | None]:
    """The state, ETA and planned start the visit had before its check-in, as the check-in recorded
    them. A check-in recorded before that was kept: the status it moved from, the ETA as it is,
    and the planned start as it is (None: left alone)."""
    event = session.scalars(
        select(WorkOrderEvent)
        .where(WorkOrderEvent.work_order_id == work_order.id, WorkOrderEvent.kind == "check_in")
        .order_by(WorkOrderEvent.at.desc(), WorkOrderEvent.id.desc())
        .limit(1)
    ).first()
    data = event.data if event is not None and event.data else {}
    if "from" not in data:
        status_data = session.scalar(
            select(WorkOrderEvent.data)
            .where(WorkOrderEvent.work_order_id == work_order.id, WorkOrderEvent.kind == "status")
            .order_by(WorkOrderEvent.at.desc(), WorkOrderEvent.id.desc())
            .limit(1)
        )
        data = {"from": (status_data or {}).get("from"), "eta_at": work_order.eta_at}
    back = data.get("from")
    eta, planned = (_instant(data.get(k)) for k in ("eta_at", "planned_start_at"))
    return back if back in UNDONE_TO else WorkOrderStatus.scheduled.value, eta, planned


def _instant(value: object) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if isinstance(value, datetime) else None


def check_in_refusal(session: Session, work_order: WorkOrder, actor: User | None) -> Conflict | None:
    """Why `actor` may not check in to the visit now (the 409 `check_in` raises), or None when
    they may (a repeat included: it answers the visit unchanged). Reads only, so a page can say
    why without trying."""
    try:
        refuse_finished(work_order)
        if work_order.checked_in_at is not None:
            return None
        check(work_order, "on_site", action="check_in")
    except Conflict as exc:
        return exc
    return _on_site_elsewhere(session, work_order, actor)


def _lock_engineer(session: Session, work_order: WorkOrder) -> None:
    """Two check-ins of one engineer racing must not both pass: on PostgreSQL the engineer's row
    lock makes the second wait and then see the first one's visit (SQLite writes are serial)."""
    if work_order.engineer_id is not None:
        session.execute(select(Engineer.id).where(Engineer.id == work_order.engineer_id).with_for_update())


def _on_site_elsewhere(session: Session, work_order: WorkOrder, actor: User | None) -> Conflict | None:
    """The 409 naming the visit the engineer is still on site at (checked in, not checked out)."""
    if work_order.engineer_id is None:
        return None
    other = session.execute(
        select(WorkOrder.id, WorkOrder.number, Account.name, Site.name)
        .join(Account, Account.id == WorkOrder.account_id)
        .join(Site, Site.id == WorkOrder.site_id)
        .where(
            WorkOrder.engineer_id == work_order.engineer_id,
            WorkOrder.id != work_order.id,
            WorkOrder.status == WorkOrderStatus.on_site.value,
            WorkOrder.checked_out_at.is_(None),  # checked out: gone, only the report is missing
        )
        .order_by(WorkOrder.checked_in_at)
        .limit(1)
    ).first()
    if other is None:
        return None
    other_id, number, customer, site = other
    place = site if customer in site else f"{customer}, {site}"  # "Acme – Hauptsitz" names both
    engineer = session.get(Engineer, work_order.engineer_id)
    who = (
        "You are"
        if engineer is None or actor is None or engineer.user_id == actor.id
        else f"{engineer.name} is"
    )
    return Conflict(
        f"{who} still checked in at {number} ({place}): check out there (or file its "
        f"report) before checking in at {work_order.number}. Nothing was changed.",
        current=work_order.status,
        on_site_work_order_id=other_id,
        on_site_number=number,
    )


def check_out_refusal(work_order: WorkOrder) -> Conflict | None:
    """Why the visit cannot be checked out of now (the 409 `check_out` raises), or None when it
    can (a repeat included: it answers the visit unchanged). Reads only, so a page can say why
    without trying."""
    try:
        refuse_finished(work_order)
    except Conflict as exc:
        return exc
    if work_order.checked_out_at is not None or work_order.checked_in_at is not None:
        return None
    human = hint(work_order, "check_out")
    return Conflict(
        f"{human + ' ' if human else ''}Work order {work_order.number} is {work_order.status}; "
        "check in before checking out.",
        current=work_order.status,
        hint=human,  # never empty here: not finished, not checked in
    )


def check_out(session: Session, *, work_order: WorkOrder, actor: User | None) -> WorkOrder:
    """Departure from site. The status stays on_site until the report is filed (which also sets
    the check-out time when the engineer did not check out separately)."""
    refused = check_out_refusal(work_order)
    if refused is not None:
        raise refused
    if work_order.checked_out_at is not None:
        return work_order
    now = utcnow()
    work_order.checked_out_at = now
    add_event(session, work_order, "check_out", actor=actor, at=now)
    audit.record(
        session, actor, "work_order", work_order.id, "check_out", {"checked_out_at": [None, now.isoformat()]}
    )
    session.flush()
    emit(session, "workorder.updated", {**summary(work_order), "fields": ["checked_out_at"]})
    return work_order


def _first_visit(session: Session, work_order: WorkOrder) -> bool:
    """True when no other visit for the same ticket reached the site before this one."""
    earlier = session.scalar(
        select(WorkOrder.id).where(
            WorkOrder.ticket_id == work_order.ticket_id,
            WorkOrder.id != work_order.id,
            WorkOrder.checked_in_at.is_not(None),
            WorkOrder.checked_in_at < (work_order.checked_in_at or utcnow()),
        )
    )
    return earlier is None


def report(
    session: Session,
    *,
    work_order: WorkOrder,
    work_done: str,
    parts_used: Sequence[tuple[int, int, int | None]],
    fixed: bool,
    actor: User | None,
) -> WorkOrder:
    """File the service report: parts (default location: the engineer's van) leave stock, the
    visit ends done (fixed) or needs_follow_up, the ticket hears about it. On a stock shortage
    nothing at all is written (409)."""
    finished = report_refusal(session, work_order, actor)  # filed: when and by whom, which one stands
    if finished is not None:
        raise finished
    check(work_order, "done", action="report")  # only on_site may report: 409 names the allowed states
    van = engineers.van_location(session, work_order.engineer_id) if work_order.engineer_id else None
    lines: list[Line] = []
    errors: list[dict[str, str]] = []
    if is_blank(work_done):  # "\u200b\u200b" is no report (every writer: the page, the API)
        errors.append({"field": "work_done", "message": "describe the work done"})
    for i, (part_id, qty, location_id) in enumerate(parts_used):
        field = f"parts_used.{i}"
        if location_id is None and van is None:
            errors.append({"field": f"{field}.location_id", "message": "no default: the engineer has no van"})
            continue
        lines.append(Line(location_id if location_id is not None else van.id, part_id, qty, field))  # type: ignore[union-attr]
    errors += inventory.check_refs(session, lines)
    locations = inventory.locations_by_id(session, {ln.location_id for ln in lines})
    for ln in lines:
        loc = locations.get(ln.location_id)
        if loc is not None and loc.kind != "warehouse" and (van is None or loc.id != van.id):
            errors.append(
                {
                    "field": f"{ln.field}.location_id",
                    "message": "parts come from the assigned engineer's van or a warehouse",
                }
            )
    refuse(errors)
    now = utcnow()
    with session.begin_nested():  # all or nothing, even for a caller that catches the error
        # What planning held for this visit is over now: what the report uses is consumed, the
        # rest released. `reserved` drops before `quantity`, so free stock (quantity - reserved)
        # does not dip below zero for the visit's own parts.
        reservations.consume_for_work_order(session, work_order_id=work_order.id, used=lines, actor=actor)
        inventory.record_usage(session, work_order_id=work_order.id, lines=lines, at=now, actor=actor)
        out_at = work_order.checked_out_at or now
        first_time = fixed and _first_visit(session, work_order)
        changes = audit.apply_changes(
            work_order,
            {"report_work_done": work_done, "fixed_first_time": first_time, "checked_out_at": out_at},
        )
        add_event(
            session,
            work_order,
            "report",
            actor=actor,
            at=now,
            data={"fixed": fixed, "parts_used": [[ln.part_id, ln.quantity, ln.location_id] for ln in lines]},
        )
        audit.record(session, actor, "work_order", work_order.id, "report", changes)
        change_status(
            session,
            work_order,
            "done" if fixed else "needs_follow_up",
            actor=actor,
            at=now,
            reason="service report",
        )
        emit(
            session,
            "workorder.completed",
            {**summary(work_order), "fixed": fixed, "fixed_first_time": first_time},
        )
        tickets.on_visit_finished(
            session,
            ticket_id=work_order.ticket_id,
            at=out_at,
            fixed=fixed,
            actor=actor,
            work_order_id=work_order.id,
        )
    return work_order
