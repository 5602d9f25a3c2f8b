"""Work orders (field visits): create from a ticket, edit, list, schedule and change status.

On-site actions (check-in, check-out, the service report) live in `app.field.workorders.visits`;
the transition table in `app.field.workorders.status`. Functions flush and never commit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified, instance_state

from app.desk.tickets import service as tickets
from app.field.engineers import service as engineers
from app.field.inventory import reservations
from app.field.workorders import risk
from app.field.workorders.queries import (  # re-exported: callers load visits through this module too
    get_work_order,
    list_work_orders,
    parts_of,
    usage_of,
    visible_work_order,
    windows_of,
)
from app.field.workorders.status import TERMINAL, add_event, change_status, check, refuse_finished, summary
from app.field.workorders.visits import check_in
from app.models import (
    Account,
    Asset,
    Engineer,
    Part,
    ProductModel,
    Region,
    Site,
    Ticket,
    TicketStatus,
    User,
    WorkOrder,
    WorkOrderEvent,
    WorkOrderPart,
    WorkOrderStatus,
    WorkOrderWindow,
)
from app.platform import audit
from app.platform.config import get_settings
from app.platform.db import utcnow
from app.platform.errors import Conflict, refuse
from app.platform.events import emit

Window = tuple[datetime, datetime]
__all__ = [
    "assignment_problems",
    "create_work_order",
    "get_work_order",
    "list_work_orders",
    "parts_of",
    "region_problem",
    "schedule",
    "transition",
    "update_work_order",
    "usage_of",
    "visible_work_order",
    "windows_of",
]
UPDATABLE = (
    "required_skills",
    "duration_min",
    "appointment_start_at",
    "appointment_end_at",
    "notes",
    "eta_at",
)
SCHEDULABLE_FROM = (WorkOrderStatus.unscheduled, WorkOrderStatus.scheduled, WorkOrderStatus.en_route)
# On a work order's instance state after `schedule` changed it: (the ETA before, the planned start
# before, whether a person set it); the planning session hook pops it, tells the customer
# (app.planning.notify.on_scheduled) and, set by a person, re-plans the days whose published plans
# hold the visit elsewhere (app.planning.triggers).
SCHEDULED_BY_HAND = "fieldline_scheduled_by_hand"


# --- validation ----------------------------------------------------------------------------------


def _check_parts(session: Session, parts: Sequence[tuple[int, int]]) -> list[dict[str, str]]:
    known = set(session.scalars(select(Part.id).where(Part.id.in_({p for p, _ in parts}))))
    errors, seen = [], set()
    for i, (part_id, qty) in enumerate(parts):
        if part_id not in known:
            errors.append(
                {"field": f"required_parts.{i}.part_id", "message": f"part {part_id} does not exist"}
            )
        if part_id in seen:
            errors.append({"field": f"required_parts.{i}.part_id", "message": "part listed twice"})
        if qty < 1:
            errors.append({"field": f"required_parts.{i}.quantity", "message": "must be at least 1"})
        seen.add(part_id)
    return errors


def _check_times(
    windows: Sequence[Window],
    appointment: tuple[datetime | None, datetime | None],
    *,
    now: datetime | None = None,
) -> list[dict[str, str]]:
    """Field errors of windows and the appointment; with `now`, an appointment that is over
    already (a typo such as 2020 for 2026) is refused too."""
    errors: list[dict[str, str]] = []
    for i, (starts, ends) in enumerate(windows):
        if ends <= starts:
            errors.append({"field": f"windows.{i}.ends_at", "message": "must be after starts_at"})
    a_start, a_end = appointment
    if (a_start is None) != (a_end is None):
        errors.append(
            {
                "field": "appointment_end_at",
                "message": "give both appointment_start_at and appointment_end_at",
            }
        )
    elif a_start is not None and a_end is not None and a_end <= a_start:
        errors.append({"field": "appointment_end_at", "message": "must be after appointment_start_at"})
    elif a_start is not None and a_end is not None and now is not None and a_end <= now:
        errors.append(
            {
                "field": "appointment_start_at",
                "message": f"the appointment {_fmt(a_start)}–{_fmt(a_end)} is in the past; "
                f"choose a time after {_fmt(now)}",
            }
        )
    return errors


def _fmt(at: datetime) -> str:
    return at.astimezone(ZoneInfo(get_settings().time_zone)).strftime("%Y-%m-%d %H:%M")


def region_problem(session: Session, *, engineer: Engineer, work_order: WorkOrder) -> dict[str, str] | None:
    """Why `engineer` cannot take a visit of another region (None when it is theirs). An engineer
    works in one region and every plan is a region's (its engineers, its visits): a visit put on
    another region's engineer is planned again by its own region, which has not got them, and
    its next re-plan gave it back to one of its own engineers, the hand-set time lost."""
    if engineer.region_id == work_order.region_id:
        return None
    theirs, visit = session.get(Region, engineer.region_id), session.get(Region, work_order.region_id)
    return {
        "field": "engineer_id",
        "message": f"{engineer.name} works in region {_region_name(theirs, engineer.region_id)}; "
        f"the visit is in region {_region_name(visit, work_order.region_id)}: "
        "plans are made per region, so choose an engineer of the visit's region",
    }


def _region_name(region: Region | None, region_id: int) -> str:
    return f"{region.name} ({region.code})" if region else str(region_id)


def assignment_problems(
    session: Session,
    *,
    engineer: Engineer,
    planned_start: datetime,
    skills: Sequence[str],
    windows: Sequence[Window],
    check_shift: bool = True,
) -> list[dict[str, str]]:
    """Why `engineer` cannot do this visit starting at `planned_start` (empty when they can)."""
    errors = []
    if not engineer.active:
        errors.append({"field": "engineer_id", "message": f"{engineer.name} is inactive"})
    missing = sorted(set(skills) - set(engineer.skills or []))
    if missing:
        has = ", ".join(engineer.skills or []) or "none"
        errors.append(
            {
                "field": "engineer_id",
                "message": f"{engineer.name} lacks skill(s) {', '.join(missing)} "
                f"(work order needs {', '.join(skills)}; engineer has {has})",
            }
        )
    if check_shift and (why := engineers.shift_problem(session, engineer, planned_start)):
        errors.append({"field": "planned_start", "message": why})
    if windows and not any(s <= planned_start < e for s, e in windows):
        spans = ", ".join(f"{_fmt(s)}–{_fmt(e)}" for s, e in windows)
        errors.append(
            {
                "field": "planned_start",
                "message": f"{_fmt(planned_start)} is outside the customer's time windows ({spans})",
            }
        )
    return errors


# --- create, update, list ----------------------------------------------------------------------


def create_work_order(
    session: Session,
    *,
    ticket_id: int,
    actor: User | None,
    required_skills: Sequence[str] | None = None,
    duration_min: int = 60,
    required_parts: Sequence[tuple[int, int]] = (),
    windows: Sequence[Window] = (),
    appointment_start_at: datetime | None = None,
    appointment_end_at: datetime | None = None,
    notes: str = "",
) -> WorkOrder:
    """A visit for a ticket: account, site, asset and priority come from the ticket, the site from
    the asset, the region from the site; skill from the product model; SLA deadline from the
    ticket's arrival due time."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        refuse([{"field": "ticket_id", "message": f"ticket {ticket_id} does not exist"}])
    assert ticket is not None
    if ticket.status in (TicketStatus.resolved, TicketStatus.closed):
        raise Conflict(f"Ticket {ticket.number} is {ticket.status}; reopen it before planning a visit.")
    asset = session.get(Asset, ticket.asset_id) if ticket.asset_id is not None else None
    site = (
        session.get(Site, asset.site_id if asset else ticket.site_id) if (asset or ticket.site_id) else None
    )
    errors = []
    region_id = None
    if site is None:
        errors.append(
            {"field": "ticket_id", "message": f"ticket {ticket.number} has no asset or site to visit"}
        )
    else:
        account = session.get(Account, ticket.account_id)
        region_id = site.region_id or (account.region_id if account else None)
        if region_id is None:
            errors.append({"field": "ticket_id", "message": f"site {site.name} has no region; set one first"})
    errors += _check_parts(session, required_parts)
    errors += _check_times(windows, (appointment_start_at, appointment_end_at), now=utcnow())
    if required_skills is not None:
        required_skills, unknown = _check_skills(session, required_skills)
        errors += unknown
    refuse(errors)
    assert site is not None
    if required_skills is None:
        model = session.get(ProductModel, asset.product_model_id) if asset else None
        required_skills = [model.skill] if model and model.skill else []
    work_order = WorkOrder(
        ticket_id=ticket.id,
        account_id=ticket.account_id,
        site_id=site.id,
        asset_id=asset.id if asset else None,
        region_id=region_id,
        priority=ticket.priority,
        status=WorkOrderStatus.unscheduled.value,
        required_skills=list(dict.fromkeys(required_skills)),
        duration_min=duration_min,
        appointment_start_at=appointment_start_at,
        appointment_end_at=appointment_end_at,
        sla_deadline_at=ticket.arrival_due_at,
        notes=notes,
    )
    session.add(work_order)
    session.flush()
    work_order.number = f"WO-{work_order.id:07d}"
    _replace_children(session, work_order.id, windows=windows, parts=required_parts)
    now = utcnow()
    # The ticket has a visit now: its arrival target applies, in the queue's next due time too.
    ticket.first_visit_at = min(now, ticket.first_visit_at or now)
    add_event(session, work_order, "created", actor=actor, at=now, data={"ticket_id": ticket.id})
    audit.record(
        session,
        actor,
        "work_order",
        work_order.id,
        "create",
        {"number": [None, work_order.number], "ticket_id": [None, ticket.id]},
    )
    session.flush()
    emit(session, "workorder.created", summary(work_order))
    if appointment_start_at is not None:  # a time agreed with the customer by a person
        tickets.on_appointment_confirmed(
            session,
            ticket_id=ticket.id,
            at=now,
            actor=actor,
            starts_at=appointment_start_at,
            number=work_order.number,
        )
    return work_order


def _check_skills(session: Session, skills: Sequence[str]) -> tuple[list[str], list[dict[str, str]]]:
    """The skills as planning spells them ("elec" → "ELEC"), and an error naming the unknown ones:
    a skill no product model needs and no engineer has makes a visit nobody can ever take."""
    if not skills:
        return [], []
    spelled, unknown = engineers.check_skills(session, skills)
    return list(dict.fromkeys(spelled)), [{**e, "field": "required_skills"} for e in unknown]


def _replace_children(
    session: Session,
    work_order_id: int,
    *,
    windows: Sequence[Window] | None,
    parts: Sequence[tuple[int, int]] | None,
) -> None:
    if windows is not None:
        session.execute(delete(WorkOrderWindow).where(WorkOrderWindow.work_order_id == work_order_id))
        session.add_all(
            WorkOrderWindow(work_order_id=work_order_id, starts_at=s, ends_at=e) for s, e in windows
        )
    if parts is not None:
        session.execute(delete(WorkOrderPart).where(WorkOrderPart.work_order_id == work_order_id))
        session.add_all(WorkOrderPart(work_order_id=work_order_id, part_id=p, quantity=q) for p, q in parts)
    session.flush()


def _windows_plain(windows: Sequence[Window]) -> list[list[str]]:
    return [[s.isoformat(), e.isoformat()] for s, e in windows]


def update_work_order(
    session: Session,
    *,
    work_order: WorkOrder,
    values: Mapping[str, Any],
    windows: Sequence[Window] | None,
    parts: Sequence[tuple[int, int]] | None,
    actor: User | None,
) -> WorkOrder:
    """Edit planning data; an assigned visit must stay valid for its engineer (skills, windows)."""
    if work_order.status in TERMINAL:
        raise Conflict(f"Work order {work_order.number} is {work_order.status}; it can no longer be changed.")
    old_windows = [(w.starts_at, w.ends_at) for w in windows_of(session, [work_order.id])[work_order.id]]
    old_parts = [(p.part_id, p.quantity) for p in parts_of(session, [work_order.id])[work_order.id]]
    new_windows = list(windows) if windows is not None else old_windows
    appointment = (
        values.get("appointment_start_at", work_order.appointment_start_at),
        values.get("appointment_end_at", work_order.appointment_end_at),
    )
    new_appointment = appointment != (work_order.appointment_start_at, work_order.appointment_end_at)
    errors = _check_times(new_windows, appointment, now=utcnow() if new_appointment else None) + (
        _check_parts(session, parts) if parts is not None else []
    )
    skills = list(dict.fromkeys(values.get("required_skills", work_order.required_skills)))
    if "required_skills" in values:
        # only the skills added are checked: one kept from before that nobody has any more (the
        # engineer left) is the dispatcher's to replace, not a reason to refuse the other edits
        kept = set(work_order.required_skills or [])
        added = [s for s in skills if s not in kept]
        spelled, unknown = _check_skills(session, added)
        known = {k.casefold(): k for k in spelled}
        skills = list(dict.fromkeys(s if s in kept else known.get(s.casefold(), s) for s in skills))
        errors += unknown
    if not errors and work_order.engineer_id is not None and work_order.planned_start_at is not None:
        engineer = engineers.get_engineer(session, work_order.engineer_id)
        errors += [
            {**e, "message": e["message"] + "; reschedule or unassign first"}
            for e in assignment_problems(
                session,
                engineer=engineer,
                planned_start=work_order.planned_start_at,
                skills=skills,
                windows=new_windows,
                check_shift=False,
            )
        ]
    refuse(errors)
    # Child rows first: their flush must not carry the row's own changes (one edit, one version).
    changes: dict[str, list[Any]] = {}
    if windows is not None and sorted(new_windows) != sorted(old_windows):
        changes["windows"] = [_windows_plain(old_windows), _windows_plain(new_windows)]
        _replace_children(session, work_order.id, windows=new_windows, parts=None)
    if parts is not None and sorted(parts) != sorted(old_parts):
        changes["required_parts"] = [[list(p) for p in old_parts], [list(p) for p in parts]]
        _replace_children(session, work_order.id, windows=None, parts=parts)
    plain = {k: v for k, v in values.items() if k in UPDATABLE}
    if "required_skills" in plain:
        plain["required_skills"] = skills
    changes.update(audit.apply_changes(work_order, plain))
    if changes:
        flag_modified(work_order, "notes")  # the version (ETag) covers windows and parts too
        add_event(session, work_order, "updated", actor=actor, at=utcnow(), data={"fields": sorted(changes)})
        audit.record(session, actor, "work_order", work_order.id, "update", changes)
        session.flush()
        emit(session, "workorder.updated", {**summary(work_order), "fields": sorted(changes)})
    if new_appointment and work_order.appointment_start_at is not None:
        tickets.on_appointment_confirmed(
            session,
            ticket_id=work_order.ticket_id,
            at=utcnow(),
            actor=actor,
            starts_at=work_order.appointment_start_at,
            number=work_order.number or "",
        )
    return work_order


# --- scheduling and status ---------------------------------------------------------------------


def schedule(
    session: Session,
    *,
    work_order: WorkOrder,
    engineer_id: int,
    planned_start: datetime,
    eta: datetime | None,
    actor: User | None,
) -> WorkOrder:
    """Assign an engineer and a start (also a reschedule or reassignment before arrival)."""
    if work_order.status not in SCHEDULABLE_FROM:
        check(work_order, WorkOrderStatus.scheduled)  # names the allowed states in the 409
    ticket = session.get(Ticket, work_order.ticket_id)
    if ticket is not None and ticket.status in (TicketStatus.resolved, TicketStatus.closed):
        raise Conflict(f"Ticket {ticket.number} is {ticket.status}; nothing is planned for it.")
    engineer = session.get(Engineer, engineer_id)
    if engineer is None:
        refuse([{"field": "engineer_id", "message": f"engineer {engineer_id} does not exist"}])
    assert engineer is not None
    windows = [(w.starts_at, w.ends_at) for w in windows_of(session, [work_order.id])[work_order.id]]
    other_region = region_problem(session, engineer=engineer, work_order=work_order)
    errors = [other_region] if other_region else []
    errors += assignment_problems(
        session,
        engineer=engineer,
        planned_start=planned_start,
        skills=work_order.required_skills or [],
        windows=windows,
    )
    refuse(errors)
    now = utcnow()
    told_eta, was_at = work_order.eta_at, work_order.planned_start_at
    changes = audit.apply_changes(
        work_order,
        {"engineer_id": engineer.id, "planned_start_at": planned_start, "eta_at": eta or planned_start},
    )
    if not changes and work_order.status == WorkOrderStatus.scheduled:
        return work_order  # the same assignment again (a retry): nothing to record
    # The customer hears of it as of a plan's move (app.planning.triggers → notify.on_scheduled);
    # a mark, not a changed eta_at, because a publish changes eta_at too and tells on its own.
    instance_state(work_order).info[SCHEDULED_BY_HAND] = (told_eta, was_at, actor is not None)
    add_event(
        session,
        work_order,
        "scheduled",
        actor=actor,
        at=now,
        data={"engineer_id": engineer.id, "planned_start_at": planned_start},
    )
    audit.record(session, actor, "work_order", work_order.id, "schedule", changes)
    if work_order.status != WorkOrderStatus.scheduled:
        change_status(session, work_order, WorkOrderStatus.scheduled, actor=actor, at=now, reason="scheduled")
    risk.reassess(session, work_order, at=now)  # the reason names the new ETA now, not in a minute
    session.flush()
    emit(session, "workorder.scheduled", summary(work_order))
    tickets.on_visit_scheduled(session, ticket_id=work_order.ticket_id, at=now, actor=actor)
    return work_order


def transition(
    session: Session,
    *,
    work_order: WorkOrder,
    to: str,
    actor: User | None,
    reason: str = "",
    eta: datetime | None = None,
) -> WorkOrder:
    """A plain status move. Moves that need data go through their own action: → scheduled needs an
    engineer and start (`schedule`), → on_site is a check-in, → done/needs_follow_up a report."""
    check(work_order, to)
    if to == WorkOrderStatus.scheduled and (
        work_order.engineer_id is None or work_order.planned_start_at is None
    ):
        refuse([{"field": "to", "message": "assign an engineer and start with POST …/schedule"}])
    if to in (WorkOrderStatus.done, WorkOrderStatus.needs_follow_up):
        refuse([{"field": "to", "message": "file the service report with POST …/report to finish a visit"}])
    if to == WorkOrderStatus.on_site:
        return check_in(session, work_order=work_order, actor=actor)
    now = utcnow()
    if to == WorkOrderStatus.unscheduled:
        changes = audit.apply_changes(
            work_order, {"engineer_id": None, "planned_start_at": None, "eta_at": None}
        )
        if changes:
            audit.record(session, actor, "work_order", work_order.id, "unassign", changes)
    if to == WorkOrderStatus.cancelled:
        reservations.release_for_work_order(session, work_order_id=work_order.id)  # parts go back
    data: dict[str, Any] = {}
    if to == WorkOrderStatus.en_route:
        early = _en_route_other_day(session, work_order, now)
        if early is not None:
            raise early
        data["eta_at"] = work_order.eta_at  # what turning back restores (`_eta_before_en_route`)
        if eta is not None:
            _set_eta(session, work_order, eta, actor)
    if to == WorkOrderStatus.scheduled and work_order.status == WorkOrderStatus.en_route:
        # Turning back (or a mistaken "On my way" taken back): the visit keeps the ETA it had
        # before, not the one given on the way.
        _set_eta(session, work_order, _eta_before_en_route(session, work_order), actor)
    change_status(session, work_order, to, actor=actor, at=now, reason=reason, data=data)
    return work_order


def en_route_refusal(session: Session, work_order: WorkOrder) -> Conflict | None:
    """Why the engineer's "On my way" is refused on the visit now (the 409 its move to en_route
    answers, in the engineer's words), or None when it would go through. Reads only, so a page
    can say why without trying."""
    try:
        check(work_order, WorkOrderStatus.en_route, action="en_route")
    except Conflict as exc:
        return exc
    return _en_route_other_day(session, work_order, utcnow())


def turn_back_refusal(work_order: WorkOrder) -> Conflict | None:
    """Why the engineer's "Not on my way" is refused now (only a visit they are on the way to is
    taken back), or None when it would go through. Reads only."""
    try:
        refuse_finished(work_order)
    except Conflict as exc:
        return exc
    if work_order.status != WorkOrderStatus.en_route:
        return Conflict(
            "You are not on your way to this visit; nothing to take back.", current=work_order.status
        )
    return None


def _set_eta(session: Session, work_order: WorkOrder, eta: datetime | None, actor: User | None) -> None:
    changes = audit.apply_changes(work_order, {"eta_at": eta})
    if changes:
        audit.record(session, actor, "work_order", work_order.id, "eta", changes)


def _eta_before_en_route(session: Session, work_order: WorkOrder) -> datetime | None:
    """The ETA the last move to en_route replaced, as its status event recorded it (none recorded:
    the planned start, what scheduling sets; an older event without it: the ETA as it is)."""
    for data in session.scalars(
        select(WorkOrderEvent.data)
        .where(WorkOrderEvent.work_order_id == work_order.id, WorkOrderEvent.kind == "status")
        .order_by(WorkOrderEvent.at.desc(), WorkOrderEvent.id.desc())
        .limit(20)
    ):
        if (data or {}).get("to") == WorkOrderStatus.en_route and "eta_at" in data:
            value = data["eta_at"]
            return datetime.fromisoformat(value) if isinstance(value, str) else work_order.planned_start_at
    return work_order.eta_at


def _en_route_other_day(session: Session, work_order: WorkOrder, now: datetime) -> Conflict | None:
    """The 409 for "on my way" to a visit planned for a later local day (the engineer's zone): the
    desk, the board and the next day's route then showed a visit under way a day early. Check-in
    stays possible (a visit really done early is re-planned as worked on another day). A visit left
    over from an earlier day may be gone to today: it is overdue, not early."""
    if work_order.planned_start_at is None or work_order.engineer_id is None:
        return None
    engineer = engineers.get_engineer(session, work_order.engineer_id)
    tz = ZoneInfo(engineers.timezone_of(session, engineer))
    planned = work_order.planned_start_at.astimezone(tz).date()
    if planned <= now.astimezone(tz).date():
        return None
    human = (
        f"This visit is planned for {planned:%a %d %b}, not today: tap “On my way” on that day, "
        "or ask dispatch to move the visit to today."
    )
    return Conflict(
        f"{human} Work order {work_order.number} is planned to start "
        f"{work_order.planned_start_at.isoformat()}.",
        current=work_order.status,
        planned_day=planned.isoformat(),
        hint=human,
    )
