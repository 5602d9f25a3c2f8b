"""Drill-down: the items behind one metric's figure (tickets, SLA clocks, visits, engineer-days,
answers, surveys), sorted by the metric's time, a page at a time.

Where a metric's time is a plain indexed column or expression (first response, arrival,
resolution, SLA clocks, answers, surveys sent: `KEYSET`) and kpi_day gives the figure, a page is
read by keyset — the next rows in (time, id) order after a cursor, through the migration 0015
indexes — so a page costs the same at any depth and size; `n` is then the figure's n from
kpi_day (what the dashboard shows). Other metrics, and queries kpi_day does not answer, load
the window's rows and page them in memory (their n is counted from those rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.insights import aggregates, records
from app.insights.metrics import METRICS, ClockItem, Context, Item, Metric
from app.insights.service import AtRiskCounts, Calculator, Loaded, Query, check, load
from app.models import Region, Survey, SurveyAnswer, Ticket
from app.platform.config import get_settings
from app.platform.errors import Unprocessable
from surveys import kpis
from surveys.periods import local_date


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _ticket_item(t: Any, ctx: Context) -> dict[str, Any]:
    f = t.facts
    return {
        "kind": "ticket",
        "id": int(f.id),
        "number": t.number,
        "opened_at": _iso(f.opened_at),
        "first_response_at": _iso(f.first_response_at),
        "arrived_at": _iso(f.arrived_at),
        "resolved_at": _iso(f.resolved_at),
        "visits": f.visits,
        "reopened": f.reopened,
        "first_contact_resolution": f.resolved_at is not None
        and f.visits == 0
        and f.contacts_to_resolve == 1
        and not f.reopened,
        **t.keys,
    }


def _clock_item(c: ClockItem, ctx: Context) -> dict[str, Any]:
    clock = c.clock
    return {
        "kind": "sla_clock",
        "id": int(clock.ticket_id),
        "number": c.ticket.number,
        "metric": clock.metric,
        "due_at": _iso(clock.due_at),
        "done_at": _iso(clock.done_at),
        "met": clock.done_at is not None and clock.done_at <= clock.due_at,
        **c.keys,
    }


def _visit_item(v: Any, ctx: Context) -> dict[str, Any]:
    f = v.facts
    return {
        "kind": "visit",
        "id": int(f.id),
        "number": v.number,
        "ticket_number": v.ticket_number,
        "arrived_at": _iso(f.arrived_at),
        "finished_at": _iso(f.finished_at),
        "promised_from": _iso(f.promised_from),
        "promised_to": _iso(f.promised_to),
        "minutes_late": kpis.minutes_late(f),
        "repeat_visit": f.id in ctx.repeat_ids,
        "fixed_first_time": f.work_order_id in ctx.ftf.fixed if f.work_order_id in ctx.ftf.judged else None,
        **v.keys,
    }


def _shift_item(s: Any, ctx: Context) -> dict[str, Any]:
    d = s.day
    return {
        "kind": "engineer_day",
        "id": int(d.engineer),
        "day": d.day.isoformat(),
        "shift_min": d.shift_min,
        "on_site_min": round(d.on_site_min, 2),
        "travel_min": round(d.travel_min, 2),
        **s.keys,
    }


def _answer_item(a: Any, ctx: Context) -> dict[str, Any]:
    return {
        "kind": "answer",
        "id": a.id,
        "ticket_id": a.ticket_id,
        "number": a.ticket_number,
        "answered_at": _iso(a.answered_at),
        "csat": a.answer.csat,
        "nps": a.answer.nps,
        "ces": a.answer.ces,
        "solved": a.answer.solved,
        "detractor": a.answer.is_detractor,
        **a.keys,
    }


def _survey_item(s: Any, ctx: Context) -> dict[str, Any]:
    return {
        "kind": "survey",
        "id": s.id,
        "ticket_id": s.ticket_id,
        "number": s.ticket_number,
        "sent_at": _iso(s.sent_at),
        "answered": s.answered,
        **s.keys,
    }


DRILL: dict[str, Callable[[Any, Context], dict[str, Any]]] = {
    "answers": _answer_item,
    "surveys": _survey_item,
    "tickets": _ticket_item,
    "backlog": _ticket_item,
    "at_risk": _ticket_item,
    "clocks": _clock_item,
    "visits": _visit_item,
    "shifts": _shift_item,
}


SLA_CLOCKS = (
    ("first_response", Ticket.first_response_at, Ticket.first_response_due_at),
    ("arrival", Ticket.arrived_at, Ticket.arrival_due_at),
    ("resolution", Ticket.resolved_at, Ticket.resolution_due_at),
)
# The metrics whose time is one column (metric.at(item) is that column) and whose n needs no
# context beyond the item: their pages are read by keyset.
KEYSET: dict[str, tuple[Any, Any]] = {
    "first_response_time": (Ticket.first_response_at, Ticket.id),
    "time_to_arrive": (Ticket.arrived_at, Ticket.id),
    "time_to_resolve": (Ticket.resolved_at, Ticket.id),
    "first_contact_resolution": (Ticket.resolved_at, Ticket.id),
    # an SLA clock is dated by when it was met, else by its due time (indexed as that expression)
    **{f"sla_{clock}": (func.coalesce(done, due), Ticket.id) for clock, done, due in SLA_CLOCKS},
    "csat": (SurveyAnswer.answered_at, SurveyAnswer.id),
    "nps": (SurveyAnswer.answered_at, SurveyAnswer.id),
    "ces": (SurveyAnswer.answered_at, SurveyAnswer.id),
    "response_rate": (Survey.sent_at, Survey.id),
}
BATCH = 200  # rows read per keyset step (some fall outside the local days or the group)


def cursor_text(at: datetime, row_id: int) -> str:
    return f"{at.astimezone(UTC).isoformat()}~{row_id}"


def parse_cursor(text: str) -> tuple[datetime, int]:
    """A page cursor as given back by `next_after`; anything else is a 422 naming `after`."""
    try:
        at_text, id_text = text.rsplit("~", 1)
        at = datetime.fromisoformat(at_text)
        if at.tzinfo is None:
            raise ValueError("no zone")
        return at.astimezone(UTC), int(id_text)
    except ValueError as exc:
        raise Unprocessable(
            "The page cursor is not one this list gave.",
            errors=[{"field": "after", "message": "use the next_after value of the previous page"}],
        ) from exc


def _zones_window(session: Session, start: date, end: date) -> tuple[datetime, datetime]:
    """[start, end) local dates as the tightest UTC window covering every region's zone."""
    zones = {get_settings().time_zone} | {z for z in session.scalars(select(Region.timezone)) if z}
    return (
        min(datetime.combine(start, time(0), ZoneInfo(z)) for z in zones).astimezone(UTC),
        max(datetime.combine(end, time(0), ZoneInfo(z)) for z in zones).astimezone(UTC),
    )


def _load_batch(
    session: Session, metric: Metric, query: Query, filters: records.Filters, keyset: records.Keyset
) -> list[Item]:
    lo, hi = query.start, query.end + timedelta(days=1)
    if metric.source == "tickets":
        return list(records.load_tickets(session, lo, hi, filters, keyset=keyset))
    if metric.source == "clocks":  # the one clock of each ticket the metric measures
        clock = metric.name.removeprefix("sla_")
        tickets = records.load_tickets(session, lo, hi, filters, keyset=keyset)
        return [ClockItem(c, t) for t in tickets for c in t.clocks if c.metric == clock]
    if metric.source == "answers":
        return list(records.load_answers(session, lo, hi, filters, keyset=keyset))
    return list(records.load_surveys(session, lo, hi, filters, keyset=keyset))


def _row_id(item: Item) -> int:
    if isinstance(item, ClockItem):
        return int(item.clock.ticket_id)
    if isinstance(item, records.TicketRow | records.VisitRow):  # an answer's `facts` is a dict
        return int(item.facts.id)
    return int(item.id)


def _keyset_n(session: Session, query: Query, metric: Metric, group: tuple[str, str] | None) -> int | None:
    """The figure's n from kpi_day, or None when kpi_day does not answer this query."""
    start, end = query.start, query.end + timedelta(days=1)
    agg = aggregates.usable(session, start, end, business=query.business)
    calc = Calculator(query, Loaded({}, Context(query.as_of, None)), agg)
    if metric.name not in KEYSET or not calc.aggregated(metric, end):
        return None
    return int(calc.figure(metric, start, end, group)["n"])


def _keyset_page(
    session: Session,
    query: Query,
    metric: Metric,
    group: tuple[str, str] | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> tuple[list[Item], tuple[datetime, int] | None]:
    """Up to `limit` items of the figure after the cursor, and the cursor after the last one."""
    column, id_column = KEYSET[metric.name]
    lo_at, hi_at = _zones_window(session, query.start, query.end + timedelta(days=1))
    filters = query.filters
    if group is not None and group[0] not in filters.active():  # narrows the rows read (a superset)
        filters = replace(filters, **{group[0]: group[1]})
    ctx = Context(query.as_of, None)
    chosen: list[Item] = []
    cursor = after
    while len(chosen) < limit:
        batch = _load_batch(
            session, metric, query, filters, records.Keyset(column, id_column, lo_at, hi_at, cursor, BATCH)
        )
        for item in batch:
            at = metric.at(item, ctx)
            assert at is not None  # the column is in the window
            cursor = (at, _row_id(item))
            if (
                metric.in_n(item, ctx)
                and query.start <= local_date(at, item.tz) <= query.end
                and (group is None or item.keys.get(group[0], "") == group[1])
            ):
                chosen.append(item)
                if len(chosen) == limit:
                    break
        if len(batch) < BATCH:
            if len(chosen) < limit:
                cursor = None  # the list is at its end
            break
    return chosen, cursor


def drill(
    session: Session,
    query: Query,
    *,
    group_value: str | None,
    offset: int,
    limit: int,
    after: str | None = None,
) -> dict[str, Any]:
    """The items behind one metric's total for the query's window (one group with `group_value`):
    as many as the figure's n, sorted by time, a page at a time. `after` (the previous page's
    `next_after`) continues a keyset list; `offset` pages the others (and counts pages)."""
    check(query)
    (name,) = query.metrics
    metric = METRICS[name]
    group = (query.group_by, group_value) if query.group_by and group_value is not None else None
    if metric.source == "at_risk" and query.use_aggregates:  # counted in SQL, as its figure
        return _at_risk_list(session, query, group, offset, limit)
    # An offset without a cursor (a client paging by offset) is served from the rows in memory.
    n = _keyset_n(session, query, metric, group) if offset == 0 or after else None
    if n is not None:
        page, cursor = _keyset_page(
            session, query, metric, group, parse_cursor(after) if after else None, limit
        )
        ctx = Context(query.as_of, None)
        return {
            "metric": name,
            "n": n,
            "offset": offset,
            "limit": limit,
            "next_offset": offset + limit if cursor is not None else None,
            "next_after": cursor_text(*cursor) if cursor is not None else None,
            "keyset": True,
            "items": [DRILL[metric.source](i, ctx) for i in page],
        }
    # Visits are loaded as the figure loads them: first-time fix and repeats depend on the
    # visits around the window, which a narrower load would change.
    # SLA at risk is now only: today's open tickets marked at risk, as its figure reads them.
    loaded = load(session, query, exact=metric.source != "visits", open_now_only=metric.source == "at_risk")
    calc = Calculator(query, loaded)
    chosen = calc.items_for(metric, query.start, query.end + timedelta(days=1), group)
    ctx = calc.loaded.ctx
    chosen.sort(key=lambda i: (metric.at(i, ctx) or query.as_of, DRILL[metric.source](i, ctx)["id"]))
    page = chosen[offset : offset + limit]
    return {
        "metric": name,
        "n": len(chosen),
        "offset": offset,
        "limit": limit,
        "next_offset": offset + limit if offset + limit < len(chosen) else None,
        "next_after": None,
        "keyset": False,
        "items": [DRILL[metric.source](i, ctx) for i in page],
    }


def _at_risk_list(
    session: Session, query: Query, group: tuple[str, str] | None, offset: int, limit: int
) -> dict[str, Any]:
    """SLA at risk's tickets as its figure counts them (`service.AtRiskCounts`): n is the count,
    and only the page's tickets are loaded, by id order (the in-memory list's order: they all
    share the reporting moment), instead of every marked ticket (~2 s a page at 17 000)."""
    counts = AtRiskCounts(session, query)
    n = int(counts.figure(group)["n"])
    ids = records.at_risk_ids(session, counts.hi, query.filters, group, offset, limit)
    tickets = (
        records.load_tickets(
            session,
            counts.hi - timedelta(days=1),
            counts.hi,
            query.filters,
            open_only=True,
            at_risk_only=True,
            where=Ticket.id.in_(ids),
        )
        if ids
        else []
    )
    tickets.sort(key=lambda t: int(t.facts.id))
    ctx = Context(query.as_of, None)
    return {
        "metric": query.metrics[0],
        "n": n,
        "offset": offset,
        "limit": limit,
        "next_offset": offset + limit if offset + limit < n else None,
        "next_after": None,
        "keyset": False,
        "items": [DRILL["at_risk"](t, ctx) for t in tickets],
    }
