"""/api/v1/work-orders: field visits.

Desk roles create and read; dispatcher/manager/admin plan and edit; an engineer sees only the
visits assigned to them (another's id answers 404) and does the on-site actions on those.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from app.field.workorders import queries as workorder_queries
from app.field.workorders import service as workorders
from app.field.workorders import visits as workorder_visits
from app.field.workorders.schedule_warnings import schedule_warnings
from app.field.workorders.schemas import (
    CheckInIn,
    PartQtyRead,
    PartUsageRead,
    ReportIn,
    ScheduleIn,
    ScheduleRead,
    ScheduleWarning,
    TransitionIn,
    WindowRead,
    WorkOrderCreate,
    WorkOrderRead,
    WorkOrderUpdate,
)
from app.field.workorders.status import allowed_next
from app.models import Role, User, WorkOrder, WorkOrderStatus
from app.platform.deps import CurrentUser, DbSession, DeskUser, DispatchUser
from app.platform.errors import Forbidden
from app.platform.http import (
    IDEMPOTENCY_KEY,
    IF_MATCH,
    OPTIONAL_IF_MATCH,
    Page,
    etag,
    idempotent_create,
    require_if_match,
)

router = APIRouter(prefix="/work-orders", tags=["work orders"])
FIELD_ROLES = {Role.engineer.value, Role.dispatcher.value, Role.manager.value, Role.admin.value}
# What an engineer may do with /transitions on their own visit; the rest is dispatch's call.
ENGINEER_MOVES = {WorkOrderStatus.en_route, WorkOrderStatus.on_site, WorkOrderStatus.scheduled}


def read_many(db: Session, rows: Sequence[WorkOrder]) -> list[WorkOrderRead]:
    ids = [w.id for w in rows]
    windows, parts, usage = (
        workorder_queries.windows_of(db, ids),
        workorder_queries.parts_of(db, ids),
        workorder_queries.usage_of(db, ids),
    )
    out = []
    for w in rows:
        item = WorkOrderRead.model_validate(w)
        item.windows = [WindowRead.model_validate(x) for x in windows[w.id]]
        item.required_parts = [PartQtyRead.model_validate(x) for x in parts[w.id]]
        item.parts_used = [PartUsageRead.model_validate(x) for x in usage[w.id]]
        item.allowed_transitions = [WorkOrderStatus(s) for s in allowed_next(w)]
        out.append(item)
    return out


def _with_etag(db: Session, work_order: WorkOrder, response: Response) -> WorkOrderRead:
    db.flush()  # the version is final only after the last flush
    response.headers["ETag"] = etag(work_order.version)
    return read_many(db, [work_order])[0]


def _field_visit(db: Session, user: User, work_order_id: int) -> WorkOrder:
    """The visit an on-site action applies to: engineers their own (else 404), dispatch any."""
    work_order = workorder_queries.visible_work_order(db, user, work_order_id)
    if user.role not in FIELD_ROLES:
        raise Forbidden("Only the assigned engineer or dispatch can record on-site actions.")
    return work_order


def _optional_if_match(request: Request, work_order: WorkOrder) -> None:
    """Field actions are retried blindly by mobile clients: If-Match is checked only when sent."""
    if request.headers.get("if-match"):
        require_if_match(request, work_order.version)


@router.post(
    "",
    status_code=201,
    response_model=WorkOrderRead,
    responses={201: {"headers": {"Location": {}, "ETag": {}}}},
    dependencies=[IDEMPOTENCY_KEY],
)
def create_work_order(body: WorkOrderCreate, request: Request, db: DbSession, user: DeskUser) -> JSONResponse:
    """Plan a visit for a ticket. Honours Idempotency-Key: a retry replays the first response."""

    def _create() -> tuple[WorkOrderRead, dict[str, str]]:
        work_order = workorders.create_work_order(
            db,
            ticket_id=body.ticket_id,
            actor=user,
            required_skills=body.required_skills,
            duration_min=body.duration_min,
            required_parts=[(p.part_id, p.quantity) for p in body.required_parts],
            windows=[(w.starts_at, w.ends_at) for w in body.windows],
            appointment_start_at=body.appointment_start_at,
            appointment_end_at=body.appointment_end_at,
            notes=body.notes,
        )
        db.flush()
        headers = {"Location": f"/api/v1/work-orders/{work_order.id}", "ETag": etag(work_order.version)}
        return read_many(db, [work_order])[0], headers

    return idempotent_create(db, request, user, body.model_dump(mode="json"), _create)


@router.get("")
def list_work_orders(
    db: DbSession,
    user: CurrentUser,
    status: Annotated[list[WorkOrderStatus], Query()] = [],  # noqa: B006 - FastAPI copies defaults
    region_id: int | None = None,
    engineer_id: int | None = None,
    ticket_id: int | None = None,
    day: Annotated[date | None, Query(alias="date", description="local day of the planned start")] = None,
    at_risk: Annotated[bool | None, Query(description="only visits the plan cannot get to in time")] = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[WorkOrderRead]:
    """Engineers get only their own visits, whatever the filters say."""
    rows, next_cursor = workorder_queries.list_work_orders(
        db,
        viewer=user,
        status=[s.value for s in status],
        region_id=region_id,
        engineer_id=engineer_id,
        ticket_id=ticket_id,
        day=day,
        at_risk=at_risk,
        cursor=cursor,
        limit=limit,
    )
    return Page[WorkOrderRead](items=read_many(db, rows), next_cursor=next_cursor)


@router.get("/{work_order_id}")
def get_work_order(work_order_id: int, db: DbSession, user: CurrentUser, response: Response) -> WorkOrderRead:
    return _with_etag(db, workorder_queries.visible_work_order(db, user, work_order_id), response)


@router.patch("/{work_order_id}", dependencies=[IF_MATCH])
def update_work_order(
    work_order_id: int,
    body: WorkOrderUpdate,
    request: Request,
    db: DbSession,
    user: DispatchUser,
    response: Response,
) -> WorkOrderRead:
    """Edit planning data (windows, appointment, duration, skills, parts, notes, ETA); needs If-Match."""
    work_order = workorder_queries.get_work_order(db, work_order_id)
    require_if_match(request, work_order.version)
    values = body.model_dump(exclude_unset=True, exclude={"windows", "required_parts"})
    work_order = workorders.update_work_order(
        db,
        work_order=work_order,
        values=values,
        windows=[(w.starts_at, w.ends_at) for w in body.windows] if body.windows is not None else None,
        parts=[(p.part_id, p.quantity) for p in body.required_parts]
        if body.required_parts is not None
        else None,
        actor=user,
    )
    return _with_etag(db, work_order, response)


@router.post("/{work_order_id}/transitions", dependencies=[IF_MATCH])
def transition(
    work_order_id: int,
    body: TransitionIn,
    request: Request,
    db: DbSession,
    user: CurrentUser,
    response: Response,
) -> WorkOrderRead:
    """Change status; needs If-Match. Illegal moves answer 409 naming the allowed states."""
    work_order = workorder_queries.visible_work_order(db, user, work_order_id)
    if user.role not in FIELD_ROLES:
        raise Forbidden("Only dispatch or the assigned engineer can change a visit's status.")
    if user.role == Role.engineer.value and body.to not in ENGINEER_MOVES:
        raise Forbidden(f"Engineers cannot move a visit to {body.to.value}; ask dispatch.")
    require_if_match(request, work_order.version)
    work_order = workorders.transition(
        db, work_order=work_order, to=body.to.value, reason=body.reason, eta=body.eta, actor=user
    )
    return _with_etag(db, work_order, response)


@router.post("/{work_order_id}/schedule", dependencies=[IF_MATCH])
def schedule(
    work_order_id: int,
    body: ScheduleIn,
    request: Request,
    db: DbSession,
    user: DispatchUser,
    response: Response,
) -> ScheduleRead:
    """Assign an engineer and a start; needs If-Match. 422 says why the engineer does not fit.
    `warnings` lists what is saved anyway: the engineer's other visits it overlaps, a job running
    past their working time or into an absence."""
    work_order = workorder_queries.get_work_order(db, work_order_id)
    require_if_match(request, work_order.version)
    work_order = workorders.schedule(
        db,
        work_order=work_order,
        engineer_id=body.engineer_id,
        planned_start=body.planned_start,
        eta=body.eta,
        actor=user,
    )
    read = _with_etag(db, work_order, response)
    warnings = [ScheduleWarning.model_validate(x) for x in schedule_warnings(db, work_order)]
    return ScheduleRead(**read.model_dump(), warnings=warnings)


def _field_answer(
    db: Session, request: Request, user: User, body: dict[str, object], act: Callable[[], WorkOrder]
) -> JSONResponse:
    """Run an on-site action; with an Idempotency-Key a retry replays the first answer."""

    def _run() -> tuple[WorkOrderRead, dict[str, str]]:
        work_order = act()
        db.flush()
        return read_many(db, [work_order])[0], {"ETag": etag(work_order.version)}

    return idempotent_create(db, request, user, body, _run, status_code=200)


@router.post(
    "/{work_order_id}/check-in",
    response_model=WorkOrderRead,
    dependencies=[OPTIONAL_IF_MATCH, IDEMPOTENCY_KEY],
)
def check_in(
    work_order_id: int, request: Request, db: DbSession, user: CurrentUser, body: CheckInIn | None = None
) -> JSONResponse:
    """Arrival on site. Idempotent: a repeat returns the same visit (and honours Idempotency-Key)."""
    work_order = _field_visit(db, user, work_order_id)
    if work_order.checked_in_at is None:
        _optional_if_match(request, work_order)
    fix = body or CheckInIn()
    return _field_answer(
        db,
        request,
        user,
        fix.model_dump(mode="json"),
        lambda: workorder_visits.check_in(
            db, work_order=work_order, actor=user, latitude=fix.latitude, longitude=fix.longitude
        ),
    )


@router.post(
    "/{work_order_id}/undo-check-in",
    response_model=WorkOrderRead,
    dependencies=[OPTIONAL_IF_MATCH, IDEMPOTENCY_KEY],
)
def undo_check_in(work_order_id: int, request: Request, db: DbSession, user: CurrentUser) -> JSONResponse:
    """Take back a check-in tapped on the wrong visit (no report, no parts; the engineer within the
    grace period, not checked out; dispatch until the check-in's day ends): back to scheduled or en
    route with its ETA, the ticket's arrival withdrawn.
    409 naming the state when there is no check-in to undo; honours Idempotency-Key."""
    work_order = _field_visit(db, user, work_order_id)

    def _undo() -> WorkOrder:
        _optional_if_match(request, work_order)
        return workorder_visits.undo_check_in(db, work_order=work_order, actor=user)

    return _field_answer(db, request, user, {"undo": "check_in"}, _undo)


@router.post(
    "/{work_order_id}/check-out",
    response_model=WorkOrderRead,
    dependencies=[OPTIONAL_IF_MATCH, IDEMPOTENCY_KEY],
)
def check_out(work_order_id: int, request: Request, db: DbSession, user: CurrentUser) -> JSONResponse:
    """Departure from site. Idempotent: a repeat returns the same visit (and honours Idempotency-Key)."""
    work_order = _field_visit(db, user, work_order_id)
    if work_order.checked_out_at is None:
        _optional_if_match(request, work_order)
    return _field_answer(
        db, request, user, {}, lambda: workorder_visits.check_out(db, work_order=work_order, actor=user)
    )


@router.post(
    "/{work_order_id}/report", response_model=WorkOrderRead, dependencies=[OPTIONAL_IF_MATCH, IDEMPOTENCY_KEY]
)
def report(
    work_order_id: int, body: ReportIn, request: Request, db: DbSession, user: CurrentUser
) -> JSONResponse:
    """File the service report: parts leave stock in the same transaction (409 and nothing written
    on a shortage), status → done or needs_follow_up. Honours Idempotency-Key for safe retries."""
    work_order = _field_visit(db, user, work_order_id)

    def _file() -> WorkOrder:
        _optional_if_match(request, work_order)
        return workorder_visits.report(
            db,
            work_order=work_order,
            work_done=body.work_done,
            fixed=body.fixed_first_time,
            actor=user,
            parts_used=[(p.part_id, p.quantity, p.location_id) for p in body.parts_used],
        )

    return _field_answer(db, request, user, body.model_dump(mode="json"), _file)
