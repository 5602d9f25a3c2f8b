"""A dispatcher accepts or discards a proposed plan run (app/planning/proposals.py).

Accepting re-loads the day as of the moment the proposal was computed. The same input
fingerprint means the stored plan is still the engine's answer: it is published through the
guarded publish (version check, superseded check, reservations, notifications). A different
fingerprint means the day changed meanwhile (new work, an absence, a check-in, a pin): the
proposal is stale, it is marked superseded and the day is planned again, publishing at once —
the dispatcher has already said yes to planning it.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.models import PlanRun, PlanRunStatus, User
from app.planning import proposals
from app.planning import publish as plan_publish
from app.planning import runs as plan_runs
from app.planning import service as planning
from app.platform.db import utcnow
from app.platform.errors import InvalidTransition

R = PlanRunStatus


@dataclass(frozen=True)
class Accepted:
    run: PlanRun  # the proposal, now published (or superseded when stale)
    replan: PlanRun | None = None  # the fresh run planning the changed day (stale proposals)

    @property
    def stale(self) -> bool:
        return self.replan is not None


def _proposed(session: Session, run: PlanRun) -> None:
    if run.status != R.proposed:
        raise InvalidTransition(_not_proposed(session, run), current=run.status)


def _not_proposed(session: Session, run: PlanRun) -> str:
    """Why a proposal can no longer be accepted or discarded, in a dispatcher's words (it was
    "Plan run 12 is discarded; only a proposed run …", under the title "Illegal status transition")."""
    tz = ZoneInfo(planning.get_region(session, run.region_id).timezone)
    at = f" at {run.finished_at.astimezone(tz):%H:%M on %a %d %b}" if run.finished_at else ""
    if run.status == R.discarded:
        who = run.summary.get("discarded_by")
        return f"This proposal was discarded{f' by {who}' if who else ''}{at}; nothing was published."
    if run.status == R.superseded:
        return (
            f"This proposal was set aside{at}: the day had changed since it was computed, so it was "
            "planned again. Nothing of it was published."
        )
    if run.status == R.published:
        return f"This proposal was already accepted and published{at}."
    return f"This plan is {run.status}, not a proposal waiting for a decision; nothing was changed."


def _load(session: Session, run: PlanRun) -> planning.Loaded:
    return planning.load(
        session,
        region_id=run.region_id,
        day=run.day,
        as_of=run.as_of,
        settings=plan_runs.solver_settings(run),
        solve_params={
            "kind": run.kind,
            "time_limit_s": run.time_limit_s,
            "solution_limit": run.solution_limit,
            "seed": run.seed,
        },
        hold_hand_times=run.kind == "replan",  # as the run loaded it (runs.execute)
    )


def is_stale(session: Session, run: PlanRun) -> bool:
    """The day's input has changed since the proposal was computed."""
    return _load(session, run).fingerprint != run.fingerprint


def accept(session: Session, run: PlanRun, *, actor: User | None) -> Accepted:
    _proposed(session, run)
    loaded = _load(session, run)
    if loaded.fingerprint != run.fingerprint:
        run.status, run.finished_at = R.superseded.value, utcnow()
        replan = plan_runs.create_run(
            session,
            region_id=run.region_id,
            day=run.day,
            kind=run.kind,
            trigger="stale_proposal",
            trigger_ref=str(run.id),
            requested_by=actor,
            time_limit_s=run.time_limit_s,
            solution_limit=run.solution_limit,
            seed=run.seed,
        )
        run.summary = {**run.summary, "stale": True, "replanned_as": replan.id}
        return Accepted(run, replan)
    plan = proposals.from_dict(run.proposal, loaded.problem) if run.proposal else None
    run.status = R.running.value  # the publish's "once" guard publishes only a running run
    status = plan_publish.publish(session, run_id=run.id, loaded=loaded, plan=plan)
    if status == R.conflict:
        retry = plan_runs.retry_after_conflict(session, run)
        if retry is not None:
            retry.propose = False
        return Accepted(run, retry)
    return Accepted(run)


def discard(session: Session, run: PlanRun, *, actor: User | None = None) -> None:
    _proposed(session, run)
    run.status, run.finished_at = R.discarded.value, utcnow()
    if actor is not None:  # named when someone then tries to accept it
        run.summary = {**run.summary, "discarded_by": actor.name}
