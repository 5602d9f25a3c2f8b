"""The dispatcher's board (dispatchers, managers, admins): one region's day on a time axis and a
map, the unassigned work, the explanation panel, reassign with a preview of the consequences,
pin/unpin (unpin also ends a time set by hand), "plan the day" with its progress, and live refresh.

Changes are plain form POSTs with the CSRF token (the API refuses cookie-authenticated
changes). The board's JavaScript reads `/board/data` (ETag: polling costs a 304 when nothing
changed) and the API's GET endpoints; dragging a visit onto another row opens the same preview
page the keyboard path ("Move to…" list) opens.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.field.workorders import service as workorders
from app.models import Engineer, PlanRun, PlanRunStatus, Region, User, WorkOrder
from app.planning import accept as plan_accept
from app.planning import assign as plan_assign
from app.planning import board as plan_board
from app.planning import keys as plan_keys
from app.planning import runs as plan_runs
from app.platform.config import get_settings
from app.platform.dates import check_plan_date
from app.platform.db import utcnow
from app.platform.errors import AppError, Conflict, InvalidTransition, NotFound
from app.web.field import _page_headers
from app.web.messages import page_error
from app.web.shared import (
    PageDb,
    PageRoute,
    dispatchers_only,
    invalid,
    optional_id,
    parse_day,
    render,
    require_csrf,
)

router = APIRouter(route_class=PageRoute)
DONE = {
    "reassigned": "Saved: the board shows the change.",
    "pinned": "Saved: the board shows the change.",
    "unpinned": "Unpinned: the next plan or re-plan chooses its engineer and time again.",
    "accepted": "The proposed plan is published.",
    "discarded": "The proposal was discarded; the published plan stays.",
    "stale": "The day had changed since the proposal was computed, so it was planned again; "
    "the new plan publishes when the run below ends.",
    "whatif": "The absence is recorded and the previewed plan is published.",
    "whatif_stale": "The absence is recorded. The day had changed since the preview (a check-in, new "
    "work or another plan), so the preview was not published: the day is planned again and the new "
    "plan publishes when the run below ends.",
    "whatif_emergency": "The emergency visit is opened and the re-plan with it is published.",
    "whatif_emergency_stale": "The emergency visit is opened. The day had changed since the preview, so "
    "the preview was not published: the day is planned again and the new plan publishes when the run "
    "below ends.",
}
CONFLICT = (
    "Someone else changed this visit after you opened the preview (another dispatcher, a re-plan "
    "or the engineer's check-in). Nothing was changed; the board shows the visit as it is now."
)


BoardUser = Annotated[
    User,
    Depends(dispatchers_only("The board is for dispatchers, managers and admins. {account} cannot open it.")),
]


def _region_and_day(
    db: Session, region: str, day: str, field: str = "region", day_field: str = "day"
) -> tuple[Region, date]:
    """The region chosen (the first one when none is) and the day (today in its zone); `field` and
    `day_field`: the parameters that named them, which a refusal names."""
    errors: dict[str, str] = {}
    chosen: Region | None = None
    try:
        region_id = optional_id(region)
    except ValueError:
        region_id, errors[field] = None, "choose a region from the list"
    if region_id is not None:
        chosen = db.get(Region, region_id)
        if chosen is None:
            errors[field] = "choose a region from the list"
    else:
        chosen = db.scalar(select(Region).order_by(Region.code).limit(1))
    if chosen is None and not errors:
        errors[field] = "there is no region yet"
    when = None
    try:
        when = parse_day(day)
    except ValueError as exc:
        errors[day_field] = str(exc)
    if errors:
        raise invalid(errors)
    assert chosen is not None
    return chosen, when or plan_keys.local_day(utcnow(), chosen.timezone)


@router.get("/board")
def board_page(
    request: Request,
    db: PageDb,
    user: BoardUser,
    region: str = "",
    day: str = "",
    run: str = "",
    assign: str = "",
    region_id: str = "",
    told: Annotated[str, Query(alias="date")] = "",
) -> HTMLResponse:
    """`assign`: an unassigned visit whose Assign list comes whole (the way without JavaScript;
    board.js fills a list when it is opened). `region_id` and `date` as `/board/data` takes them
    (they were ignored here: the default region's board of today, with no word)."""
    chosen, when = _named_region_and_day(db, region, day, region_id, told)
    return board_response(request, db, chosen, when, run=run, assign=assign)


def board_response(
    request: Request,
    db: Session,
    chosen: Region,
    when: date,
    *,
    run: str = "",
    assign: str = "",
    whatif: Any = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The board page; `whatif` is a refused what-if (board_whatif.Refused) shown back in its form,
    so the dispatcher corrects what they typed on the board instead of an error page.

    Each unassigned row's Assign list is drawn with its first choice only (the one preselected);
    board.js fills it from the data when the dispatcher focuses or opens it. Without JavaScript a
    link per row opens the board with that row's list whole (`assign`, the visit's id)."""
    data = plan_board.board(db, region_id=chosen.id, day=when)
    proposal = db.scalar(
        select(PlanRun)
        .where(PlanRun.region_id == chosen.id, PlanRun.day == when, PlanRun.status == PlanRunStatus.proposed)
        .order_by(PlanRun.id.desc())
        .limit(1)
    )
    context = {
        "proposal": proposal,
        # Loads the day once more (a few queries): only when there is a proposal to judge.
        "stale": plan_accept.is_stale(db, proposal) if proposal else False,
        "nav": "board",
        "data": data,
        "etag": plan_board.fingerprint(data),
        "regions": list(db.scalars(select(Region).order_by(Region.code))),
        "region": chosen,
        "day": when,
        "run_id": run if run.isdecimal() else "",
        # the Assign lists' texts, {engineer id: text}, and the visit whose list is drawn whole
        "assign_texts": {e["id"]: e["assign_text"] for e in data["engineers"]},
        "assign_whole": int(assign) if assign.isascii() and assign.isdecimal() and len(assign) < 19 else None,
        "flash": DONE.get(request.query_params.get("done", ""), ""),
        "whatif": whatif,
    }
    return render(request, "board/board.html", context, status_code=status_code, headers=_page_headers())


def _day_or_date(day: str, told: str) -> tuple[str, str]:
    """The day asked for and the parameter that named it: `date`, as the API names a day
    (/api/v1/plans?date=, an engineer's route), else `day`, as the page's own address has it. Both
    at once must name the same day: a 422 otherwise, never one of them silently dropped."""
    told = told.strip()
    if not told:
        return day, "day"
    if day.strip():
        errors: dict[str, str] = {}
        days: dict[str, date | None] = {}
        for name, value in (("day", day), ("date", told)):
            try:
                days[name] = parse_day(value)
            except ValueError as exc:
                errors[name] = str(exc)
        if not errors and days["day"] != days["date"]:
            errors["date"] = f"date={told} and day={day.strip()} differ: send one of them"
        if errors:
            raise invalid(errors)
    return told, "date"


def _named_region_and_day(
    db: Session, region: str, day: str, region_id: str, told: str
) -> tuple[Region, date]:
    """The region and day of the board page and its data, by either name: `region`/`day` (the
    page's own address) or `region_id`/`date` (the API's). Both names of one thing must agree."""
    named = region_id.strip()
    if named and region.strip() not in ("", named):
        raise invalid(
            {"region_id": f"region_id={named} and region={region.strip()} differ: send one of them"}
        )
    when_text, day_field = _day_or_date(day, told)
    return _region_and_day(db, named or region, when_text, "region_id" if named else "region", day_field)


@router.get("/board/data", response_model=None)
def board_data(
    request: Request,
    db: PageDb,
    user: BoardUser,
    region: str = "",
    day: str = "",
    region_id: str = "",
    told: Annotated[str, Query(alias="date")] = "",
) -> Response:
    """`region` and `day` as the page's own address has them, or `region_id` and `date` as the API
    names them (both were ignored: a script asking for region_id=2&date=2026-12-09 silently got
    the first region's board of today)."""
    chosen, when = _named_region_and_day(db, region, day, region_id, told)
    # encoded once: the ETag is the hash of the body sent
    body = plan_board.encode(plan_board.board(db, region_id=chosen.id, day=when))
    tag = f'"{plan_board.fingerprint_of(body)}"'
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == tag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _engineer_choice(db: Session, engineer_id: str) -> Engineer:
    try:
        chosen = optional_id(engineer_id)
    except ValueError:
        chosen = None
    engineer = db.get(Engineer, chosen) if chosen is not None else None
    if engineer is None:
        raise invalid({"engineer_id": "choose an engineer from the list"})
    return engineer


def _back(work_order: WorkOrder, day: date) -> str:
    return f"/board?region={work_order.region_id}&day={day.isoformat()}"


def _visit_board(db: Session, work_order: WorkOrder, day: str) -> str:
    """The board a move form was sent from: the visit's region on the day the form names (its
    planned day when that day is missing or malformed: the refusal says so)."""
    try:
        when = parse_day(day)
    except ValueError:
        when = None
    return _back(
        work_order,
        when or plan_assign.plan_day_of(db, work_order, db.get_one(Region, work_order.region_id).timezone),
    )


def _refused(request: Request, db: Session, exc: AppError, board: str) -> HTMLResponse:
    """A refused board action (a stale move, a proposal already decided, an engineer of another
    region) leads back to the board it came from, same region and day, not only to the start page."""
    db.rollback()
    if isinstance(exc, InvalidTransition):
        title = "Already decided"  # not the HTTP-ish "Illegal status transition"
    elif isinstance(exc, Conflict):
        title = "Changed by someone else"
    else:
        title = "Check your input" if exc.status_code == 422 else exc.title
    context = {"title": title, "message": page_error(exc), "back": board, "back_text": "Back to the board"}
    return render(request, "error.html", context, status_code=exc.status_code)


@router.get("/board/visits/{work_order_id}/reassign")
def reassign_preview(
    work_order_id: int, request: Request, db: PageDb, user: BoardUser, engineer_id: str = "", day: str = ""
) -> HTMLResponse:
    """The consequences of moving the visit (the assign dry run); nothing changes here."""
    work_order = workorders.get_work_order(db, work_order_id)
    engineer = _engineer_choice(db, engineer_id)
    tz = db.get_one(Region, work_order.region_id).timezone
    try:
        when = parse_day(day) or plan_assign.plan_day_of(db, work_order, tz)
    except ValueError as exc:
        raise invalid({"day": str(exc)}) from None
    context: dict[str, Any] = {
        "nav": "board",
        "wo": work_order,
        "engineer": engineer,
        "day": when,
        "tz": tz,
        "back": _back(work_order, when),
        "version": work_order.version,
    }
    if (
        work_order.engineer_id == engineer.id
        and work_order.status in plan_board.LIVE
        and plan_assign.plan_day_of(db, work_order, tz) == when
    ):
        # A "move" to the engineer it is with re-planned her day as if it were one (the list
        # offered her; the board's script now leaves her out, a typed URL still gets here).
        context["error"] = (
            f"{work_order.number} is already with {engineer.name} on that day: choose another "
            "engineer (to keep it with them in later plans, pin it on the board)."
        )
        return render(request, "board/reassign.html", context, status_code=422)
    try:
        context["result"] = plan_assign.assign(
            db, work_order=work_order, engineer_id=engineer.id, day=when, dry_run=True, actor=user
        )
    except AppError as exc:
        db.rollback()
        context["error"] = page_error(exc)
        return render(request, "board/reassign.html", context, status_code=exc.status_code)
    db.rollback()  # a dry run writes nothing, whatever the planner touched on the way
    giver = context["result"].from_engineer_id
    context["from_engineer"] = db.get(Engineer, giver) if giver is not None else None
    return render(request, "board/reassign.html", context)


@router.post("/board/visits/{work_order_id}/reassign", response_model=None)
def reassign(
    work_order_id: int,
    request: Request,
    db: PageDb,
    user: BoardUser,
    engineer_id: Annotated[str, Form()] = "",
    day: Annotated[str, Form()] = "",
    version: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(request, csrf)
    work_order = workorders.get_work_order(db, work_order_id)
    try:
        when = _move(db, work_order, user, engineer_id=engineer_id, day=day, version=version)
    except AppError as exc:
        return _refused(request, db, exc, _visit_board(db, work_order, day))
    db.commit()
    return RedirectResponse(_back(work_order, when) + "&done=reassigned", status_code=303)


def _move(
    db: Session, work_order: WorkOrder, user: User, *, engineer_id: str, day: str, version: str
) -> date:
    """The confirmed move, checked as the form sent it; the day it was put on."""
    engineer = _engineer_choice(db, engineer_id)
    try:
        when = parse_day(day)
    except ValueError as exc:
        raise invalid({"day": str(exc)}) from None
    if when is None:
        raise invalid({"day": "choose the day of the visit"})
    if not version.isdecimal() or int(version) != work_order.version:
        raise Conflict(CONFLICT)
    try:
        plan_assign.assign(
            db, work_order=work_order, engineer_id=engineer.id, day=when, dry_run=False, actor=user
        )
        db.flush()
    except StaleDataError:
        db.rollback()
        raise Conflict(CONFLICT) from None
    return when


def _pin_conflict(request: Request, number: str, done: str, board: str) -> HTMLResponse:
    """A Pin or Unpin form drawn before the visit changed: it said "after you opened the preview"
    (there is none for a pin) and offered only the start page. It says what happened and leads
    back to the board it was sent from (same region and day), which shows the visit as it is."""
    message = (
        f"{number} changed after the board was drawn (another dispatcher, a re-plan or the "
        f"engineer's check-in), so it was not {done}. Nothing was changed: open the board again "
        "to see the visit as it is now, then pin or unpin it there."
    )
    context = {
        "title": "Changed by someone else",
        "message": message,
        "back": board,
        "back_text": "Back to the board",
    }
    return render(request, "error.html", context, status_code=409)


@router.post("/board/visits/{work_order_id}/pin", response_model=None)
def pin(
    work_order_id: int,
    request: Request,
    db: PageDb,
    user: BoardUser,
    pinned: Annotated[str, Form()] = "1",
    version: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "/board",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    require_csrf(request, csrf)
    work_order = workorders.get_work_order(db, work_order_id)
    target = back if back.startswith("/board") else "/board"  # the board it was drawn on
    done, number = ("pinned" if pinned == "1" else "unpinned"), work_order.number or f"Visit {work_order_id}"
    if not version.isdecimal() or int(version) != work_order.version:
        return _pin_conflict(request, number, done, target)
    plan_board.set_pin(db, work_order=work_order, pinned=pinned == "1", actor=user)
    try:
        db.flush()
    except StaleDataError:  # changed between the version check and this write
        db.rollback()
        return _pin_conflict(request, number, done, target)
    db.commit()
    return RedirectResponse(target + ("&" if "?" in target else "?") + f"done={done}", status_code=303)


@router.post("/board/plan", response_model=None)
def plan_day(
    request: Request,
    db: PageDb,
    user: BoardUser,
    region: Annotated[str, Form()] = "",
    day: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Start a plan run; the board follows its progress rows and refreshes when it publishes."""
    require_csrf(request, csrf)
    chosen, when = _region_and_day(db, region, day)
    try:
        check_plan_date(when)  # as the API's PlanDate: a plan for 1900 is a typing mistake
    except ValueError as exc:
        raise invalid({"day": str(exc)}) from None
    run = plan_runs.create_run(
        db,
        region_id=chosen.id,
        day=when,
        trigger="board",
        requested_by=user,
        propose=not get_settings().plan_publish_at_once,
    )
    db.commit()
    return RedirectResponse(f"/board?region={chosen.id}&day={when.isoformat()}&run={run.id}", status_code=303)


def _proposal(db: Session, run_id: int) -> PlanRun:
    run = db.get(PlanRun, run_id)
    if run is None:
        raise NotFound(f"Plan run {run_id} does not exist.")
    return run


@router.post("/board/plans/{run_id}/accept", response_model=None)
def accept_proposal(
    run_id: int, request: Request, db: PageDb, user: BoardUser, csrf: Annotated[str, Form()] = ""
) -> Response:
    require_csrf(request, csrf)
    run = _proposal(db, run_id)
    back = f"/board?region={run.region_id}&day={run.day.isoformat()}"
    try:
        done = plan_accept.accept(db, run, actor=user)
    except AppError as exc:  # discarded or decided meanwhile: say so, with the way back
        return _refused(request, db, exc, back)
    db.commit()
    if done.replan is not None:
        return RedirectResponse(f"{back}&run={done.replan.id}&done=stale", status_code=303)
    return RedirectResponse(f"{back}&done=accepted", status_code=303)


@router.post("/board/plans/{run_id}/discard", response_model=None)
def discard_proposal(
    run_id: int, request: Request, db: PageDb, user: BoardUser, csrf: Annotated[str, Form()] = ""
) -> Response:
    require_csrf(request, csrf)
    run = _proposal(db, run_id)
    back = f"/board?region={run.region_id}&day={run.day.isoformat()}"
    try:
        plan_accept.discard(db, run, actor=user)
    except AppError as exc:
        return _refused(request, db, exc, back)
    db.commit()
    return RedirectResponse(f"{back}&done=discarded", status_code=303)
