"""/api/v1/engineers: profiles, weekly shifts, absences, a day's shift and live position.

Dispatcher/manager/admin manage; desk roles read; an engineer reads only their own profile
(another's id answers 404) and reports their own position.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.engineers import service as engineers
from app.field.engineers.schemas import (
    AbsenceIn,
    AbsenceRead,
    DayShiftRead,
    EngineerCreate,
    EngineerRead,
    EngineerUpdate,
    OnCallIn,
    OnCallRead,
    PositionIn,
    PositionRead,
    ShiftRead,
)
from app.models import Absence, Engineer, OnCallShift, Role, Shift, StockLocation
from app.platform.deps import CurrentUser, DbSession, DeskUser, DispatchUser
from app.platform.errors import Forbidden
from app.platform.http import IDEMPOTENCY_KEY, IF_MATCH, Page, etag, idempotent_create, require_if_match

router = APIRouter(prefix="/engineers", tags=["engineers"])
DISPATCH = {Role.dispatcher.value, Role.manager.value, Role.admin.value}


def read_many(db: Session, rows: list[Engineer]) -> list[EngineerRead]:
    ids = [e.id for e in rows]
    shifts: dict[int, list[Shift]] = {i: [] for i in ids}
    for s in db.scalars(select(Shift).where(Shift.engineer_id.in_(ids)).order_by(Shift.weekday)):
        shifts[s.engineer_id].append(s)
    vans = dict(
        db.execute(
            select(StockLocation.engineer_id, StockLocation.id).where(StockLocation.engineer_id.in_(ids))
        )
        .tuples()
        .all()
    )
    out = []
    for e in rows:
        item = EngineerRead.model_validate(e)
        item.shifts = [ShiftRead.model_validate(s) for s in shifts[e.id]]
        item.van_location_id = vans.get(e.id)
        out.append(item)
    return out


def _with_etag(db: Session, engineer: Engineer, response: Response) -> EngineerRead:
    db.flush()
    response.headers["ETag"] = etag(engineer.version)
    return read_many(db, [engineer])[0]


@router.post(
    "",
    status_code=201,
    response_model=EngineerRead,
    responses={201: {"headers": {"Location": {}, "ETag": {}}}},
    dependencies=[IDEMPOTENCY_KEY],
)
def create_engineer(
    body: EngineerCreate, request: Request, db: DbSession, user: DispatchUser
) -> JSONResponse:
    """Create an engineer with their weekly shifts and an empty van. Honours Idempotency-Key."""

    def _create() -> tuple[EngineerRead, dict[str, str]]:
        engineer = engineers.create_engineer(
            db,
            values=body.model_dump(exclude={"shifts"}),
            shifts=[s.model_dump() for s in body.shifts],
            actor=user,
        )
        db.flush()
        headers = {"Location": f"/api/v1/engineers/{engineer.id}", "ETag": etag(engineer.version)}
        return read_many(db, [engineer])[0], headers

    return idempotent_create(db, request, user, body.model_dump(mode="json"), _create)


@router.get("")
def list_engineers(
    db: DbSession,
    user: DeskUser,
    region_id: int | None = None,
    skill: Annotated[str | None, Query(max_length=40)] = None,
    active: bool | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> Page[EngineerRead]:
    rows, next_cursor = engineers.list_engineers(
        db, region_id=region_id, skill=skill, active=active, cursor=cursor, limit=limit
    )
    return Page[EngineerRead](items=read_many(db, list(rows)), next_cursor=next_cursor)


@router.get("/{engineer_id}")
def get_engineer(engineer_id: int, db: DbSession, user: CurrentUser, response: Response) -> EngineerRead:
    return _with_etag(db, engineers.visible_engineer(db, user, engineer_id), response)


@router.patch("/{engineer_id}", dependencies=[IF_MATCH])
def update_engineer(
    engineer_id: int,
    body: EngineerUpdate,
    request: Request,
    db: DbSession,
    user: DispatchUser,
    response: Response,
) -> EngineerRead:
    """Change fields (`shifts` replaces the weekly pattern); needs If-Match."""
    engineer = engineers.get_engineer(db, engineer_id)
    require_if_match(request, engineer.version)
    shifts = [s.model_dump() for s in body.shifts] if body.shifts is not None else None
    engineer = engineers.update_engineer(
        db,
        engineer=engineer,
        values=body.model_dump(exclude_unset=True, exclude={"shifts"}),
        shifts=shifts,
        actor=user,
    )
    return _with_etag(db, engineer, response)


@router.get("/{engineer_id}/shift")
def day_shift(
    engineer_id: int, db: DbSession, user: CurrentUser, day: Annotated[date, Query(alias="date")]
) -> DayShiftRead:
    """That local day's working time with its break (UTC instants), or absent / not working."""
    engineer = engineers.visible_engineer(db, user, engineer_id)
    return DayShiftRead.model_validate(engineers.day_shift(db, engineer, day))


def _absence_etag(absence: Absence) -> str:
    return etag(engineers.ROW_VERSION, engineers.absence_tag(absence))


def _on_call_etag(row: OnCallShift) -> str:
    return etag(engineers.ROW_VERSION, engineers.on_call_tag(row))


@router.get("/{engineer_id}/absences")
def list_absences(
    engineer_id: int,
    db: DbSession,
    user: CurrentUser,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> list[AbsenceRead]:
    engineer = engineers.visible_engineer(db, user, engineer_id)
    return [
        AbsenceRead.model_validate(a) for a in engineers.list_absences(db, engineer.id, start=start, end=end)
    ]


@router.post(
    "/{engineer_id}/absences",
    status_code=201,
    responses={201: {"headers": {"Location": {}, "ETag": {}}}},
)
def add_absence(
    engineer_id: int, body: AbsenceIn, db: DbSession, user: DispatchUser, response: Response
) -> AbsenceRead:
    """Mark a day off (leave, sickness), or part of it: from `from_time` on, until `until_time`
    (a late start), or between the two (a gap; until must be after from: 422 naming until_time).
    A second absence on the same day answers 409."""
    engineer = engineers.get_engineer(db, engineer_id)
    absence = engineers.add_absence(
        db,
        engineer=engineer,
        day=body.day,
        reason=body.reason,
        actor=user,
        from_time=body.from_time,
        until_time=body.until_time,
    )
    response.headers["Location"] = f"/api/v1/engineers/{engineer.id}/absences/{absence.id}"
    response.headers["ETag"] = _absence_etag(absence)
    return AbsenceRead.model_validate(absence)


@router.get("/{engineer_id}/absences/{absence_id}")
def get_absence(
    engineer_id: int, absence_id: int, db: DbSession, user: CurrentUser, response: Response
) -> AbsenceRead:
    """One absence, with the ETag its DELETE takes as If-Match."""
    engineer = engineers.visible_engineer(db, user, engineer_id)
    absence = engineers.get_absence(db, engineer, absence_id)
    response.headers["ETag"] = _absence_etag(absence)
    return AbsenceRead.model_validate(absence)


@router.delete("/{engineer_id}/absences/{absence_id}", status_code=204, dependencies=[IF_MATCH])
def remove_absence(
    engineer_id: int, absence_id: int, request: Request, db: DbSession, user: DispatchUser
) -> Response:
    """Needs If-Match (428 without, 412 when it is not this absence's ETag)."""
    engineer = engineers.get_engineer(db, engineer_id)
    absence = engineers.get_absence(db, engineer, absence_id)
    require_if_match(request, engineers.ROW_VERSION, engineers.absence_tag(absence))
    engineers.remove_absence(db, engineer=engineer, absence_id=absence_id, actor=user)
    return Response(status_code=204)


@router.get("/{engineer_id}/on-call")
def list_on_call(
    engineer_id: int,
    db: DbSession,
    user: CurrentUser,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
) -> list[OnCallRead]:
    engineer = engineers.visible_engineer(db, user, engineer_id)
    return [
        OnCallRead.model_validate(o) for o in engineers.list_on_call(db, engineer.id, start=start, end=end)
    ]


@router.post(
    "/{engineer_id}/on-call",
    status_code=201,
    responses={201: {"headers": {"Location": {}, "ETag": {}}}},
)
def add_on_call(
    engineer_id: int, body: OnCallIn, db: DbSession, user: DispatchUser, response: Response
) -> OnCallRead:
    """On-call cover: the planner may send this engineer to P1s and to 24x7 contracts due that day
    outside their shift, at a call-out cost. Overlapping cover answers 409."""
    engineer = engineers.get_engineer(db, engineer_id)
    row = engineers.add_on_call(
        db, engineer=engineer, starts_at=body.starts_at, ends_at=body.ends_at, note=body.note, actor=user
    )
    response.headers["Location"] = f"/api/v1/engineers/{engineer.id}/on-call/{row.id}"
    response.headers["ETag"] = _on_call_etag(row)
    return OnCallRead.model_validate(row)


@router.get("/{engineer_id}/on-call/{on_call_id}")
def get_on_call(
    engineer_id: int, on_call_id: int, db: DbSession, user: CurrentUser, response: Response
) -> OnCallRead:
    """One stretch of on-call cover, with the ETag its DELETE takes as If-Match."""
    engineer = engineers.visible_engineer(db, user, engineer_id)
    row = engineers.get_on_call(db, engineer, on_call_id)
    response.headers["ETag"] = _on_call_etag(row)
    return OnCallRead.model_validate(row)


@router.delete("/{engineer_id}/on-call/{on_call_id}", status_code=204, dependencies=[IF_MATCH])
def remove_on_call(
    engineer_id: int, on_call_id: int, request: Request, db: DbSession, user: DispatchUser
) -> Response:
    """Needs If-Match (428 without, 412 when it is not this cover's ETag)."""
    engineer = engineers.get_engineer(db, engineer_id)
    row = engineers.get_on_call(db, engineer, on_call_id)
    require_if_match(request, engineers.ROW_VERSION, engineers.on_call_tag(row))
    engineers.remove_on_call(db, engineer=engineer, on_call_id=on_call_id, actor=user)
    return Response(status_code=204)


@router.put("/{engineer_id}/position")
def set_position(engineer_id: int, body: PositionIn, db: DbSession, user: CurrentUser) -> PositionRead:
    """Live position from the engineer's device or dispatch. Last fix wins, so no If-Match (a
    position is telemetry, not an edit; it does not change the profile's ETag either)."""
    engineer = engineers.visible_engineer(db, user, engineer_id)
    if user.role != Role.engineer.value and user.role not in DISPATCH:
        raise Forbidden("Only the engineer or dispatch can report a position.")
    applied = engineers.set_position(
        db, engineer=engineer, latitude=body.latitude, longitude=body.longitude, at=body.at
    )
    return PositionRead(
        engineer_id=engineer.id,
        latitude=engineer.current_latitude,
        longitude=engineer.current_longitude,
        position_at=engineer.position_at,
        applied=applied,
    )
