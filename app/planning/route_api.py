"""Engineers' routes and the planning actions on a visit.

GET  /me/route?date=                 the signed-in engineer's day
GET  /engineers/{id}/route?date=     dispatch: anyone's; an engineer: their own (else 404)
POST /work-orders/{id}/pickup        the engineer took the reserved parts at the warehouse
GET  /work-orders/{id}/explain       why the visit is where it is (or nowhere)
POST /work-orders/{id}/assign        dispatch: put it on an engineer's day (?dry_run=true previews)
POST /work-orders/{id}/unpin         dispatch: let plans choose its engineer and time again
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.engineers import service as engineers
from app.field.inventory import reservations
from app.field.workorders import service as workorders
from app.models import Engineer, Part, Role, User, WorkOrder
from app.planning import assign as plan_assign
from app.planning import explain as plan_explain
from app.planning import keys as plan_keys
from app.planning import pins as plan_pins
from app.planning import routes as plan_routes
from app.planning.schemas import (
    AssignIn,
    AssignResult,
    ExplanationRead,
    PartLine,
    PickupIn,
    PickupRead,
    PinRead,
    RouteRead,
)
from app.platform.db import utcnow
from app.platform.deps import CurrentUser, DbSession, DispatchUser
from app.platform.errors import Forbidden, NotFound
from app.platform.http import IDEMPOTENCY_KEY, IF_MATCH, etag, idempotent_create, require_if_match

router = APIRouter(tags=["routes"])
DISPATCH = {Role.dispatcher.value, Role.manager.value, Role.admin.value}


def _today(db: Session, engineer: Engineer) -> date:
    return plan_keys.local_day(utcnow(), engineers.timezone_of(db, engineer))


@router.get("/me/route", responses={404: {"description": "You have no engineer profile"}})
def my_route(
    db: DbSession, user: CurrentUser, day: Annotated[date | None, Query(alias="date")] = None
) -> RouteRead:
    """Ordered stops with ETA, address, coordinates, customer, asset, parts and navigation links."""
    me = engineers.engineer_for_user(db, user)
    if me is None:
        raise NotFound("You have no engineer profile, so there is no route to show.")
    return plan_routes.engineer_route(db, engineer=me, day=day or _today(db, me))


@router.get("/engineers/{engineer_id}/route")
def engineer_route(
    engineer_id: int,
    db: DbSession,
    user: CurrentUser,
    day: Annotated[date | None, Query(alias="date")] = None,
) -> RouteRead:
    engineer = _visible_engineer(db, user, engineer_id)
    return plan_routes.engineer_route(db, engineer=engineer, day=day or _today(db, engineer))


def _visible_engineer(db: Session, user: User, engineer_id: int) -> Engineer:
    if user.role == Role.engineer.value:
        me = engineers.engineer_for_user(db, user)
        if me is None or me.id != engineer_id:
            raise NotFound(f"Engineer {engineer_id} does not exist.")
        return me
    if user.role not in DISPATCH:
        raise Forbidden("Routes are for dispatch and the engineers themselves.")
    return engineers.get_engineer(db, engineer_id)


def _field_visit(db: Session, user: User, work_order_id: int) -> WorkOrder:
    """An engineer acts on their own visits only (another's answers 404); dispatch on any."""
    work_order = workorders.visible_work_order(db, user, work_order_id)
    if user.role != Role.engineer.value and user.role not in DISPATCH:
        raise Forbidden("Only the assigned engineer or dispatch can do this.")
    return work_order


@router.post("/work-orders/{work_order_id}/pickup", response_model=PickupRead, dependencies=[IDEMPOTENCY_KEY])
def pickup(
    work_order_id: int,
    request: Request,
    db: DbSession,
    user: CurrentUser,
    body: PickupIn | None = None,
) -> JSONResponse:
    """Confirm the warehouse pickup of the visit's reserved parts: the stock moves to the van.
    Safe to repeat (nothing is moved twice); an Idempotency-Key replays the first answer."""
    work_order = _field_visit(db, user, work_order_id)
    body = body or PickupIn()

    def _pick() -> tuple[PickupRead, dict[str, str]]:
        if work_order.engineer_id is None:
            raise NotFound(f"Work order {work_order.number} has no engineer, so nobody picks up its parts.")
        moved = reservations.confirm_pickup(
            db, work_order=work_order, engineer_id=work_order.engineer_id, actor=user
        )
        parts = {
            p.id: p for p in db.scalars(select(Part).where(Part.id.in_([m.part_id for m in moved] or [-1])))
        }
        in_van = [
            r
            for r in reservations.held_for(db, [work_order.id])
            if r.picked_up_at is not None and not any(m.part_id == r.part_id for m in moved)
        ]
        for r in in_van:
            parts.setdefault(r.part_id, db.get(Part, r.part_id))  # type: ignore[arg-type]
        out = PickupRead(
            work_order_id=work_order.id,
            moved=[
                PartLine.of(
                    parts[m.part_id],
                    m.quantity,
                    source="warehouse",
                    picked_up=True,
                    work_order_id=work_order.id,
                )
                for m in moved
            ],
            already_in_van=[
                PartLine.of(
                    parts[r.part_id],
                    r.quantity,
                    source="warehouse",
                    picked_up=True,
                    work_order_id=work_order.id,
                )
                for r in in_van
            ],
        )
        return out, {}

    return idempotent_create(db, request, user, body.model_dump(mode="json"), _pick, status_code=200)


@router.get("/work-orders/{work_order_id}/explain")
def explain(work_order_id: int, db: DbSession, user: CurrentUser) -> ExplanationRead:
    """The engine's reasons for the visit's place in the published plan."""
    work_order = _field_visit(db, user, work_order_id)
    return plan_explain.explain(db, work_order)


@router.post("/work-orders/{work_order_id}/assign", dependencies=[IF_MATCH])
def assign(
    work_order_id: int,
    body: AssignIn,
    request: Request,
    response: Response,
    db: DbSession,
    user: DispatchUser,
    dry_run: bool = False,
) -> AssignResult:
    """Check skill, parts and shift, then answer with the consequences for that engineer's day.
    `?dry_run=true` writes nothing; otherwise If-Match (the visit's ETag) is required and the
    change is published at once."""
    work_order = workorders.get_work_order(db, work_order_id)
    if not dry_run:
        require_if_match(request, work_order.version)
    result = plan_assign.assign(
        db, work_order=work_order, engineer_id=body.engineer_id, day=body.date, dry_run=dry_run, actor=user
    )
    if not dry_run:
        db.flush()
        response.headers["ETag"] = etag(work_order.version)
    return result


@router.post("/work-orders/{work_order_id}/unpin", dependencies=[IF_MATCH])
def unpin(
    work_order_id: int, request: Request, response: Response, db: DbSession, user: DispatchUser
) -> PinRead:
    """Let the planner choose the visit's engineer and time again: ends its pin to the engineer
    and a start set by hand (automatic re-plans kept both). The visit stays where it is until a
    plan moves it. If-Match (the visit's ETag) is required; a visit not pinned answers 422."""
    work_order = workorders.get_work_order(db, work_order_id)
    require_if_match(request, work_order.version)
    plan_pins.unpin(db, work_order=work_order, actor=user)
    db.flush()
    response.headers["ETag"] = etag(work_order.version)
    return PinRead(work_order_id=work_order.id, pinned=False, version=work_order.version)
