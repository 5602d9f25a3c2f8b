"""At risk: a visit whose published plan cannot meet its SLA arrival due time.

The planner calls `mark` when its ETA is past the due time (or no plan of the due day serves
it) and `clear` when a later plan meets it; a visit that reaches the site, is finished or is
cancelled is no longer at risk. The ticket carries the mark while any of its open visits does,
so the ticket page, the APIs and the board show it; each change is one `workorder.at_risk` /
`workorder.at_risk_cleared` webhook to the dispatcher and one entry on both timelines.

A visit kept at a time set by hand that the plan cannot fit there is marked by the plan, not for
its ETA: the published run names it (`KEPT_UNFIT`), and the sweep keeps that mark while the visit
still stands at that stop, rather than judging it by its ETA (which cleared it within a minute),
and puts it back if some path took it off (the current plans of today and later days are read).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.field.workorders.status import OPEN, add_event, summary
from app.models import PlanDay, PlanRun, PlanStop, Region, Ticket, WorkOrder, WorkOrderStatus
from app.platform.events import emit
from app.platform.spans import span_text

# Once on site the arrival is a fact, not a forecast: nothing left to be at risk of.
SETTLED = frozenset(
    {
        WorkOrderStatus.on_site.value,
        WorkOrderStatus.done.value,
        WorkOrderStatus.cancelled.value,
        WorkOrderStatus.needs_follow_up.value,
    }
)


# A visit answers for no arrival due time once its ticket's first visit has arrived: the arrival SLA
# is then met or missed for good (a follow-up visit planned days later was flagged "at risk" against
# a due time the ticket page showed as met). The planner's inputs say the same (arrival_settled).
ARRIVED = "the ticket's arrival on site is already recorded"

# The key of a published run's summary naming the visits it kept at a time set by hand though it
# could not fit them there: {work order id (str): the plan's reason}, written by planning.publish.
KEPT_UNFIT = "kept_unfit"


def mark(session: Session, wo: WorkOrder, reason: str, *, at: datetime) -> None:
    """Flag the visit (and its ticket) at risk. Announced once, when it becomes at risk: a
    re-plan that moves the ETA by minutes updates the reason without another webhook."""
    if wo.at_risk_since is not None:
        # The ticket keeps the reason it first became at risk: rewriting it on every re-plan
        # would bump its version under an agent's open edit form. The visit has the current one.
        wo.at_risk_reason = reason
        return
    ticket = session.get(Ticket, wo.ticket_id)
    wo.at_risk_since = at
    wo.at_risk_reason = reason
    add_event(session, wo, "at_risk", actor=None, at=at, data={"reason": reason})
    emit(
        session,
        "workorder.at_risk",
        {**summary(wo), "eta_at": wo.eta_at, "sla_deadline_at": wo.sla_deadline_at, "reason": reason},
    )
    if ticket is not None:
        tickets.add_event(
            session, ticket, "at_risk", actor=None, channel=None, at=at, body=f"{wo.number}: {reason}"
        )
        ticket.at_risk_since = ticket.at_risk_since or at
        ticket.at_risk_reason = f"{wo.number}: {reason}"


def clear(session: Session, wo: WorkOrder, why: str, *, at: datetime) -> None:
    """Take the mark off the visit; the ticket keeps it while another open visit is at risk."""
    if wo.at_risk_since is None:
        return
    wo.at_risk_since = None
    wo.at_risk_reason = None
    add_event(session, wo, "at_risk_cleared", actor=None, at=at, data={"reason": why})
    emit(session, "workorder.at_risk_cleared", {**summary(wo), "eta_at": wo.eta_at, "reason": why})
    ticket = session.get(Ticket, wo.ticket_id)
    if ticket is None or ticket.at_risk_since is None:
        return
    others = session.scalars(
        select(WorkOrder).where(
            WorkOrder.ticket_id == ticket.id,
            WorkOrder.id != wo.id,
            WorkOrder.at_risk_since.is_not(None),
            WorkOrder.status.in_(OPEN - SETTLED),
        )
    ).first()
    if others is not None:
        ticket.at_risk_reason = f"{others.number}: {others.at_risk_reason}"
        return
    ticket.at_risk_since = None
    ticket.at_risk_reason = None
    tickets.add_event(
        session, ticket, "at_risk_cleared", actor=None, channel=None, at=at, body=f"{wo.number}: {why}"
    )


def on_status(session: Session, wo: WorkOrder, *, at: datetime) -> None:
    """Called on every status change: arriving, finishing or cancelling settles the risk."""
    if wo.status in SETTLED and wo.at_risk_since is not None:
        clear(session, wo, f"visit {wo.status.replace('_', ' ')}", at=at)


def eta_reason(eta: datetime, due: datetime, tz: str) -> str:
    late = int((eta - due).total_seconds() // 60)
    return (
        f"planned arrival {local(eta, tz)} is {span_text(late)} after the arrival due time {local(due, tz)}"
    )


def kept_reason(start: datetime, why: str, tz: str) -> str:
    """The plan's mark of a visit it keeps at a time set by hand but cannot fit there."""
    return f"kept at {local(start, tz)} as scheduled by hand, but the plan cannot fit it there ({why})"


def kept_by_plan(session: Session, work_order_ids: list[int]) -> dict[int, str]:
    """{work order id: the plan's reason} of the visits the published plan of their day kept at a
    time set by hand but could not fit, while they still stand at that stop (same engineer and
    start: a dispatcher who moved one since made the plan's words untrue until its re-plan)."""
    if not work_order_ids:
        return {}
    rows = session.execute(
        select(PlanStop.work_order_id, PlanRun.summary)
        .join(PlanDay, PlanDay.current_run_id == PlanStop.plan_run_id)
        .join(PlanRun, PlanRun.id == PlanStop.plan_run_id)
        .join(WorkOrder, WorkOrder.id == PlanStop.work_order_id)
        .where(
            PlanStop.work_order_id.in_(work_order_ids),
            PlanStop.kind == "job",
            PlanStop.engineer_id == WorkOrder.engineer_id,
            PlanStop.start_at == WorkOrder.planned_start_at,
        )
    )
    out: dict[int, str] = {}
    for wo_id, said in rows.tuples():
        why = (said or {}).get(KEPT_UNFIT, {}).get(str(wo_id))
        if wo_id is not None and why is not None:
            out[wo_id] = why
    return out


def kept_by_current_plans(session: Session, *, at: datetime, zones: dict[int, str]) -> set[int]:
    """The work orders the current published plans of today and later days (each region's own
    today) name in `KEPT_UNFIT`, marked or not: a path that lost such a mark (a check-in settled
    it, an undo, a direct edit) would otherwise leave the visit unmarked until the next re-plan.
    One query; the names are in the runs' summaries (JSON), read here rather than in SQL."""
    earliest = (at - timedelta(days=1)).date()  # no region's today is before UTC's yesterday
    rows = session.execute(
        select(PlanDay.region_id, PlanDay.day, PlanRun.summary)
        .join(PlanRun, PlanRun.id == PlanDay.current_run_id)
        .where(PlanDay.day >= earliest)
    )
    out: set[int] = set()
    for region_id, day, said in rows.tuples():
        if day < at.astimezone(ZoneInfo(zones.get(region_id, "UTC"))).date():
            continue  # a past day's plan: its visits are that day's leftovers, not its word now
        out.update(int(i) for i in (said or {}).get(KEPT_UNFIT, {}))
    return out


def local(at: datetime, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%a %d %b %H:%M")


def sweep(session: Session, *, at: datetime) -> int:
    """Mark every scheduled or en-route visit whose ETA is past its arrival due time, whatever
    set that ETA (a plan, a dispatcher, the engineer on the way), and clear those whose ETA
    meets it again; and mark again every visit the current plan of today or a later day keeps
    but cannot fit (`KEPT_UNFIT`) while it stands at that stop, marked or not. Runs with the
    late-visit check and at the end of the demo seed; returns how many marks changed."""
    changed = 0
    zones: dict[int, str] = dict(session.execute(select(Region.id, Region.timezone)).tuples().all())
    named = kept_by_current_plans(session, at=at, zones=zones)
    by_eta = (
        WorkOrder.eta_at.is_not(None)
        & WorkOrder.sla_deadline_at.is_not(None)
        & ((WorkOrder.eta_at > WorkOrder.sla_deadline_at) | WorkOrder.at_risk_since.is_not(None))
    )
    rows = session.execute(
        select(WorkOrder, Ticket.arrived_at)
        .join(Ticket, Ticket.id == WorkOrder.ticket_id)
        .where(
            WorkOrder.status.in_((WorkOrderStatus.scheduled.value, WorkOrderStatus.en_route.value)),
            (by_eta | WorkOrder.id.in_(named)) if named else by_eta,
        )
        .order_by(WorkOrder.id)
    )
    found = list(rows.tuples())
    kept = kept_by_plan(session, [wo.id for wo, _ in found])
    for wo, arrived_at in found:
        tz = zones.get(wo.region_id, "UTC")
        if wo.id in kept:
            changed += _keep(session, wo, kept[wo.id], tz, at=at)
        elif wo.eta_at is not None and wo.sla_deadline_at is not None:
            # named by a plan but moved off that stop since: judged by its ETA like any other
            changed += _judge(session, wo, arrived_at, tz, at=at)
    session.flush()
    return changed


def reassess(session: Session, wo: WorkOrder, *, at: datetime) -> None:
    """Judge a visit already at risk at once, as the sweep would, after its ETA was set (a
    dispatcher's schedule): its reason speaks of the new time, not of the one it replaced (until
    the next plan, the route said "3 d 1 h past due" beside a reason naming the old 08:11). A new
    mark stays the sweep's, a minute later, as for any other path."""
    if wo.at_risk_since is None or wo.eta_at is None or wo.sla_deadline_at is None:
        return
    judge_now(session, wo, at=at)


def judge_now(session: Session, wo: WorkOrder, *, at: datetime) -> None:
    """Mark, re-word or clear a scheduled or en-route visit's risk at once, marked or not, as the
    published plan of its day and the sweep say: the plan's "kept at … cannot fit" while it stands
    at that stop, else its ETA against the due time. For a plan put back by an undone check-in
    (`planning.undo`): at once, rather than at the sweep's next minute."""
    if wo.status not in (WorkOrderStatus.scheduled.value, WorkOrderStatus.en_route.value):
        return
    ticket = session.get(Ticket, wo.ticket_id)
    region = session.get(Region, wo.region_id)
    arrived_at = ticket.arrived_at if ticket is not None else None
    tz = region.timezone if region else "UTC"
    kept = kept_by_plan(session, [wo.id])
    if wo.id in kept:
        _keep(session, wo, kept[wo.id], tz, at=at)
    elif wo.eta_at is not None and wo.sla_deadline_at is not None:
        _judge(session, wo, arrived_at, tz, at=at)


def _keep(session: Session, wo: WorkOrder, why: str, tz: str, *, at: datetime) -> int:
    """The plan's mark of a visit it kept but cannot fit, said again as the plan said it: its ETA
    is the hand-set one, so judging that against the due time would clear or re-word a warning
    that still holds. 1 when the mark came back."""
    assert wo.planned_start_at is not None  # the stop `kept_by_plan` matched starts there
    was_marked = wo.at_risk_since is not None
    mark(session, wo, kept_reason(wo.planned_start_at, why, tz), at=at)
    return 0 if was_marked else 1


def _judge(session: Session, wo: WorkOrder, arrived_at: datetime | None, tz: str, *, at: datetime) -> int:
    """Mark, re-word or clear the visit's risk from its ETA now; 1 when the mark came or went."""
    assert wo.eta_at is not None
    due = None if arrived_at is not None else wo.sla_deadline_at
    if due is None:
        if wo.at_risk_since is None:
            return 0
        clear(session, wo, ARRIVED, at=at)
        return 1
    if wo.eta_at > due:
        # Already at risk: the reason follows the ETA (a visit moved from 08:11 to 15:00 said
        # "planned arrival … 08:11" until the next plan), without a second webhook.
        was_marked = wo.at_risk_since is not None
        mark(session, wo, eta_reason(wo.eta_at, due, tz), at=at)
        return 0 if was_marked else 1
    if wo.at_risk_since is None:
        return 0
    clear(session, wo, f"planned arrival {local(wo.eta_at, tz)} meets the due time", at=at)
    return 1
