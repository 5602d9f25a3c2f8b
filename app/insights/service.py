"""Compute KPI figures for a query: each metric per local period with the period before, in total
and per group, and the items behind any figure (drill-down).

The rows are loaded once per request (`records`); each item is dated by its metric's time in its
own region's zone, bucketed by local date, and the library formula runs on each bucket range.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.sla import calendar as sla_calendar
from app.desk.sla import clock as sla_clock
from app.insights import aggregates, records
from app.insights.metrics import METRICS, OPERATIONAL, ClockItem, Context, Item, Metric, at_risk_figure
from app.models import BusinessCalendar, Role
from app.platform.config import get_settings
from app.platform.errors import Unprocessable
from surveys import kpis
from surveys.periods import Period, PeriodKind, local_date, period_of_date

MAX_DAYS = 400  # a longer window is refused: it would load years of rows into one request
GROUP_KEYS = records.KEYS


@dataclass(frozen=True, slots=True)
class Query:
    metrics: tuple[str, ...]
    period: PeriodKind
    start: date  # local dates, both included
    end: date
    group_by: str | None = None
    filters: records.Filters = field(default_factory=records.Filters)
    business: bool = False  # durations in business time (the tickets' SLA calendars)
    as_of: datetime = field(default_factory=lambda: datetime.now(UTC))
    # read kpi_day where it answers the query (app/insights/aggregates.py), count SLA at risk in
    # SQL; False: every figure from the loaded rows (the reference the tests compare with)
    use_aggregates: bool = True


def visible_metrics(role: str) -> tuple[str, ...]:
    """Managers and admins see every KPI; dispatchers the operational ones; nobody else any."""
    if role in (Role.manager.value, Role.admin.value):
        return tuple(METRICS)
    if role == Role.dispatcher.value:
        return OPERATIONAL
    return ()


def check(query: Query, session: Session | None = None) -> None:
    """Refuse what cannot be answered, naming the parameter (problem+json errors); with a
    ``session``, also filter values that name nothing."""
    errors: list[dict[str, str]] = records.unknown_values(session, query.filters) if session else []
    for name in query.metrics:
        if name not in METRICS:
            errors.append(
                {"field": "metric", "message": f"unknown metric {name!r}; one of {', '.join(METRICS)}"}
            )
    errors += window_errors(query)
    if query.group_by is not None and query.group_by not in GROUP_KEYS:
        errors.append({"field": "group_by", "message": f"one of {', '.join(GROUP_KEYS)}"})
    for name in query.metrics:
        m = METRICS.get(name)
        if m is None:
            continue
        for key in {*query.filters.active(), *([query.group_by] if query.group_by else [])}:
            if key not in m.keys:
                errors.append(
                    {
                        "field": key if key != query.group_by else "group_by",
                        "message": f"{name} cannot be sliced by {key}",
                    }
                )
    if errors:  # the detail lists them, so a page says which (by their labels) and why
        raise Unprocessable("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)


def window_errors(query: Query) -> list[dict[str, str]]:
    """What is wrong with the query's [from, to] window, for every route that reads one (the
    figures, the drill-downs, the drivers, the detractors list)."""
    errors: list[dict[str, str]] = []
    # A window wholly in the future showed a page of empty figures as if nothing had gone wrong;
    # one that runs on past today (this month so far) is fine.
    today = query.as_of.astimezone(ZoneInfo(get_settings().time_zone)).date()
    if query.start > today:
        errors.append(
            {"field": "from", "message": f"is after today ({today:%d %b %Y}): nothing has happened in it yet"}
        )
    if query.end < query.start:
        # the API's parameter names; the dashboard says them by its labels (`app/web/insights.py`)
        errors.append({"field": "to", "message": "must not be before `from`"})
    elif (query.end - query.start).days >= MAX_DAYS:
        errors.append({"field": "to", "message": f"the window is at most {MAX_DAYS} days"})
    return errors


# --------------------------------------------------------------------------------------- loading
@dataclass
class Loaded:
    """Every item of every source the query needs, and the context their formulas share."""

    items: dict[str, list[Item]]
    ctx: Context


def _business_seconds(session: Session) -> kpis.BusinessSeconds:
    cache: dict[int | None, sla_calendar.Calendar | None] = {}
    default_id = session.scalar(
        select(BusinessCalendar.id).where(BusinessCalendar.name == sla_clock.DEFAULT_CALENDAR)
    )
    by_ticket: dict[str, int | None] = {}

    def seconds(ticket: kpis.TicketFacts, start: datetime, end: datetime) -> float:
        cal_id = by_ticket.get(ticket.id, default_id)
        if cal_id not in cache:
            cache[cal_id] = sla_clock.load_calendar(session, cal_id) if cal_id is not None else None
        cal = cache[cal_id]
        if cal is None:  # no calendar anywhere: business time is all time
            return (end - start).total_seconds()
        return sla_calendar.covered(cal, start, end).total_seconds()

    seconds.by_ticket = by_ticket  # type: ignore[attr-defined]
    return seconds


def _first_completions(visits: Sequence[records.VisitRow]) -> dict[str, datetime]:
    """Per job, when the visit that completed it finished (the time its FTF is reported at)."""
    done: dict[str, tuple[datetime, datetime]] = {}
    for v in visits:
        f = v.facts
        if f.completed and f.finished_at is not None and f.arrived_at is not None:
            seen = done.get(f.work_order_id)
            if seen is None or f.arrived_at < seen[0]:
                done[f.work_order_id] = (f.arrived_at, f.finished_at)
    return {job: finished for job, (_, finished) in done.items()}


def load(session: Session, query: Query, *, open_now_only: bool = False, exact: bool = False) -> Loaded:
    """`open_now_only`: the snapshot metrics need only today's open tickets (past snapshots come
    from kpi_day), so a query of nothing else loads only those. `exact`: the items of the
    query's own days only, without the previous window and whole periods a report compares
    with (the aggregates' build and the drill-down need no more)."""
    sources = {METRICS[m].source for m in query.metrics}
    lo, hi = load_window(query, exact=exact)
    f = query.filters
    items: dict[str, list[Item]] = {}
    business = _business_seconds(session) if query.business else None
    ctx = Context(as_of=query.as_of, business_s=business)
    if sources & {"tickets", "clocks", "backlog", "at_risk"}:
        open_only = open_now_only and sources <= {"backlog", "at_risk"}
        tickets = records.load_tickets(
            session, lo, hi, f, open_only=open_only, at_risk_only=open_only and sources == {"at_risk"}
        )
        if business is not None:
            business.by_ticket.update({t.facts.id: t.calendar_id for t in tickets})  # type: ignore[attr-defined]
        items["tickets"] = tickets
        items["clocks"] = [ClockItem(c, t) for t in tickets for c in t.clocks]
        items["backlog"] = tickets
        items["at_risk"] = [t for t in tickets if t.at_risk]
    if "visits" in sources:
        # Loaded without the filters: a return visit by another engineer, or for a ticket of
        # another channel, still decides first-time fix and repeats of the filtered ones.
        everything = records.load_visits(session, lo, hi, records.Filters())
        ctx = visit_context(ctx, everything)
        items["visits"] = [v for v in everything if f.admits(v.keys)]
    if "answers" in sources:
        items["answers"] = records.load_answers(session, lo, hi, f)
    if "surveys" in sources:
        items["surveys"] = records.load_surveys(session, lo, hi, f)
    if "shifts" in sources:
        today = query.as_of.astimezone(ZoneInfo(get_settings().time_zone)).date()
        items["shifts"] = records.load_shift_days(session, lo, hi, f, today)
    return Loaded(items, ctx)


def load_window(query: Query, *, exact: bool = False) -> tuple[date, date]:
    """The local dates [lo, hi) `load` reads: the query's own, or (not `exact`) with the
    previous window and the whole first and last periods."""
    lo, hi = query.start, query.end + timedelta(days=1)
    if not exact:
        lo = min(query.start - _span(query), period_of_date(query.start, query.period).previous().start)
        hi = max(hi, period_of_date(query.end, query.period).end)
    return lo, hi


def visit_context(ctx: Context, visits: Sequence[records.VisitRow]) -> Context:
    """`ctx` with the repeats and first-time fixes decided among `visits` (the visits around)."""
    return replace(
        ctx,
        repeat_ids=frozenset(kpis.repeat_visit_ids([v.facts for v in visits])),
        ftf=kpis.first_time_fix_detail([v.facts for v in visits], as_of=ctx.as_of),
        ftf_done_at=_first_completions(visits),
    )


def _span(query: Query) -> timedelta:
    return timedelta(days=(query.end - query.start).days + 1)


# ------------------------------------------------------------------------------------- computing
class Dated:
    """A metric's items bucketed by the local date of the metric's time; apart, the items its
    records leave out (`Metric.left_out`), dated the same way."""

    def __init__(self, metric: Metric, items: Sequence[Item], ctx: Context) -> None:
        self.by_day: dict[date, list[Item]] = defaultdict(list)
        self.left_out: dict[date, list[Item]] = defaultdict(list)
        for item in items:
            if metric.in_n(item, ctx):
                bucket = self.by_day
            elif metric.left_out is not None and metric.left_out(item, ctx):
                bucket = self.left_out
            else:
                continue
            at = metric.at(item, ctx)
            if at is not None:
                bucket[local_date(at, item.tz)].append(item)

    def between(self, start: date, end: date, *, left_out: bool = False) -> list[Item]:
        """Items of the local dates [start, end) (`left_out`: the ones left out)."""
        out: list[Item] = []
        for day, day_items in (self.left_out if left_out else self.by_day).items():
            if start <= day < end:
                out.extend(day_items)
        return out


def _zone(query: Query) -> str:
    return get_settings().time_zone


def _snapshot_items(metric: Metric, items: Sequence[Item], moment: datetime) -> list[Item]:
    """Open tickets at `moment` (backlog), or at risk now (at-risk has no history)."""
    if metric.source == "at_risk":
        return list(items)
    return [
        t
        for t in items
        if t.facts.opened_at <= moment
        and (t.done_at is None or t.done_at > moment)
        and not (t.done_at is None and t.status in records.DONE_TICKET)
    ]


class AtRiskCounts:
    """SLA at risk counted in SQL (`records.count_at_risk`), once per group key, instead of built
    from the marked tickets' rows: the same tickets the raw load would give (the query's filters,
    opened before the end of its last period), so the same figures (tests/insights/test_at_risk.py)."""

    def __init__(self, session: Session, query: Query) -> None:
        self.session = session
        self.hi = _last_end(query)  # the raw load's upper bound (`load`, not exact)
        self.filters = query.filters
        self.by_key: dict[str | None, dict[str, int]] = {}

    def counts(self, key: str | None) -> dict[str, int]:
        if key not in self.by_key:
            self.by_key[key] = records.count_at_risk(self.session, self.hi, self.filters, key)
        return self.by_key[key]

    def values(self, key: str) -> set[str]:
        return set(self.counts(key))

    def figure(self, group: tuple[str, str] | None) -> dict[str, Any]:
        if group is None:
            return at_risk_figure(sum(self.counts(None).values()))
        return at_risk_figure(self.counts(group[0]).get(group[1], 0))


class Calculator:
    def __init__(
        self,
        query: Query,
        loaded: Loaded,
        agg: aggregates.Aggregates | None = None,
        at_risk: AtRiskCounts | None = None,
    ) -> None:
        self.query = query
        self.loaded = loaded
        self.dated: dict[str, Dated] = {}
        self.agg = agg
        self.at_risk = at_risk
        if agg is not None:
            agg.today = query.as_of.astimezone(ZoneInfo(_zone(query))).date()
        # kpi_day holds one slicing key at a time: everything, one filter, or one group-by key
        active = list(query.filters.active().items())
        self.slice: tuple[str, str] | None = active[0] if active else ("", "")
        if len(active) + (1 if query.group_by else 0) > 1:
            self.slice = None

    def aggregated(self, metric: Metric, end: date | None = None) -> bool:
        """Whether kpi_day answers this metric (for a backlog: the period ending at `end`, when
        it is over, or when it runs and today's snapshot was kept by a refresh)."""
        if self.agg is None or self.slice is None or metric.name not in aggregates.AGGREGATED:
            return False
        if metric.source != "backlog":
            return True
        if end is None:
            return False
        return self.moment(end) < self.query.as_of or self.agg.has_snapshot(self.agg.today)

    def counted(self, metric: Metric) -> bool:
        """Whether SQL counts answer this metric (SLA at risk, unless the rows were asked for)."""
        return self.at_risk is not None and metric.source == "at_risk"

    def group_values(self, metric: Metric, key: str, start: date, end: date) -> set[str]:
        if self.counted(metric):
            assert self.at_risk is not None
            return self.at_risk.values(key)
        if self.aggregated(metric, end):
            assert self.agg is not None
            return self.agg.values(metric, key, start, end)
        # a group whose only tickets were left out is listed too (n = 0, "1 ticket left out"),
        # as kpi_day keeps a row for it
        items = self.items_for(metric, start, end) + self.items_for(metric, start, end, left_out=True)
        return {i.keys.get(key, "") for i in items}

    def items_for(
        self,
        metric: Metric,
        start: date,
        end: date,
        group: tuple[str, str] | None = None,
        *,
        left_out: bool = False,
    ) -> list[Item]:
        """The items behind the figure of [start, end) local dates (optionally one group);
        `left_out`: the items of those days that the figure leaves out (`Metric.left_out`)."""
        source = self.loaded.items.get(metric.source, [])
        if metric.source in ("backlog", "at_risk"):
            chosen = [] if left_out else _snapshot_items(metric, source, self.moment(end))
        else:
            if metric.name not in self.dated:
                self.dated[metric.name] = Dated(metric, source, self.loaded.ctx)
            chosen = self.dated[metric.name].between(start, end, left_out=left_out)
        if group is not None:
            chosen = [i for i in chosen if i.keys.get(group[0], "") == group[1]]
        return chosen

    def moment(self, end: date) -> datetime:
        """A snapshot metric's reporting moment for a period ending at `end`: its last instant, or now."""
        at = datetime.combine(end, time(0), ZoneInfo(_zone(self.query))).astimezone(UTC)
        return min(at, self.query.as_of)

    def figure(
        self, metric: Metric, start: date, end: date, group: tuple[str, str] | None = None
    ) -> dict[str, Any]:
        if self.counted(metric):
            assert self.at_risk is not None
            return self.at_risk.figure(group)
        if self.aggregated(metric, end):
            assert self.agg is not None and self.slice is not None
            key, value = group if group is not None else self.slice
            return self.agg.figure(metric, start, end, key, value, grouped=group is not None)
        items = self.items_for(metric, start, end, group)
        ctx = self.loaded.ctx
        if metric.source in ("backlog", "at_risk"):
            ctx = replace(ctx, as_of=self.moment(end))
        out = metric.compute(items, ctx)
        if metric.left_out is not None:
            out["left_out"] = len(self.items_for(metric, start, end, group, left_out=True))
        return out

    def with_previous(
        self,
        metric: Metric,
        start: date,
        end: date,
        prev: tuple[date, date],
        group: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        out = self.figure(metric, start, end, group)
        if metric.source == "at_risk":
            out["previous"] = None  # no history is kept of what was at risk
        else:
            out["previous"] = self.figure(metric, prev[0], prev[1], group)
        return out


def _last_end(query: Query) -> date:
    """The end of the query's last period: a backlog whose last period is over needs no rows."""
    return max(query.end + timedelta(days=1), period_of_date(query.end, query.period).end)


def periods(query: Query) -> list[Period]:
    out: list[Period] = []
    p = period_of_date(query.start, query.period)
    while p.start <= query.end:
        out.append(p)
        p = p.next()
    return out


def series_spans(query: Query) -> list[tuple[Period, tuple[date, date], tuple[date, date]]]:
    """Each period of the series cut to the window, as local dates [lo, hi), with what it is
    compared with: the same days of the period before (a week cut to Tue–Sun against the Tue–Sun
    before it). Whole first and last periods counted days outside the window: the points summed to
    more than the total beside them (n 224 against 223), and the first point's drill-down opened a
    day the manager had not chosen."""
    start, end = query.start, query.end + timedelta(days=1)
    out = []
    for p in periods(query):
        lo, hi = max(p.start, start), min(p.end, end)
        before = p.previous()
        out.append(
            (p, (lo, hi), (before.start + (lo - p.start), min(before.start + (hi - p.start), before.end)))
        )
    return out


def run(session: Session, query: Query) -> dict[str, Any]:
    check(query, session)
    start, end = query.start, query.end + timedelta(days=1)
    prev = (start - _span(query), start)
    earliest = min(prev[0], period_of_date(query.start, query.period).previous().start)
    agg = (
        aggregates.usable(session, earliest, _last_end(query), business=query.business)
        if query.use_aggregates
        else None
    )
    # SLA at risk is live (now only): counted in SQL whether or not kpi_day is built; without
    # `use_aggregates` (the reference computation the tests compare with) from the rows.
    at_risk = AtRiskCounts(session, query) if query.use_aggregates else None
    calc = Calculator(query, Loaded({}, Context(query.as_of, None)), agg, at_risk)
    raw = tuple(
        m
        for m in query.metrics
        if not calc.aggregated(METRICS[m], end=_last_end(query)) and not calc.counted(METRICS[m])
    )
    if raw:
        calc.loaded = load(session, replace(query, metrics=raw), open_now_only=agg is not None)
    results = []
    for name in query.metrics:
        metric = METRICS[name]
        result: dict[str, Any] = {
            "metric": name,
            "label": metric.label,
            "unit": metric.unit,
            "operational": metric.operational,
            "time": ("business" if query.business else "calendar") if metric.duration else None,
            # why a figure's `left_out` records are not in its n (durations: an event before the opening)
            "left_out_reason": metric.left_out_reason or None,
            "total": calc.with_previous(metric, start, end, prev),
            "series": [
                {
                    "period": p.label,
                    "start": lo.isoformat(),
                    "end": (hi - timedelta(days=1)).isoformat(),
                    "partial": (lo, hi) != (p.start, p.end),
                    **calc.with_previous(metric, lo, hi, before),
                }
                for p, (lo, hi), before in series_spans(query)
            ]
            if metric.source != "at_risk"
            else [],
            "groups": [],
        }
        if query.group_by:
            result["groups"] = _groups(session, calc, metric, query.group_by, start, end, prev)
        results.append(result)
    return {
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "previous_from": prev[0].isoformat(),
        "previous_to": (prev[1] - timedelta(days=1)).isoformat(),
        "period": query.period,
        "group_by": query.group_by,
        "filters": query.filters.active(),
        "as_of": query.as_of.isoformat(),
        "metrics": results,
    }


def _groups(
    session: Session,
    calc: Calculator,
    metric: Metric,
    key: str,
    start: date,
    end: date,
    prev: tuple[date, date],
) -> list[dict[str, Any]]:
    values = calc.group_values(metric, key, start, end) | calc.group_values(metric, key, prev[0], prev[1])
    names = records.labels(session, key, values - {""})
    out = [
        {
            "key": v,
            "label": names.get(v, v) if v else "(none)",
            "total": calc.with_previous(metric, start, end, prev, (key, v)),
        }
        # by name, as people look things up ("Ada" before "Bea"; engineer ids as text put 10 before
        # 2); "(none)" last
        for v in sorted(values, key=lambda v: (v == "", (names.get(v) or v).casefold(), v))
    ]
    return out
