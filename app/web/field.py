"""The engineer's mobile pages: today's route (list + map) and one visit with its actions.

Every action is a plain form (works without JavaScript) carrying the CSRF token, the visit's
version (a visit changed by dispatch meanwhile answers 409 and keeps what was typed) and a
one-time key: a phone on a weak network that sends a form twice gets the first answer again
(the same `Idempotency-Key` machinery as the API), never a second check-in or report.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.engineers import service as engineers
from app.field.inventory import reservations
from app.field.workorders import service as workorders
from app.field.workorders import visits as workorder_visits
from app.field.workorders.asset_file import asset_file
from app.field.workorders.queries import usage_of, visible_work_order
from app.field.workorders.status import TERMINAL
from app.models import (
    Engineer,
    Part,
    Role,
    StockLevel,
    StockLocation,
    Ticket,
    User,
    WorkOrder,
    WorkOrderStatus,
)
from app.planning import keys as plan_keys
from app.planning import routes as plan_routes
from app.planning.schemas import RouteRead, StopRead
from app.platform.config import get_settings
from app.platform.db import utcnow
from app.platform.errors import AppError, Conflict, Forbidden, NotFound
from app.platform.http import idempotent_create
from app.platform.inputs import INT_MAX
from app.web.knowledge import visit_articles
from app.web.map_sketch import sketch
from app.web.messages import field_label, page_error
from app.web.shared import (
    SECURITY_HEADERS,
    PageDb,
    PageRoute,
    PageUser,
    field_errors,
    invalid,
    parse_day,
    render,
    require_csrf,
    too_long,
)

router = APIRouter(route_class=PageRoute)
DONE = {
    "en-route": "You are on your way; the customer's ETA is updated.",
    "checked-in": "Checked in.",
    "checked-out": "Checked out.",
    "reported": "Service report filed.",
    "picked-up": "Pickup confirmed: the parts are in your van.",
    "replayed": "That was already done (the form was sent twice); nothing changed.",
}
REPORT_LIMIT = {"work_done": 20000}


def engineer_user(user: PageUser, db: PageDb) -> Engineer:
    if user.role != Role.engineer.value:
        raise Forbidden(
            "The route pages are for field engineers. Your account "
            f"({user.email}, role {user.role}) has no route; use the desk instead."
        )
    me = engineers.engineer_for_user(db, user)
    if me is None:
        raise NotFound("Your account has no engineer profile yet, so there is no route to show.")
    return me


Me = Annotated[Engineer, Depends(engineer_user)]


def _today(db: Session, me: Engineer) -> date:
    return plan_keys.local_day(utcnow(), engineers.timezone_of(db, me))


def _page_headers() -> dict[str, str]:
    """The route map may load background tiles from the configured tile server."""
    tiles = get_settings().map_tile_url
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    if tiles:
        parts = urlsplit(tiles.replace("{s}", "a"))
        csp = csp.replace("img-src 'self' data:", f"img-src 'self' data: {parts.scheme}://{parts.netloc}")
    return {"Content-Security-Policy": csp}


def _map_data(route: RouteRead) -> dict[str, Any]:
    points = [
        {
            "seq": s.seq + 1,
            "kind": s.kind,
            "lat": s.latitude,
            "lon": s.longitude,
            "label": (s.customer.name if s.customer else s.warehouse_name) or "",
            "href": f"/field/visits/{s.work_order_id}" if s.work_order_id else "",
        }
        for s in route.stops
        if s.latitude is not None and s.longitude is not None
    ]
    return {"points": points, "tiles": get_settings().map_tile_url}


@router.get("/field")
def route_page(request: Request, db: PageDb, me: Me, day: str = "") -> HTMLResponse:
    try:
        when = parse_day(day) or _today(db, me)
    except ValueError as exc:
        raise invalid({"day": str(exc)}) from None
    route = plan_routes.engineer_route(db, engineer=me, day=when)
    data = _map_data(route)
    context = {
        "nav": "route",
        "FINISHED_VISIT": TERMINAL,  # no "Navigate" to a visit that is over
        "route": route,
        "day": when,
        "today": _today(db, me),
        "prev_day": when - timedelta(days=1),
        "next_day": when + timedelta(days=1),
        "visits": sum(1 for s in route.stops if s.kind == "job"),
        "map": data,
        "sketch": sketch(data["points"]),
        "tz": route.timezone,
        "key": secrets.token_urlsafe(16),  # one-time form keys: a resent form is not run twice
    }
    return render(request, "field/route.html", context, headers=_page_headers())


def _stop_of(db: Session, me: Engineer, work_order: WorkOrder) -> tuple[StopRead | None, RouteRead | None]:
    """The visit as it stands on its day's route (ETA, parts and where they come from)."""
    if work_order.planned_start_at is None:
        return None, None
    day = plan_keys.local_day(work_order.planned_start_at, engineers.timezone_of(db, me))
    route = plan_routes.engineer_route(db, engineer=me, day=day)
    stop = next((s for s in route.stops if s.work_order_id == work_order.id), None)
    return stop, route


def _van_parts(db: Session, me: Engineer) -> list[tuple[Part, int]]:
    """What the van holds, for the 'other part used' choice of the report."""
    van = engineers.van_location(db, me.id)
    if van is None:
        return []
    rows = db.execute(
        select(Part, StockLevel.quantity)
        .join(StockLevel, StockLevel.part_id == Part.id)
        .where(StockLevel.location_id == van.id, StockLevel.quantity > 0)
        .order_by(Part.name)
    ).all()
    return [(p, q) for p, q in rows]


def _parts_used(db: Session, work_order: WorkOrder) -> list[dict[str, Any]]:
    """What the service report booked: quantity and part per source (van or warehouse), by name."""
    usage = usage_of(db, [work_order.id])[work_order.id]
    if not usage:
        return []
    parts = {p.id: p for p in db.scalars(select(Part).where(Part.id.in_({u.part_id for u in usage})))}
    kinds = dict(
        db.execute(
            select(StockLocation.id, StockLocation.kind).where(
                StockLocation.id.in_({u.location_id for u in usage})
            )
        )
        .tuples()
        .all()
    )
    totals: dict[tuple[int, str], int] = {}
    for u in usage:
        key = (u.part_id, kinds.get(u.location_id, ""))
        totals[key] = totals.get(key, 0) + u.quantity
    rows = [
        {"quantity": qty, "name": parts[pid].name, "sku": parts[pid].sku, "source": source}
        for (pid, source), qty in totals.items()
    ]
    return sorted(rows, key=lambda r: (r["name"], r["source"]))


def _visit_page(
    request: Request,
    db: Session,
    me: Engineer,
    work_order: WorkOrder,
    *,
    report: dict[str, Any] | None = None,
    error: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    stop, route = _stop_of(db, me, work_order)
    ticket = db.get(Ticket, work_order.ticket_id)
    to_pick = [p for p in (stop.parts if stop else []) if p.source == "warehouse" and not p.picked_up]
    done = request.query_params.get("done", "")
    context = {
        "nav": "route",
        "wo": work_order,
        "stop": stop,
        "route": route,
        "ticket": ticket,
        "to_pick": to_pick,
        "van_parts": _van_parts(db, me) if work_order.status == WorkOrderStatus.on_site else [],
        "finished": work_order.status in TERMINAL,
        "parts_used": _parts_used(db, work_order) if work_order.status in TERMINAL else [],
        "report": report or {"input": {}, "fields": {}},
        "error": error,
        "flash": DONE.get(done, ""),
        "key": secrets.token_urlsafe(16),
        "tz": route.timezone if route else engineers.timezone_of(db, me),
        "articles": visit_articles(db, ticket),
        "planned_for": _planned_day_if_not_today(db, me, work_order),
        "asset": asset_file(db, work_order, today=_today(db, me)),
    }
    return render(request, "field/visit.html", context, status_code=status_code)


def _planned_day_if_not_today(db: Session, me: Engineer, work_order: WorkOrder) -> date | None:
    """The visit's planned day when it is not today (the engineer's zone): the page says so next to
    "Check in", since checking in to Tuesday's visit on Sunday is most likely a wrong tap."""
    begins = work_order.planned_start_at or work_order.eta_at
    if begins is None or work_order.status not in ("scheduled", "en_route"):
        return None
    day = plan_keys.local_day(begins, engineers.timezone_of(db, me))
    return day if day != _today(db, me) else None


def _my_visit(db: Session, user: User, work_order_id: int) -> WorkOrder:
    return visible_work_order(db, user, work_order_id)  # another engineer's visit: 404


@router.get("/field/visits/{work_order_id}")
def visit_page(work_order_id: int, request: Request, db: PageDb, user: PageUser, me: Me) -> HTMLResponse:
    return _visit_page(request, db, me, _my_visit(db, user, work_order_id))


def _expect_version(work_order: WorkOrder, version: str) -> None:
    if version.strip().isdecimal() and int(version) != work_order.version:
        raise Conflict(
            f"Work order {work_order.number} was changed (by dispatch or on another device) while "
            "this page was open. Check the visit below and try again.",
            current=work_order.status,
        )


FormStr = Annotated[str, Form()]


@dataclass(frozen=True)
class VisitForm:
    """A form posted to one of the engineer's own visits, its CSRF token already checked."""

    request: Request
    db: Session
    user: User
    me: Engineer
    work_order: WorkOrder

    def act(
        self,
        *,
        key: str,
        version: str,
        body: dict[str, Any],
        action: Callable[[WorkOrder], object],
        done: str,
        typed: dict[str, str] | None = None,
    ) -> Response:
        """Run one field action once per form key, then show the visit again (Post/Redirect/Get).
        A refusal shows the visit as it is now with the reason, keeping what was `typed`."""
        db, work_order = self.db, self.work_order

        def _run() -> tuple[dict[str, Any], dict[str, str]]:
            _expect_version(work_order, version)
            action(work_order)
            db.flush()
            return {"work_order_id": work_order.id, "status": work_order.status}, {}

        work_order_id = work_order.id
        try:
            answer = idempotent_create(
                db, self.request, self.user, body, _run, status_code=200, key=key or None
            )
        except AppError as exc:
            db.rollback()  # nothing of the refused action stays
            current = workorders.get_work_order(db, work_order_id)
            state = {"input": typed or {}, "fields": field_errors(exc)}
            return self.page(current, report=state, error=page_error(exc), status_code=exc.status_code)
        if answer.headers.get("Idempotent-Replayed"):
            done = "replayed"
        return RedirectResponse(f"/field/visits/{work_order_id}?done={done}", status_code=303)

    def page(self, work_order: WorkOrder, **kw: Any) -> HTMLResponse:
        return _visit_page(self.request, self.db, self.me, work_order, **kw)


def visit_form(
    work_order_id: int, request: Request, db: PageDb, user: PageUser, me: Me, csrf: FormStr = ""
) -> VisitForm:
    require_csrf(request, csrf)
    return VisitForm(request, db, user, me, _my_visit(db, user, work_order_id))


Visit = Annotated[VisitForm, Depends(visit_form)]


@router.post("/field/visits/{work_order_id}/en-route", response_model=None)
def en_route(visit: Visit, key: FormStr = "", version: FormStr = "") -> Response:
    return visit.act(
        key=key,
        version=version,
        body={"to": "en_route"},
        action=lambda wo: workorders.transition(
            visit.db, work_order=wo, to="en_route", actor=visit.user, reason="engineer on the way"
        ),
        done="en-route",
    )


@router.post("/field/visits/{work_order_id}/check-in", response_model=None)
def check_in(
    visit: Visit,
    key: FormStr = "",
    version: FormStr = "",
    latitude: FormStr = "",
    longitude: FormStr = "",
) -> Response:
    lat, lon = _position(latitude, longitude)
    return visit.act(
        key=key,
        version=version,
        body={"lat": lat, "lon": lon},
        action=lambda wo: workorder_visits.check_in(
            visit.db, work_order=wo, actor=visit.user, latitude=lat, longitude=lon
        ),
        done="checked-in",
    )


def _position(latitude: str, longitude: str) -> tuple[float | None, float | None]:
    """The phone's position fix, when it gave one; a garbled or partial fix is ignored."""
    try:
        lat, lon = float(latitude), float(longitude)
    except ValueError:
        return None, None
    return (lat, lon) if -90 <= lat <= 90 and -180 <= lon <= 180 else (None, None)


@router.post("/field/visits/{work_order_id}/check-out", response_model=None)
def check_out(visit: Visit, key: FormStr = "", version: FormStr = "") -> Response:
    return visit.act(
        key=key,
        version=version,
        body={},
        action=lambda wo: workorder_visits.check_out(visit.db, work_order=wo, actor=visit.user),
        done="checked-out",
    )


@router.post("/field/visits/{work_order_id}/pickup", response_model=None)
def pickup(visit: Visit, key: FormStr = "", back: FormStr = "") -> Response:
    answer = visit.act(
        key=key,
        version="",
        body={"pickup": True},
        action=lambda wo: reservations.confirm_pickup(
            visit.db, work_order=wo, engineer_id=visit.me.id, actor=visit.user
        ),
        done="picked-up",
    )
    if back == "route" and answer.status_code == 303:  # confirmed from the route's pickup stop
        return RedirectResponse("/field?picked=1", status_code=303)
    return answer


async def _report_form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.post("/field/visits/{work_order_id}/report", response_model=None)
def report(visit: Visit, form: Annotated[dict[str, str], Depends(_report_form)]) -> Response:
    try:
        work_done, fixed, used = _read_report(form, _part_names(visit.db, form))
    except AppError as exc:
        state = {"input": form, "fields": field_errors(exc)}
        return visit.page(visit.work_order, report=state, error=page_error(exc), status_code=exc.status_code)
    return visit.act(
        key=form.get("key", ""),
        version=form.get("version", ""),
        body={"work_done": work_done, "fixed": fixed, "parts": used},
        action=lambda wo: workorder_visits.report(
            visit.db,
            work_order=wo,
            work_done=work_done,
            fixed=fixed,
            actor=visit.user,
            parts_used=[(p, q, None) for p, q in used],
        ),
        done="reported",
        typed=form,
    )


def _part_names(db: Session, form: dict[str, str]) -> dict[str, str]:
    """The report form's part inputs by the names of their parts (for its error messages)."""
    ids = {k[4:]: k for k in form if k.startswith("qty_") and k[4:].isdecimal() and int(k[4:]) <= INT_MAX}
    other = form.get("other_part", "")
    if other.isdecimal() and int(other) <= INT_MAX:
        ids.setdefault(other, "other_part")
    rows = db.execute(select(Part.id, Part.name).where(Part.id.in_([int(i) for i in ids]))).tuples()
    return {ids[str(pid)]: name for pid, name in rows}


def _read_report(form: dict[str, str], part_names: dict[str, str]) -> tuple[str, bool, list[tuple[int, int]]]:
    """Work done, fixed first time, and the parts used: `qty_<part id>` inputs for the visit's
    parts, plus one 'other part from the van' choice. ``part_names``: the part inputs' part names,
    so a wrong quantity says which part ("Qty 10" meant nothing to an engineer)."""
    errors = too_long(form, REPORT_LIMIT)
    work_done = form.get("work_done", "").strip()
    if not work_done:
        errors["work_done"] = "describe the work done"
    fixed = form.get("fixed", "")
    if fixed not in ("yes", "no"):
        errors["fixed"] = "say whether the problem is fixed"
    used: dict[int, int] = {}
    pairs = [(k[4:], v) for k, v in form.items() if k.startswith("qty_")]
    pairs.append((form.get("other_part", ""), form.get("other_qty", "") if form.get("other_part") else ""))
    for part, qty in pairs:
        qty = qty.strip()
        if not part or not qty or qty == "0":
            continue
        if not part.isdecimal() or not qty.isdecimal() or int(qty) > 10000:
            errors[f"qty_{part}" if part.isdecimal() else "other_part"] = "a whole number of parts (0–10000)"
            continue
        used[int(part)] = used.get(int(part), 0) + int(qty)
    if errors:
        refused = invalid(errors)
        refused.detail = "; ".join(
            f"{part_names.get(field) or field_label(field)}: {message}" for field, message in errors.items()
        )
        raise refused
    return work_done, fixed == "yes", sorted(used.items())
