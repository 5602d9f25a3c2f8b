"""/api/v1/kpis: KPI figures per local period with the previous period, CSV export, drill-down.

Managers and admins see every metric; dispatchers only the operational ones (backlog, on-time
arrival, SLA arrival attainment, SLA at risk); agents and engineers get 403 on every route.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.insights import drill as drilling
from app.insights import drivers, lists, records, service
from app.insights.metrics import METRICS
from app.insights.records import Filters
from app.models import Role, User
from app.platform.config import get_settings
from app.platform.csv_export import csv_text
from app.platform.deps import CurrentUser, DbSession
from app.platform.errors import Forbidden, Unprocessable, refuse

router = APIRouter(prefix="/kpis", tags=["kpis"])
DEFAULT_DAYS = 90


def local_today() -> date:
    return datetime.now(UTC).astimezone(ZoneInfo(get_settings().time_zone)).date()


def kpi_user(user: CurrentUser) -> User:
    if not service.visible_metrics(user.role):
        raise Forbidden("KPIs are for managers, admins and (the operational ones) dispatchers.")
    return user


KpiUser = Annotated[User, Depends(kpi_user)]


def build_query(
    user: User,
    *,
    metric: str | None,
    period: Literal["day", "week", "month"],
    start: date | None,
    end: date | None,
    group_by: str | None,
    filters: Filters,
    business: bool,
) -> service.Query:
    """The query a user may ask: `metric` is one name or a comma list; none = all they may see
    that can be sliced as asked (engineer-days have no channel: with a channel filter they are
    left out, while asking for them by name with one is a 422)."""
    allowed = service.visible_metrics(user.role)
    keys = {*filters.active(), *([group_by] if group_by else [])}
    sliceable = tuple(m for m in allowed if keys <= set(METRICS[m].keys))
    names = tuple(m.strip() for m in metric.split(",") if m.strip()) if metric else sliceable
    hidden = [m for m in names if m in METRICS and m not in allowed]
    if hidden:
        # the detail in the cards' words (a page shows it as it is); `errors` keeps the ids
        raise Forbidden(
            f"Your role may not see {_labels(hidden)}; dispatchers see {_labels(allowed)}.",
            errors=[
                {
                    "field": "metric",
                    "message": f"not for your role: {', '.join(hidden)}; yours: {', '.join(allowed)}",
                }
            ],
        )
    end = end or local_today()
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    return service.Query(names, period, start, end, group_by or None, filters, business)


def _labels(names: Sequence[str]) -> str:
    return ", ".join(METRICS[m].label for m in names)


class Params:
    """The query parameters every KPI route shares."""

    def __init__(
        self,
        metric: str | None = None,
        period: Literal["day", "week", "month"] = "week",
        start: Annotated[date | None, Query(alias="from")] = None,
        end: Annotated[date | None, Query(alias="to")] = None,
        group_by: str | None = None,
        region: str | None = None,
        engineer: str | None = None,
        product_model: str | None = None,
        tier: str | None = None,
        channel: str | None = None,
        time: Literal["calendar", "business"] = "calendar",
    ) -> None:
        self.metric, self.period, self.start, self.end, self.group_by = metric, period, start, end, group_by
        self.filters = Filters(
            region=region or None,
            engineer=engineer or None,
            product_model=product_model or None,
            tier=tier or None,
            channel=channel or None,
        )
        self.business = time == "business"

    def query(self, user: User) -> service.Query:
        return build_query(
            user,
            metric=self.metric,
            period=self.period,
            start=self.start,
            end=self.end,
            group_by=self.group_by,
            filters=self.filters,
            business=self.business,
        )


CSV_COLUMNS = (
    "metric", "group_by", "group", "group_name", "period", "start", "end", "value", "n", "unit", "ci_low",
    "ci_high", "p90", "previous_value", "previous_n",
)  # fmt: skip
# `group` of the rows over everything (the total and the series), and of the group of records
# without a value of `group_by` (no engineer): both were "", so the two totals could not be told apart.
ALL_GROUP, NO_GROUP = "(all)", "(none)"


def to_csv(result: dict[str, Any]) -> str:
    """One row per figure: the total, each period of the series and each group's total. `group`
    is the group's key (an engineer's id, a region's code), `group_name` how the dashboard names it."""
    rows: list[list[Any]] = []

    def row(
        metric: str, group: tuple[str, str], period: str, start: str, end: str, fig: dict[str, Any]
    ) -> None:
        prev = fig.get("previous") or {}
        rows.append(
            [metric, result["group_by"] or "", *group, period, start, end, fig.get("value"), fig.get("n"),
             fig.get("unit"), fig.get("ci_low"), fig.get("ci_high"), fig.get("p90"), prev.get("value"),
             prev.get("n")]
        )  # fmt: skip

    everything = (ALL_GROUP, ALL_GROUP)
    for m in result["metrics"]:
        row(m["metric"], everything, "total", result["from"], result["to"], m["total"])
        for p in m["series"]:
            row(m["metric"], everything, p["period"], p["start"], p["end"], p)
        for g in m["groups"]:
            group = (g["key"], g["label"]) if g["key"] else (NO_GROUP, NO_GROUP)
            row(m["metric"], group, "total", result["from"], result["to"], g["total"])
    # group names are typed by people (an engineer's name): csv_text keeps them from being formulas
    return csv_text(CSV_COLUMNS, rows)


class CsvResponse(Response):
    """The `.csv` routes' response class: it makes their OpenAPI say text/csv, not JSON."""

    media_type = "text/csv"


# `format=csv` answers the same route in CSV: the OpenAPI lists both.
OR_CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "JSON, or CSV with format=csv",
    }
}


def csv_download(text: str, name: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _csv_response(result: dict[str, Any]) -> Response:
    return csv_download(to_csv(result), f"kpis-{result['from']}-{result['to']}.csv")


@router.get("", responses=OR_CSV)
def kpis(
    db: DbSession,
    user: KpiUser,
    params: Annotated[Params, Depends()],
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Each metric: total over [from, to] with the same-length window before, a series of local
    periods (day / ISO week / month) each with its previous period, and per-group totals."""
    result = service.run(db, params.query(user))
    return _csv_response(result) if format == "csv" else result


@router.get(".csv", response_class=CsvResponse)
def kpis_csv(db: DbSession, user: KpiUser, params: Annotated[Params, Depends()]) -> Response:
    return _csv_response(service.run(db, params.query(user)))


def manager_only(user: KpiUser) -> User:
    if user.role not in (Role.manager.value, Role.admin.value):
        raise Forbidden("The follow-up and renewal lists and the drivers view are for managers and admins.")
    return user


ManagerOnly = Annotated[User, Depends(manager_only)]


def check_filters(db: Session, filters: Filters) -> None:
    """The filter values the lists are read with name something, as /kpis checks them
    (`service.check`): "region=NOPE" answered an empty list as if the region had none, and an
    engineer id past the database's integers was a 500."""
    refuse(records.unknown_values(db, filters))


@router.get("/detractors")
def detractors(db: DbSession, user: ManagerOnly, params: Annotated[Params, Depends()]) -> dict[str, Any]:
    """Recovery tickets opened for detractor answers in [from, to]: open ones first, then newest."""
    query = params.query(user)
    # the window as /kpis checks it: a reversed, too long or future one answered an empty list
    refuse([*records.unknown_values(db, query.filters), *service.window_errors(query)])
    items = lists.detractor_follow_ups(db, start=query.start, end=query.end, filters=query.filters)
    return {"from": query.start.isoformat(), "to": query.end.isoformat(), "items": items}


@router.get("/renewal-risk")
def renewal_risk(db: DbSession, user: ManagerOnly, params: Annotated[Params, Depends()]) -> dict[str, Any]:
    """Accounts renewing within 120 days, lowest health score first (region and tier filters apply)."""
    query = params.query(user)
    check_filters(db, query.filters)
    today = local_today()
    return {"as_of": today.isoformat(), "items": lists.renewal_risk(db, today=today, filters=query.filters)}


@router.get("/drill")
def drill(
    db: DbSession,
    user: KpiUser,
    params: Annotated[Params, Depends()],
    group: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    after: Annotated[str | None, Query(max_length=80)] = None,
) -> dict[str, Any]:
    """The tickets, SLA clocks, visits or engineer-days behind one metric's figure over [from, to]
    (one group of `group_by` with `group`): `n` equals the figure's n. `after`: the previous
    page's `next_after`, which continues a keyset-paged list (app/insights/drill.py)."""
    query = params.query(user)
    if len(query.metrics) != 1:
        raise Unprocessable(
            "Drill down one metric at a time.",
            errors=[{"field": "metric", "message": "give exactly one metric"}],
        )
    return drilling.drill(db, query, group_value=group, offset=offset, limit=limit, after=after)


@router.get("/drivers", responses=OR_CSV)
def driver_effects(
    db: DbSession,
    user: ManagerOnly,
    params: Annotated[Params, Depends()],
    format: Literal["json", "csv"] = "json",
) -> Any:
    """Which visit facts move satisfaction over [from, to]: per fact the mean CSAT of the answers
    with and without it, both n, the difference and Welch's 95 % interval, largest effect first."""
    result = drivers.run(db, _drivers_query(user, params))
    return _drivers_csv(result) if format == "csv" else result


@router.get("/drivers.csv", response_class=CsvResponse)
def driver_effects_csv(db: DbSession, user: ManagerOnly, params: Annotated[Params, Depends()]) -> Response:
    return _drivers_csv(drivers.run(db, _drivers_query(user, params)))


@router.get("/drivers/drill")
def driver_drill(
    db: DbSession,
    user: ManagerOnly,
    params: Annotated[Params, Depends()],
    fact: str,
    side: str,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    """The answers behind one side (`with` or `without`) of one fact: `n` equals that side's n."""
    query = _drivers_query(user, params)
    return drivers.drill(db, query, fact=fact, side=side, offset=offset, limit=limit)


def _drivers_query(user: User, params: Params) -> service.Query:
    """The CSAT figure's query (its window and filters); the drivers are not grouped."""
    params.metric, params.group_by = "csat", None
    return params.query(user)


def _drivers_csv(result: dict[str, Any]) -> Response:
    text = csv_text(drivers.CSV_COLUMNS, drivers.csv_rows(result))
    return csv_download(text, f"drivers-{result['from']}-{result['to']}.csv")
