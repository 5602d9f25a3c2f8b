"""The manager dashboard: KPI cards with the trend against the previous period, a chart per KPI
with the same numbers in a table beside it, filters, and the drill-down lists.

The figures come from `app.insights.service.run`, exactly what GET /api/v1/kpis answers for the
same parameters, so the page and the API cannot disagree. The chart (chart.js, served locally)
is drawn from the table, which is also the accessible fallback when scripts do not run.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from app.insights import drill as drilling
from app.insights import drivers, lists, records, service
from app.insights.api import Params, local_today
from app.insights.metrics import METRICS
from app.models import Engineer, ProductModel, Region, Role, User
from app.platform.errors import Forbidden, Unprocessable
from app.web.shared import PageDb, PageRoute, PageUser, fmt_date, fmt_dt, parse_day, render

router = APIRouter(route_class=PageRoute)
# For these a fall is an improvement (the trend arrow is green going down).
LOWER_IS_BETTER = frozenset(
    {"first_response_time", "time_to_arrive", "time_to_resolve", "reopen_rate", "repeat_visit_rate",
     "travel_share", "backlog", "sla_at_risk"}
)  # fmt: skip
PAGE = 50


def kpi_page_user(user: PageUser) -> User:
    if not service.visible_metrics(user.role):
        raise Forbidden(
            "The KPI dashboard is for managers, admins and dispatchers. Your account "
            f"({user.email}, role {user.role}) cannot open it."
        )
    return user


KpiPageUser = Annotated[User, Depends(kpi_page_user)]


# A duration is read in the unit its size asks for (up to 90 minutes in minutes, up to two days
# in hours, then days). A card picks one from its total and writes every figure of the card in it
# (previous period, p90, the table, the chart), so that a column never mixes units.
DURATION_UNITS: tuple[tuple[float, float, str, str], ...] = (
    (90.0, 1.0, "min", "minutes"),
    (48 * 60.0, 60.0, "h", "hours"),
    (math.inf, 24 * 60.0, "d", "days"),
)


@dataclass(frozen=True, slots=True)
class DurationUnit:
    per_min: float  # minutes in one unit
    short: str  # "min", "h", "d"
    name: str  # for the chart's axis


def duration_unit(minutes: float | int | None) -> DurationUnit:
    size = abs(float(minutes)) if minutes is not None else 0.0
    _, per, short, name = next(u for u in DURATION_UNITS if size < u[0])
    return DurationUnit(per, short, name)


def shown(value: float | int | None, unit: str, duration: DurationUnit | None = None) -> str:
    """How a figure reads on the page (the e2e test reads it back the same way). ``duration``: the
    card's unit for minutes (default: the one this value's size asks for)."""
    if value is None:
        return "–"
    if unit == "percent":
        return f"{value:.1f} %"
    if unit == "points":
        return f"{value:+.0f}"
    if unit == "minutes":
        d = duration or duration_unit(value)
        return f"{value:.0f} min" if d.short == "min" else f"{value / d.per_min:.1f} {d.short}"
    if unit == "score":
        return f"{value:.2f}"
    return f"{value:.0f}"


def trend(
    metric: str,
    current: dict[str, Any],
    previous: dict[str, Any] | None,
    duration: DurationUnit | None = None,
) -> dict[str, str]:
    """Arrow and wording for the change against the previous period, coloured by what is better.
    A change too small to show at the figure's precision reads "same as before", not "up 0 min"."""
    now, before = current.get("value"), (previous or {}).get("value")
    if now is None or before is None:
        return {"arrow": "", "text": "no comparison", "tone": "muted"}
    delta = float(now) - float(before)
    unit = METRICS[metric].unit
    change = f"{abs(delta):.1f} pts" if unit == "percent" else shown(abs(delta), unit, duration).lstrip("+")
    if not any(ch in "123456789" for ch in change):
        return {"arrow": "→", "text": "same as before", "tone": "muted"}
    better = (delta < 0) == (metric in LOWER_IS_BETTER)
    return {
        "arrow": "▲" if delta > 0 else "▼",
        "text": f"{'up' if delta > 0 else 'down'} {change} on the previous period",
        "tone": "ok" if better else "warn",
    }


def _choices(db: PageDb) -> dict[str, list[tuple[str, str]]]:
    return {
        "region": [(c, n) for c, n in db.execute(select(Region.code, Region.name).order_by(Region.name))],
        "engineer": [
            (str(i), n)
            for i, n in db.execute(
                select(Engineer.id, Engineer.name).where(Engineer.active.is_(True)).order_by(Engineer.name)
            )
        ],
        "product_model": [
            (c, f"{n} ({c})")
            for c, n in db.execute(select(ProductModel.code, ProductModel.name).order_by(ProductModel.name))
        ],
        "tier": [(t, t) for t in ("standard", "silver", "gold", "platinum")],
        "channel": [(c, c) for c in ("phone", "email", "web", "api")],
    }


def _query_string(params: Params, **extra: str) -> str:
    base: dict[str, str] = {
        "period": params.period,
        "time": "business" if params.business else "calendar",
        **{k: v for k, v in params.filters.active().items()},
    }
    if params.start:
        base["from"] = params.start.isoformat()
    if params.end:
        base["to"] = params.end.isoformat()
    if params.group_by:
        base["group_by"] = params.group_by
    return urlencode({**base, **extra})


# The dashboard's form fields as the page labels them, for errors shown by their field.
FORM_LABELS = {
    "from": "From", "to": "To", "period": "Period", "time": "Durations in", "group_by": "Group by",
    "region": "Region", "engineer": "Engineer", "product_model": "Product model", "tier": "Tier",
    "channel": "Channel", "metric": "Metric",
}  # fmt: skip
CHOICES = {"period": ("day", "week", "month"), "time": ("calendar", "business")}


@dataclass(frozen=True, slots=True)
class Typed:
    """The dashboard's query as typed (the form shows it back) and what is wrong with it."""

    params: Params  # with every unreadable value left at its default
    values: dict[str, str]
    errors: dict[str, str]  # form field → message


def read_typed(request: Request) -> Typed:
    """The dashboard reads its own query string, so that a bad filter re-renders the dashboard with
    the form as typed and the error by its field; a dependency's RequestValidationError could only
    be a bare error page. The API keeps `Params` and its problem+json."""
    q = request.query_params
    values = {key: q.get(key, "").strip() for key in FORM_LABELS}
    errors: dict[str, str] = {}
    days: dict[str, date | None] = {}
    for key in ("from", "to"):
        try:
            days[key] = parse_day(values[key])
        except ValueError as exc:
            errors[key], days[key] = str(exc), None
    for key, allowed in CHOICES.items():
        if values[key] and values[key] not in allowed:
            errors[key] = f"one of {', '.join(allowed)}"
    period = values["period"] if values["period"] in CHOICES["period"] else "week"
    params = Params(
        metric=values["metric"] or None,
        period=period,  # type: ignore[arg-type]
        start=days["from"],
        end=days["to"],
        group_by=values["group_by"] or None,
        region=values["region"],
        engineer=values["engineer"],
        product_model=values["product_model"],
        tier=values["tier"],
        channel=values["channel"],
        time="business" if values["time"] == "business" else "calendar",
    )
    return Typed(params, values, errors)


_PARAM = re.compile(r"`(\w+)`")


def _labelled(message: str) -> str:
    """The service names the API's parameters (`from`); the dashboard says its labels (“From”)."""
    return _PARAM.sub(lambda m: f"“{FORM_LABELS[m[1]]}”" if m[1] in FORM_LABELS else m[0], message)


def _merge(typed: Typed, exc: Unprocessable) -> dict[str, str]:
    """The service's errors by form field; a field already wrong as typed keeps its own message."""
    found = {str(e.get("field", "")): _labelled(str(e.get("message", ""))) for e in exc.errors or []}
    if "to" in found and not typed.values["to"]:  # "To" left blank is today: the typed From is wrong
        found.setdefault("from", found["to"])
        del found["to"]
    return {**found, **typed.errors}


@router.get("/insights", response_class=HTMLResponse)
def dashboard(request: Request, db: PageDb, user: KpiPageUser) -> HTMLResponse:
    typed = read_typed(request)
    params = typed.params
    query = params.query(user)
    errors = dict(typed.errors)
    result: dict[str, Any] | None = None
    try:
        if errors:  # still name every other wrong filter at once, but compute nothing
            service.check(query, db)
        else:
            result = service.run(db, query)
    except Unprocessable as exc:
        errors = _merge(typed, exc)
    if errors or result is None:
        return _refused(request, db, user, typed, query, errors)
    manager = user.role in (Role.manager.value, Role.admin.value)
    cards = []
    for m in result["metrics"]:
        duration = duration_unit(m["total"].get("value")) if m["unit"] == "minutes" else None
        cards.append(
            {
                **m,
                "duration": duration,
                "shown": shown(m["total"].get("value"), m["unit"], duration),
                "p90_shown": shown(m["total"].get("p90"), m["unit"], duration),
                "ci_shown": interval(m["total"].get("ci_low"), m["total"].get("ci_high")),
                "previous_shown": shown((m["total"].get("previous") or {}).get("value"), m["unit"], duration),
                "trend": trend(m["metric"], m["total"], m["total"].get("previous"), duration),
                "left_out_note": left_out_note(m["total"].get("left_out"), m.get("left_out_reason")),
                "drill": "/insights/drill?" + _query_string(params, metric=m["metric"]),
                "series_rows": [
                    {
                        **p,
                        "shown": shown(p.get("value"), m["unit"], duration),
                        "previous_shown": shown((p.get("previous") or {}).get("value"), m["unit"], duration),
                        "drill": "/insights/drill?"
                        + _query_string(params, metric=m["metric"], **{"from": p["start"], "to": p["end"]}),
                    }
                    for p in m["series"]
                ],  # fmt: skip
                "group_rows": [
                    {
                        **g,
                        "shown": shown(g["total"].get("value"), m["unit"], duration),
                        "drill": "/insights/drill?"
                        + _query_string(params, metric=m["metric"], group=g["key"]),
                    }
                    for g in m["groups"]  # by name, "(none)" last (service._groups)
                ],  # fmt: skip
            }
        )
    return render(
        request,
        "insights/dashboard.html",
        {
            "nav": "insights",
            "result": result,
            "cards": cards,
            "params": params,
            "choices": _choices(db),
            "group_keys": service.GROUP_KEYS,
            "csv": "/api/v1/kpis.csv?" + _query_string(params),
            "drivers": "/insights/drivers?" + _query_string(params),
            "left_out": [
                METRICS[m].label for m in service.visible_metrics(user.role) if m not in query.metrics
            ],
            "detractors": lists.detractor_follow_ups(
                db, start=query.start, end=query.end, filters=query.filters
            )
            if manager
            else None,
            "renewals": lists.renewal_risk(db, today=local_today(), filters=query.filters)
            if manager
            else None,
        },
    )


def left_out_note(count: int | None, reason: str | None) -> str | None:
    """ "2 tickets left out: resolved before opened": records of the window whose times cannot
    give the figure (not in its n, so the manager knows the figure is short of them)."""
    if not count:
        return None
    return f"{count} ticket{'s' if count != 1 else ''} left out: {reason or 'inconsistent times'}"


def unknown_metric_text(typed: str, role: str) -> str | None:
    """`metric=` names no KPI: say so with the KPIs' names, not the 19 internal codes the API
    lists (the form has no metric field, so this stands at the top, not under a field)."""
    unknown = [m.strip() for m in typed.split(",") if m.strip() and m.strip() not in METRICS]
    if not unknown:
        return None
    names = ", ".join(METRICS[m].label for m in service.visible_metrics(role))
    asked = ", ".join(f"“{m[:40]}”" for m in unknown)
    return f"{asked} is not a KPI of this dashboard. Leave it out to see them all: {names}."


def _refused(
    request: Request,
    db: PageDb,
    user: User,
    typed: Typed,
    query: service.Query,
    errors: dict[str, str],
) -> HTMLResponse:
    """The dashboard with the form as typed and each error by its field, and no figures (422)."""
    choices = _choices(db)
    for key, options in choices.items():
        value = typed.values.get(key, "")
        # an unknown value stays in its select (marked), so the form holds what was asked
        if value and value not in {v for v, _ in options}:
            options.insert(0, (value, f"{value} (unknown)"))
    # The same for the form's own selects: "foo" shown as "nothing" looked like a valid choice.
    unknown = {
        key: typed.values[key]
        for key, allowed in (("period", CHOICES["period"]), ("group_by", service.GROUP_KEYS))
        if typed.values[key] and typed.values[key] not in allowed
    }
    if "metric" in errors and (text := unknown_metric_text(typed.values["metric"], user.role)):
        errors = {**errors, "metric": text}
    return render(
        request,
        "insights/dashboard.html",
        {
            "nav": "insights",
            "result": None,
            "cards": [],
            "params": typed.params,
            "typed": typed.values,
            "errors": {k: errors[k] for k in FORM_LABELS if k in errors}
            | {k: v for k, v in errors.items() if k not in FORM_LABELS},
            "labels": FORM_LABELS,
            "bad_days": [k for k in ("from", "to") if k in typed.errors],
            "choices": choices,
            "unknown": unknown,
            "group_keys": service.GROUP_KEYS,
            "left_out": [],
            "detractors": None,
            "renewals": None,
        },
        status_code=422,
    )


def interval(low: float | None, high: float | None) -> str:
    """The interval as words, "95 % from −17.4 to 20.2": a dash between two signed numbers
    ("-17.4–20.2") misreads."""
    if low is None or high is None:
        return ""

    def num(v: float) -> str:
        return f"{v:.1f}".replace("-", "\u2212")

    return f"95 % from {num(low)} to {num(high)}"


# Items whose number opens a ticket page (the others are visits, engineer-days).
TICKET_KINDS = frozenset({"ticket", "sla_clock", "answer", "survey"})


def drill_table(db: PageDb, items: list[dict[str, Any]]) -> tuple[list[str], list[list[dict[str, str]]]]:
    """The API's drill-down items as a person reads them: times in the desk's zone, yes/no, the
    engineer's name, no internal id beside the number. The API keeps ISO times and ids."""
    if not items:
        return [], []
    keys = [k for k in items[0] if k != "kind" and not (k == "id" and "number" in items[0])]
    ids = {int(i["engineer"]) for i in items if str(i.get("engineer") or "").isdecimal()}
    stmt = select(Engineer.id, Engineer.name).where(Engineer.id.in_(ids))
    names = {engineer_id: name for engineer_id, name in db.execute(stmt).tuples()} if ids else {}
    rows = []
    for item in items:
        row = []
        for key in keys:
            value = item.get(key)
            cell = {"text": _drill_text(key, value, names)}
            if key == "number" and item.get("kind") in TICKET_KINDS:
                cell["href"] = f"/desk/tickets/{item.get('ticket_id') or item['id']}"
            row.append(cell)
        rows.append(row)
    return [k.replace("_", " ") for k in keys], rows


def _drill_text(key: str, value: Any, engineers: dict[int, str]) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if (key.endswith("_min") or key.startswith("minutes")) and isinstance(value, float):
        return f"{value:.0f}"  # whole minutes on the page; the API keeps two decimals
    if key == "engineer" and str(value).isdecimal():
        return engineers.get(int(value), str(value))
    if isinstance(value, str) and (key.endswith("_at") or key.endswith("_from") or key.endswith("_to")):
        try:
            return fmt_dt(datetime.fromisoformat(value))
        except ValueError:
            return value
    if key == "day" and isinstance(value, str):
        try:
            return fmt_date(date.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


@router.get("/insights/drill", response_class=HTMLResponse)
def drill(
    request: Request,
    db: PageDb,
    user: KpiPageUser,
    params: Annotated[Params, Depends()],
    group: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    after: Annotated[str | None, Query(max_length=80)] = None,
) -> HTMLResponse:
    query = params.query(user)
    if len(query.metrics) != 1:
        raise Unprocessable("Choose one metric to list what is behind it.")
    body = drilling.drill(db, query, group_value=group, offset=offset, limit=PAGE, after=after)
    extra = {"metric": query.metrics[0], **({"group": group} if group is not None else {})}

    def page_at(at: int) -> str:
        return "/insights/drill?" + _query_string(params, **extra, offset=str(at))

    if body["next_after"] is not None:  # a keyset list goes on from its cursor
        extra["after"] = body["next_after"]
    return render(
        request,
        "insights/drill.html",
        {
            "nav": "insights",
            "metric": METRICS[query.metrics[0]],
            "body": body,
            "table": drill_table(db, body["items"]),
            "group": group_text(db, query.group_by, group),
            "past_end": past_end(body, page_at),
            "query": query,
            "back": "/insights?" + _query_string(params),
            "next": page_at(body["next_offset"]) if body["next_offset"] is not None else None,
        },
    )


def group_text(db: PageDb, key: str | None, value: str | None) -> str | None:
    """ "for region “Munich North”", "for engineer “Ada Byron”", "with no engineer": the group as the
    dashboard's group rows name it (an engineer's id read as "in group “17”")."""
    if key is None or value is None:
        return None
    words = key.replace("_", " ")
    if not value:
        return f"with no {words}"
    return f"for {words} “{records.labels(db, key, {value}).get(value, value)}”"


def past_end(body: dict[str, Any], page_at: Callable[[int], str]) -> dict[str, str] | None:
    """Links to the first and last page when a page past the end of a list that has items was asked
    for (an old link, a typed offset): it said "the figure has no sample" beside its n of 226."""
    if body["items"] or not body["n"]:
        return None
    last = (body["n"] - 1) // body["limit"] * body["limit"]
    return {"first": page_at(0), "last": page_at(last)}


def manager_page_user(user: KpiPageUser) -> User:
    if user.role not in (Role.manager.value, Role.admin.value):
        raise Forbidden(
            f"What moves satisfaction is for managers and admins. Your account ({user.email}, "
            f"role {user.role}) cannot open it."
        )
    return user


ManagerPageUser = Annotated[User, Depends(manager_page_user)]


def _drivers_params(params: Params) -> Params:
    """The drivers view takes the dashboard's window and filters, not its metric or grouping."""
    params.metric, params.group_by = "csat", None
    return params


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.2f}"


@router.get("/insights/drivers", response_class=HTMLResponse)
def drivers_page(
    request: Request, db: PageDb, user: ManagerPageUser, params: Annotated[Params, Depends()]
) -> HTMLResponse:
    """Which visit facts move satisfaction: the ranked table of GET /api/v1/kpis/drivers, with a
    bar chart of the differences drawn from it, and each side linked to its answers."""
    params = _drivers_params(params)
    result = drivers.run(db, params.query(user))
    drill = "/insights/drivers/drill?"
    rows = [
        {
            **f,
            "with_shown": shown(f["mean_with"], "score"),
            "without_shown": shown(f["mean_without"], "score"),
            "difference_shown": _signed(f["difference"]),
            "ci_shown": f"{f['ci_low']:+.2f} to {f['ci_high']:+.2f}" if f["ci_low"] is not None else "–",
            "drill_with": drill + _query_string(params, fact=f["fact"], side="with"),
            "drill_without": drill + _query_string(params, fact=f["fact"], side="without"),
        }
        for f in result["facts"]
    ]
    return render(
        request,
        "insights/drivers.html",
        {
            "nav": "insights",
            "result": result,
            "rows": rows,
            "params": params,
            "choices": _choices(db),
            "csv": "/api/v1/kpis/drivers.csv?" + _query_string(params),
            "back": "/insights?" + _query_string(params),
        },
    )


@router.get("/insights/drivers/drill", response_class=HTMLResponse)
def drivers_drill(
    request: Request,
    db: PageDb,
    user: ManagerPageUser,
    params: Annotated[Params, Depends()],
    fact: str,
    side: str,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    params = _drivers_params(params)
    query = params.query(user)
    body = drivers.drill(db, query, fact=fact, side=side, offset=offset, limit=PAGE)
    label = f"Answers {'with' if side == 'with' else 'without'}: {body['label'].lower()}"

    def page_at(at: int) -> str:
        return "/insights/drivers/drill?" + _query_string(params, fact=fact, side=side, offset=str(at))

    return render(
        request,
        "insights/drill.html",
        {
            "nav": "insights",
            "metric": {"label": label},
            "body": body,
            "table": drill_table(db, body["items"]),
            "group": None,
            "past_end": past_end(body, page_at),
            "query": query,
            "back": "/insights/drivers?" + _query_string(params),
            "back_label": "What moves satisfaction",
            "next": page_at(body["next_offset"]) if body["next_offset"] is not None else None,
        },
    )
