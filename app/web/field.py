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
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.engineers import service as engineers
from app.field.inventory import reservations
from app.field.inventory.stock import Shortage
from app.field.workorders import service as workorders
from app.field.workorders import visits as workorder_visits
from app.field.workorders.asset_file import asset_file
from app.field.workorders.filed import report_refusal
from app.field.workorders.pickup import pickup_refusal
from app.field.workorders.queries import usage_of, visible_work_order
from app.field.workorders.status import TERMINAL, UNDONE_TO
from app.field.workorders.visits import REPORTED
from app.models import (
    Engineer,
    IdempotencyRecord,
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
from app.planning.schemas import PartLine, RouteRead, StopRead
from app.platform.config import get_settings
from app.platform.db import utcnow
from app.platform.errors import AppError, Conflict, Forbidden, NotFound
from app.platform.http import idempotent_create
from app.platform.inputs import INT_MAX
from app.platform.text import is_blank
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
    # The page sends no ETA with "On my way", so the visit keeps its planned one (docs/workorders.md):
    # it said "the customer's ETA is updated" and nothing was.
    "en-route": "You are on your way; the ETA stays as planned. Tapped by mistake? “Not on my way” "
    "takes it back.",
    "en-route-undone": "Not on your way: the visit is back to scheduled, with its planned ETA.",
    "checked-in": "Checked in.",
    "checked-out": "Checked out.",
    "check-in-undone": "Check-in undone: the visit is back on your route as it was, and the ticket "
    "no longer shows you on site. Check in when you really arrive.",
    "reported": "Service report filed.",
    "picked-up": "Pickup confirmed: the parts are in your van.",
    # a repeat (another tab, a reload) of what already happened: said as such, not as a success
    "already-checked-in": "You were already checked in; nothing changed.",
    "already-checked-out": "You had already checked out; nothing changed.",
    "already-picked-up": "You had already confirmed this pickup; nothing changed.",
    "replayed": "That was already done (the form was sent twice); nothing changed.",
}
# A refused action without typed input redirects to the visit page with `?refused=<action>`
# (Post/Redirect/Get: a reload does not send the form again); the page says why it is refused
# now, or this when it would be allowed now (the visit had changed since the form was shown).
REFUSED = {
    "undo-check-in": "Nothing was undone: this visit changed while the page was open. Check it below "
    "and try again.",
    "check-in": "You were not checked in: this visit changed while the page was open. Check it "
    "below and try again.",
    "en-route": "You are not on your way yet: this visit changed while the page was open. Check it "
    "below and try again.",
    "not-en-route": "Nothing was taken back: this visit changed while the page was open. Check it "
    "below and try again.",
    "check-out": "You were not checked out: this visit changed while the page was open. Check it "
    "below and try again.",
    "pickup": "The pickup was not confirmed: this visit or its parts changed meanwhile. Check them "
    "below and try again.",
}
# Why each of those actions is refused on the visit as it is now (None: it would be allowed now).
REFUSAL: dict[str, Callable[[Session, Engineer, WorkOrder], Conflict | None]] = {
    "undo-check-in": lambda db, me, wo: workorder_visits.undo_refusal(db, wo, _account(db, me), utcnow()),
    "check-in": lambda db, me, wo: workorder_visits.check_in_refusal(db, wo, _account(db, me)),
    "en-route": lambda db, me, wo: workorders.en_route_refusal(db, wo),
    "not-en-route": lambda db, me, wo: workorders.turn_back_refusal(wo),
    "check-out": lambda db, me, wo: workorder_visits.check_out_refusal(wo),
    "pickup": lambda db, me, wo: pickup_refusal(db, wo, me.id),
}
# When each `?done=` message is still true of the visit. The banner comes from the address, so
# Back to an old page said "Checked in." above a visit since undone ("Scheduled"), or "Checked
# out." above a reported one; a message the visit has moved past is not shown.
STILL_TRUE: dict[str, Callable[[WorkOrder], bool]] = {
    "en-route": lambda wo: wo.status == WorkOrderStatus.en_route,
    "en-route-undone": lambda wo: wo.status == WorkOrderStatus.scheduled,
    "checked-in": lambda wo: wo.status == WorkOrderStatus.on_site,
    "already-checked-in": lambda wo: wo.status == WorkOrderStatus.on_site,
    "checked-out": lambda wo: wo.status == WorkOrderStatus.on_site and wo.checked_out_at is not None,
    "already-checked-out": lambda wo: wo.status == WorkOrderStatus.on_site and wo.checked_out_at is not None,
    "check-in-undone": lambda wo: wo.status in UNDONE_TO and wo.checked_in_at is None,
    "reported": lambda wo: wo.status in REPORTED,
    "picked-up": lambda wo: wo.status not in TERMINAL,
    "already-picked-up": lambda wo: wo.status not in TERMINAL,
    "replayed": lambda wo: True,  # says nothing of the visit's state
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
        "started_at": started_at(route),
        # keyed like the map's points (stop seq + 1), which route-map.js reads them by
        "marks": {seq + 1: mark for seq, mark in stop_marks(route).items() if mark},
        "map": data,
        "sketch": sketch(data["points"]),
        "tz": route.timezone,
        "key": secrets.token_urlsafe(16),  # one-time form keys: a resent form is not run twice
    }
    return render(request, "field/route.html", context, headers=_page_headers())


STARTED = frozenset({WorkOrderStatus.on_site.value, *TERMINAL} - {WorkOrderStatus.cancelled.value})


def started_at(route: RouteRead) -> datetime | None:
    """When the day really started: the first visit checked in (shown at its real times), else None.
    The header then says "started 13:15" instead of the plan's departure, which a re-plan had
    moved after the visits already done ("leave 17:00" above a stop done 13:15–15:26)."""
    begun = [s.start_at for s in route.stops if s.kind == "job" and s.status in STARTED]
    return min(begun, default=None)


def stop_marks(route: RouteRead) -> dict[int, str]:
    """What each stop is called, by its seq: visits 1, 2, 3… in route order, a pickup "P", a break
    nothing. The route page's circles (list, map, sketch) and the visit page's "stop 4" both read
    it, so "2 visits" ends at 2 and the visit page means the same stop as the route."""
    marks: dict[int, str] = {}
    visits = 0
    for s in route.stops:
        if s.kind == "job":
            visits += 1
            marks[s.seq] = str(visits)
        else:
            marks[s.seq] = "P" if s.kind == "pickup" else ""
    return marks


def _stop_of(db: Session, me: Engineer, work_order: WorkOrder) -> tuple[StopRead | None, RouteRead | None]:
    """The visit as it stands on its day's route (ETA, parts and where they come from)."""
    day = plan_routes.route_day(work_order, engineers.timezone_of(db, me))
    if day is None:
        return None, None
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
    to_pick = _unconfirmed_pickups(stop)
    done = request.query_params.get("done", "")
    refused = request.query_params.get("refused", "")
    if not error and refused in REFUSED:
        error = _refusal(db, me, work_order, refused)
        status_code = 409  # the answer to a refused form, as when it was shown at the form's address
    context = {
        "nav": "route",
        "wo": work_order,
        "stop": stop,
        "stop_no": stop_marks(route).get(stop.seq, "") if stop and route else "",
        "route": route,
        "ticket": ticket,
        "to_pick": to_pick,
        "van_parts": _van_parts(db, me) if work_order.status == WorkOrderStatus.on_site else [],
        "other_rows": OTHER_ROWS,
        "finished": work_order.status in TERMINAL,
        "parts_used": _parts_used(db, work_order) if work_order.status in TERMINAL else [],
        "report": report or {"input": {}, "fields": {}},
        "error": error,
        "flash": DONE.get(done, "") if done in STILL_TRUE and STILL_TRUE[done](work_order) else "",
        "key": secrets.token_urlsafe(16),
        "tz": route.timezone if route else engineers.timezone_of(db, me),
        "articles": visit_articles(db, ticket),
        "planned_for": (planned_for := _planned_day_if_not_today(db, me, work_order)),
        # Not a later day's visit (refused); an overdue one from an earlier day is gone to today.
        "may_go": planned_for is None or planned_for < _today(db, me),
        "undo_until": _undo_until(db, me, work_order),
        "asset": asset_file(db, work_order, today=_today(db, me)),
    }
    return render(request, "field/visit.html", context, status_code=status_code)


def _undo_until(db: Session, me: Engineer, work_order: WorkOrder) -> Any:
    """Until when "Undo check-in" is offered to the engineer (None: not now). The page drops it
    when the grace period is over; a form sent after that is refused with the reason."""
    until = workorder_visits.undo_deadline(db, work_order, _account(db, me))
    return until if until is not None and utcnow() <= until else None


def _account(db: Session, me: Engineer) -> User | None:
    return db.get(User, me.user_id) if me.user_id is not None else None


def _refusal(db: Session, me: Engineer, work_order: WorkOrder, action: str) -> str:
    """Why `action` (a key of REFUSED) is refused on the visit as it is now, in the engineer's
    words: the page after `?refused=` says it at the visit's own address."""
    refused = REFUSAL[action](db, me, work_order)
    if refused is None:
        return REFUSED[action]
    return str(refused.extra.get("hint") or page_error(refused))


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
def visit_page(
    work_order_id: int, request: Request, db: PageDb, user: PageUser, me: Me, draft: str = ""
) -> HTMLResponse:
    work_order = _my_visit(db, user, work_order_id)
    kept = _draft(db, user, work_order, draft)
    if kept is None:
        return _visit_page(request, db, me, work_order)
    state, status_code = kept
    error = str(state.pop("error", ""))
    return _visit_page(request, db, me, work_order, report=state, error=error, status_code=status_code)


DRAFT_KEY = "field-report-draft:"


def _draft(db: Session, user: User, work_order: WorkOrder, token: str) -> tuple[dict[str, Any], int] | None:
    """The refused report kept by `VisitForm.keep_draft` (typed input, field errors, the reason)
    and the refusal's status, while the visit is open; once it is finished (the corrected report
    filed, then Back) the old refusal would mislead, and the page shows the visit as it is,
    unless the report was refused because the visit was finished already."""
    if not token or len(token) > 64:
        return None
    ttl = timedelta(hours=get_settings().idempotency_ttl_h)
    record = db.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user.id,
            IdempotencyRecord.key == DRAFT_KEY + token,
            IdempotencyRecord.path == f"/field/visits/{work_order.id}",
            IdempotencyRecord.created_at >= utcnow() - ttl,
        )
    )
    if record is None or not isinstance(record.response_body, dict):
        return None
    state = dict(record.response_body)
    # Refused on a visit already finished (another tab filed its report): that stays true, and the
    # page keeps the typed text to copy.
    if work_order.status in TERMINAL and not state.pop("finished", False):
        return None
    return state, record.status_code


def _expect_version(work_order: WorkOrder, version: str) -> None:
    # A finished visit changes no more: each action's own refusal says so, and when and by whom
    # its report was filed, which tells a second tab more than "was changed".
    if work_order.status in TERMINAL:
        return
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
        refused: str = "",
    ) -> Response:
        """Run one field action once per form key, then show the visit again (Post/Redirect/Get).
        A refusal shows the visit as it is now with the reason; with `refused` (a key of REFUSED:
        nothing typed to keep) it redirects too, and the visit page says why, so a reload of the
        page does not send the form again; with `typed` it keeps that draft and redirects to it
        (`keep_draft`)."""
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
            if refused:
                return RedirectResponse(f"/field/visits/{work_order_id}?refused={refused}", status_code=303)
            if typed is not None:
                return self.keep_draft(typed, exc)
            current = workorders.get_work_order(db, work_order_id)
            state = {"input": {}, "fields": field_errors(exc)}
            error = exc.extra.get("hint") or page_error(exc)  # "Check in first", not state names
            return self.page(current, report=state, error=error, status_code=exc.status_code)
        if answer.headers.get("Idempotent-Replayed"):
            done = "replayed"
        return RedirectResponse(f"/field/visits/{work_order_id}?done={done}", status_code=303)

    def keep_draft(self, typed: dict[str, str], exc: AppError) -> Response:
        """A refused report: its typed text, parts and choices with the reason are kept server-side
        and the visit page shows them at a GET address (Post/Redirect/Get). Rendered at the POST
        address, Back after the corrected report was filed asked to send the form again."""
        token = secrets.token_urlsafe(16)
        state = {
            "input": {k: v for k, v in typed.items() if k not in ("csrf", "key")},
            "fields": field_errors(exc),
            "error": exc.extra.get("hint") or page_error(exc),
            "finished": self.work_order.status in TERMINAL,  # read again: the refusal rolled back
        }
        url = f"/field/visits/{self.work_order.id}"
        # The one-time form keys' table holds it: per user, purged after IDEMPOTENCY_TTL_H like them.
        self.db.add(
            IdempotencyRecord(
                user_id=self.user.id,
                key=DRAFT_KEY + token,
                method="GET",
                path=url,
                request_hash="",
                status_code=exc.status_code,
                response_body=jsonable_encoder(state),
                response_headers={},
            )
        )
        return RedirectResponse(f"{url}?draft={token}", status_code=303)

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
    def _go(wo: WorkOrder) -> None:
        refused = workorders.en_route_refusal(visit.db, wo)  # in the engineer's words
        if refused is not None:
            raise refused
        workorders.transition(
            visit.db, work_order=wo, to="en_route", actor=visit.user, reason="engineer on the way"
        )

    return visit.act(
        key=key, version=version, body={"to": "en_route"}, action=_go, done="en-route", refused="en-route"
    )


@router.post("/field/visits/{work_order_id}/not-en-route", response_model=None)
def not_en_route(visit: Visit, key: FormStr = "", version: FormStr = "") -> Response:
    """A mistaken "On my way" (or turning back): the visit is scheduled again with its planned ETA."""

    def _back(wo: WorkOrder) -> None:
        refused = workorders.turn_back_refusal(wo)
        if refused is not None:
            raise refused
        workorders.transition(
            visit.db, work_order=wo, to="scheduled", actor=visit.user, reason="not on the way (engineer)"
        )

    return visit.act(
        key=key,
        version=version,
        body={"to": "scheduled"},
        action=_back,
        done="en-route-undone",
        refused="not-en-route",
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
    wo = visit.work_order
    already = wo.checked_in_at is not None and wo.status not in TERMINAL  # a finished visit: 409
    return visit.act(
        key=key,
        version=version,
        body={"lat": lat, "lon": lon},
        action=lambda wo: workorder_visits.check_in(
            visit.db, work_order=wo, actor=visit.user, latitude=lat, longitude=lon
        ),
        done="already-checked-in" if already else "checked-in",
        refused="check-in",  # at the visit's address: a reload does not send the check-in again
    )


def _position(latitude: str, longitude: str) -> tuple[float | None, float | None]:
    """The phone's position fix, when it gave one; a garbled or partial fix is ignored."""
    try:
        lat, lon = float(latitude), float(longitude)
    except ValueError:
        return None, None
    return (lat, lon) if -90 <= lat <= 90 and -180 <= lon <= 180 else (None, None)


@router.post("/field/visits/{work_order_id}/undo-check-in", response_model=None)
def undo_check_in(visit: Visit, key: FormStr = "", version: FormStr = "") -> Response:
    """Checked in at the wrong visit: take it back (confirmed on the page first)."""
    return visit.act(
        key=key,
        version=version,
        body={"undo": "check_in"},
        action=lambda wo: workorder_visits.undo_check_in(visit.db, work_order=wo, actor=visit.user),
        done="check-in-undone",
        refused="undo-check-in",
    )


@router.post("/field/visits/{work_order_id}/check-out", response_model=None)
def check_out(visit: Visit, key: FormStr = "", version: FormStr = "") -> Response:
    wo = visit.work_order
    already = wo.checked_out_at is not None and wo.status not in TERMINAL  # a finished visit: 409
    return visit.act(
        key=key,
        version=version,
        body={},
        action=lambda wo: workorder_visits.check_out(visit.db, work_order=wo, actor=visit.user),
        done="already-checked-out" if already else "checked-out",
        refused="check-out",
    )


@router.post("/field/visits/{work_order_id}/pickup", response_model=None)
def pickup(visit: Visit, key: FormStr = "", back: FormStr = "") -> Response:
    state = reservations.pickup_state(visit.db, work_order_id=visit.work_order.id, engineer_id=visit.me.id)

    def _pick(wo: WorkOrder) -> None:
        # a finished visit, nothing to fetch ("Pickup confirmed" would mislead), parts gone
        refused = pickup_refusal(visit.db, wo, visit.me.id)
        if refused is not None:
            raise refused
        reservations.confirm_pickup(visit.db, work_order=wo, engineer_id=visit.me.id, actor=visit.user)

    done = "picked-up" if state == "waiting" else "already-picked-up"
    answer = visit.act(key=key, version="", body={"pickup": True}, action=_pick, done=done, refused="pickup")
    # Confirmed from the route's pickup stop: back to the route. A refusal (a redirect too) goes
    # to the visit page, which says why.
    if back == "route" and "?done=" in answer.headers.get("location", ""):
        return RedirectResponse("/field?picked=1", status_code=303)
    return answer


async def _report_form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


@router.post("/field/visits/{work_order_id}/report", response_model=None)
def report(visit: Visit, form: Annotated[dict[str, str], Depends(_report_form)]) -> Response:
    try:
        work_done, fixed, used = _read_report(form, _catalogue(visit.db, form))
    except AppError as exc:
        # On a finished visit (another tab filed it) that is the reason to give, not the slip.
        finished = report_refusal(visit.db, visit.work_order, visit.user)
        return visit.keep_draft(form, finished or exc)

    def _file(wo: WorkOrder) -> None:
        try:
            workorder_visits.report(
                visit.db,
                work_order=wo,
                work_done=work_done,
                fixed=fixed,
                actor=visit.user,
                parts_used=[(p, q, None) for p, q in used],
            )
        except Shortage as exc:
            exc.detail += _pickup_hint(visit.db, visit.me, wo, {s["part_id"] for s in exc.extra["shortages"]})
            raise

    return visit.act(
        key=form.get("key", ""),
        version=form.get("version", ""),
        body={"work_done": work_done, "fixed": fixed, "parts": used},
        action=_file,
        done="reported",
        typed=form,
    )


def _unconfirmed_pickups(stop: StopRead | None) -> list[PartLine]:
    """The visit's parts still waiting at a warehouse: check-in does not require the pickup, so
    an engineer can be on site with them not in the van (as far as stock knows)."""
    return [p for p in (stop.parts if stop else []) if p.source == "warehouse" and not p.picked_up]


def _pickup_hint(db: Session, me: Engineer, work_order: WorkOrder, short: set[int]) -> str:
    """Why the van is short when the part is on a pickup not confirmed yet, and what to tap; a
    bare "0 in stock" made the engineer think the part was missing when it was in their hand."""
    waiting = [p for p in _unconfirmed_pickups(_stop_of(db, me, work_order)[0]) if p.part_id in short]
    if not waiting:
        return ""
    items = ", ".join(f"{p.quantity} × {p.name} at {p.warehouse_name or 'the warehouse'}" for p in waiting)
    return (
        f" You have not confirmed picking up {items}, so stock still has it at the warehouse: "
        "tap “I picked these up” under Parts first, then file the report again."
    )


# "Other part from the van" rows: a repair may use several van parts. Fixed rows work without
# JavaScript (field.js only hides the empty ones behind "Add another part"). The first row keeps
# its old names, so a page left open across an update still books its part.
OTHER_ROWS = (("other_part", "other_qty"), ("other_part_2", "other_qty_2"), ("other_part_3", "other_qty_3"))
MAX_QTY = 10000
NOT_IN_CATALOGUE = "that part is not in our catalogue"


def _part_id(value: str) -> int | None:
    value = value.strip()
    # the length first: int() refuses more than 4300 digits, which a forged form may send
    return int(value) if value.isdecimal() and len(value) <= 10 and int(value) <= INT_MAX else None


def _catalogue(db: Session, form: dict[str, str]) -> dict[int, tuple[str, str]]:
    """Name and SKU of every part the report form names (the visit's parts and the chosen other
    parts), so messages say "Druckschalter (PMP-5005)" and an unknown id is caught here."""
    ids = {_part_id(k[4:]) for k in form if k.startswith("qty_")}
    ids |= {_part_id(form.get(part, "")) for part, _ in OTHER_ROWS}
    ids.discard(None)
    rows = db.execute(select(Part.id, Part.name, Part.sku).where(Part.id.in_(ids))).tuples()
    return {pid: (name, sku) for pid, name, sku in rows}


def _read_report(
    form: dict[str, str], catalogue: dict[int, tuple[str, str]]
) -> tuple[str, bool, list[tuple[int, int]]]:
    """Work done, fixed first time, and the parts used: `qty_<part id>` inputs for the visit's
    parts (0 or empty: not used) and the 'other part from the van' rows (a chosen part with no
    quantity is a slip, refused rather than dropped). ``catalogue``: name and SKU by part id."""
    errors = too_long(form, REPORT_LIMIT)
    work_done = form.get("work_done", "").strip()
    if is_blank(work_done):
        errors["work_done"] = "describe the work done"
    fixed = form.get("fixed", "")
    if fixed not in ("yes", "no"):
        errors["fixed"] = "say whether the problem is fixed"
    labels: dict[str, str] = {}  # the part each input is about, for the message at the top
    used: dict[int, int] = {}

    def count(field: str, part: str, qty: str, *, chosen: bool) -> None:
        pid = _part_id(part)
        if pid is None or pid not in catalogue:  # a forged or deleted id: never show the id itself
            labels[field] = field_label(field) if chosen else "Parts used"
            errors[field] = NOT_IN_CATALOGUE
            return
        name, sku = catalogue[pid]
        labels[field] = f"{name} ({sku})"
        low = 1 if chosen else 0
        if not qty and not chosen:
            return
        if not qty.isdecimal() or len(qty) > 6 or not low <= int(qty) <= MAX_QTY:
            errors[field] = (
                f"you chose this part: enter how many you used ({low}–{MAX_QTY}) or set it back to “none”"
                if chosen and qty.strip("0") == ""
                else f"a whole number of parts, {low}–{MAX_QTY}"
            )
            return
        if int(qty):
            used[pid] = used.get(pid, 0) + int(qty)

    for key, qty in form.items():
        if key.startswith("qty_"):
            count(key, key[4:], qty.strip(), chosen=False)
    for part, qty in OTHER_ROWS:
        if form.get(part, "").strip():  # no part chosen: its quantity (pre-filled 1) means nothing
            count(part, form[part], form.get(qty, "").strip(), chosen=True)
    if errors:
        refused = invalid(errors)
        refused.detail = "; ".join(
            f"{labels.get(field) or field_label(field)}: {message}" for field, message in errors.items()
        )
        raise refused
    return work_done, fixed == "yes", sorted(used.items())
