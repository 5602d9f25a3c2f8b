"""Drill-down: the items behind one metric's figure (tickets, SLA clocks, visits, engineer-days,
answers, surveys), sorted by the metric's time, a page at a time.

When kpi_day gives the figure (`n` is then kpi_day's n, what the dashboard shows), every metric
but SLA at risk reads one page: the rows after a cursor in (time, id) order, a bounded batch at
a time, skipping the rows not in n, so a page costs about the same at any depth and size:
- a metric whose time is one indexed column or expression (`KEYSET`) by keyset on it, through the
  indexes of migrations 0015 and 0018; a page's visits are judged for repeats and first-time fix
  among the visits of the same tickets and targets around them (`_visit_context`), and the
  reopen rate merges in the reopened tickets not resolved since (dated by their reopen);
- the backlog (its time is the reporting moment) in ticket id order, the open-at-that-moment
  condition in SQL; engineer-days a run of days at a time.
Paging by offset, SLA at risk and queries kpi_day does not answer load the window's rows and
page them in memory (their n is counted from those rows).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from app.insights import aggregates, records
from app.insights.metrics import METRICS, ClockItem, Context, Item, Metric
from app.insights.records import DONE_TICKET
from app.insights.service import (
    AtRiskCounts,
    Calculator,
    Loaded,
    Query,
    check,
    load,
    load_window,
    visit_context,
)
from app.models import Region, SlaEvent, Survey, SurveyAnswer, Ticket, WorkOrder
from app.platform.config import get_settings
from app.platform.errors import Unprocessable, refuse
from app.platform.inputs import INT_MAX, problem_with
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
        "travel_min": None if d.travel_min is None else round(d.travel_min, 2),
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
# The metrics whose list is read in the order of one indexed column (metric.at(item) is that
# column for every item in n): their pages are read by keyset, the rows not in n skipped.
KEYSET: dict[str, tuple[Any, Any]] = {
    "first_response_time": (Ticket.first_response_at, Ticket.id),
    "time_to_arrive": (Ticket.arrived_at, Ticket.id),
    "time_to_resolve": (Ticket.resolved_at, Ticket.id),
    "first_contact_resolution": (Ticket.resolved_at, Ticket.id),
    # resolved tickets by resolution; the reopened ones not resolved since are merged in (_reopened)
    "reopen_rate": (Ticket.resolved_at, Ticket.id),
    # an SLA clock is dated by when it was met, else by its due time (indexed as that expression)
    **{f"sla_{clock}": (func.coalesce(done, due), Ticket.id) for clock, done, due in SLA_CLOCKS},
    "csat": (SurveyAnswer.answered_at, SurveyAnswer.id),
    "nps": (SurveyAnswer.answered_at, SurveyAnswer.id),
    "ces": (SurveyAnswer.answered_at, SurveyAnswer.id),
    "response_rate": (Survey.sent_at, Survey.id),
    "repeat_visit_rate": (WorkOrder.checked_in_at, WorkOrder.id),
    "on_time_arrival": (WorkOrder.checked_in_at, WorkOrder.id),
    # a job's first-time fix is dated by when its completing visit finished
    "first_time_fix": (WorkOrder.checked_out_at, WorkOrder.id),
}
# Every metric whose list is read a page at a time: the backlog in ticket order (its time is the
# reporting moment), engineer-days a few days at a time.
PAGED = frozenset({*KEYSET, "backlog", "utilisation", "travel_share"})
# What a visit needs to be in n, as SQL (`metric.in_n` decides; this only reads fewer rows):
# a first-time fix is a completed visit, an on-time arrival one with a promised window.
VISITS_IN_N = {
    "first_time_fix": WorkOrder.status == "done",
    "on_time_arrival": and_(
        WorkOrder.appointment_start_at.is_not(None), WorkOrder.appointment_end_at.is_not(None)
    ),
}
BATCH = 200  # rows read per step at most (some fall outside the local days or the group)
PAGE_BATCH = 50  # and at least: a small page reads no more rows (a visit's costs its neighbours)

Key = tuple[datetime, int]
Row = tuple[Key, Item, Context]  # a list item with its sort key and the context it is judged in


def cursor_text(at: datetime, row_id: int) -> str:
    return f"{at.astimezone(UTC).isoformat()}~{row_id}"


def parse_cursor(text: str) -> tuple[datetime, int]:
    """A page cursor as given back by `next_after`; anything else is a 422 naming `after`.

    Like `app.platform.http.decode_cursor`, a forged cursor must not reach the database or the
    date arithmetic as an overflow: the id is a row id (int4, ASCII digits, as `cursor_text`
    writes it) and the time within `DATE_MIN`..`DATE_MAX` (year 1 or 9999 with an offset
    overflowed converting to UTC; the engineer-day list steps a day back from it)."""
    try:
        at_text, id_text = text.rsplit("~", 1)
        if not (id_text.isascii() and id_text.isdecimal()) or len(id_text) > 10:
            raise ValueError("not a row id")
        row_id = int(id_text)
        if not 0 < row_id <= INT_MAX:
            raise ValueError("not a row id")
        at = datetime.fromisoformat(at_text)
        if at.tzinfo is None:
            raise ValueError("no zone")
        at = at.astimezone(UTC)
        if problem_with(at) is not None:
            raise ValueError("out of range")
        return at, row_id
    except (ValueError, OverflowError) as exc:
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
        # only tickets with that clock: one item per row read, or a short batch would end the list
        due = next(due for name, _, due in SLA_CLOCKS if name == clock)
        tickets = records.load_tickets(session, lo, hi, filters, keyset=keyset, where=due.is_not(None))
        return [ClockItem(c, t) for t in tickets for c in t.clocks if c.metric == clock]
    if metric.source == "visits":
        return list(
            records.load_visits(session, lo, hi, filters, keyset=keyset, where=VISITS_IN_N.get(metric.name))
        )
    if metric.source == "answers":
        return list(records.load_answers(session, lo, hi, filters, keyset=keyset))
    return list(records.load_surveys(session, lo, hi, filters, keyset=keyset))


def _row_id(item: Item) -> int:
    if isinstance(item, ClockItem):
        return int(item.clock.ticket_id)
    if isinstance(item, records.TicketRow | records.VisitRow):  # an answer's `facts` is a dict
        return int(item.facts.id)
    if isinstance(item, records.ShiftRow):
        return int(item.day.engineer)
    return int(item.id)


def _row_at(metric: Metric, item: Item, ctx: Context) -> datetime | None:
    # A visit that is no job's first-time fix has no metric time: it is paged by its check-out.
    return item.facts.finished_at if metric.name == "first_time_fix" else metric.at(item, ctx)


def _visit_context(session: Session, query: Query, visits: list[records.VisitRow]) -> Context:
    """Repeats and first-time fixes of `visits` as the figure decides them: among the visits of
    the window the figure loads (service.load) that share a job (ticket) or a target with them."""
    ctx = Context(query.as_of, None)
    jobs = {int(v.facts.work_order_id) for v in visits}
    if not jobs:
        return ctx
    targets = session.execute(
        select(WorkOrder.asset_id, WorkOrder.site_id).where(WorkOrder.ticket_id.in_(jobs)).distinct()
    ).all()
    assets = {a for a, _ in targets if a is not None}
    sites = {s for a, s in targets if a is None}
    around = or_(
        WorkOrder.ticket_id.in_(jobs),
        WorkOrder.asset_id.in_(assets),
        and_(WorkOrder.asset_id.is_(None), WorkOrder.site_id.in_(sites)),
    )
    lo, hi = load_window(query)
    return visit_context(ctx, records.load_visits(session, lo, hi, records.Filters(), where=around))


def _keyset_rows(
    session: Session, query: Query, metric: Metric, filters: records.Filters, after: Key | None, size: int
) -> Iterator[Row]:
    """The rows of the metric's column in the window after the cursor, in (column, id) order,
    read `size` at a time (each batch's visits judged among the visits around them)."""
    column, id_column = KEYSET[metric.name]
    lo_at, hi_at = _zones_window(session, query.start, query.end + timedelta(days=1))
    cursor = after
    while True:
        keyset = records.Keyset(column, id_column, lo_at, hi_at, cursor, size)
        batch = _load_batch(session, metric, query, filters, keyset)
        ctx = (
            _visit_context(session, query, batch) if metric.source == "visits" else Context(query.as_of, None)
        )
        for item in batch:
            at = _row_at(metric, item, ctx)
            assert at is not None  # the column is in the window
            cursor = (at, _row_id(item))
            yield cursor, item, ctx
        if len(batch) < size:
            return


def _reopened(session: Session, query: Query, filters: records.Filters, after: Key | None) -> Iterator[Row]:
    """Reopened tickets not resolved since, dated by their last reopen (resolved ones come by
    their resolution): the tickets with no resolution and a resume in the window, by (time, id)."""
    lo_at, hi_at = _zones_window(session, query.start, query.end + timedelta(days=1))
    resumed = exists().where(
        SlaEvent.ticket_id == Ticket.id, SlaEvent.kind == "resume", SlaEvent.at >= lo_at, SlaEvent.at < hi_at
    )
    lo, hi = query.start, query.end + timedelta(days=1)
    ctx = Context(query.as_of, None)
    rows = [
        ((t.reopened_at, int(t.facts.id)), t, ctx)
        for t in records.load_tickets(
            session, lo, hi, filters, where=and_(Ticket.resolved_at.is_(None), resumed)
        )
        if t.reopened_at is not None
    ]
    return iter(sorted((r for r in rows if after is None or r[0] > after), key=lambda r: r[0]))


def _id_rows(
    session: Session, query: Query, filters: records.Filters, where: Any, after: Key | None, size: int
) -> Iterator[Row]:
    """The query's tickets matching `where`, in id order after the cursor, `size` at a time."""
    ctx = Context(query.as_of, None)
    cursor = after
    while True:
        keyset = records.Keyset(None, Ticket.id, query.as_of, query.as_of, cursor, size)
        end = query.end + timedelta(days=1)
        batch = records.load_tickets(session, query.start, end, filters, keyset=keyset, where=where)
        for t in batch:
            cursor = (query.as_of, int(t.facts.id))
            yield cursor, t, ctx
        if len(batch) < size:
            return


def _backlog_rows(
    session: Session, query: Query, filters: records.Filters, after: Key | None, size: int
) -> Iterator[Row]:
    """The tickets open at the reporting moment of the window's end (as `service` decides it:
    opened by then, not resolved or closed by then), in id order after the cursor: those still
    open (through the partial index on their ids) merged with those done since the moment."""
    moment = Calculator(query, Loaded({}, Context(query.as_of, None))).moment(query.end + timedelta(days=1))
    # Exactly the partial index's condition (a done status is checked below: in SQL, PostgreSQL
    # misjudged how many rows it leaves and sorted every open ticket instead of reading in order).
    still_open = and_(Ticket.resolved_at.is_(None), Ticket.closed_at.is_(None))
    done_since = or_(
        Ticket.resolved_at > moment, and_(Ticket.resolved_at.is_(None), Ticket.closed_at > moment)
    )
    rows = heapq.merge(
        _id_rows(session, query, filters, and_(Ticket.opened_at <= moment, still_open), after, size),
        _id_rows(session, query, filters, and_(Ticket.opened_at <= moment, done_since), after, size),
        key=lambda r: r[0][1],
    )
    return (r for r in rows if not (r[1].done_at is None and r[1].status in DONE_TICKET))


def _shift_rows(session: Session, query: Query, filters: records.Filters, after: Key | None) -> Iterator[Row]:
    """Engineer-days in (local noon, engineer) order after the cursor, a run of days at a time
    (1, 2, 4, … days: a filtered list has few rows a day). The regions' zones are less than a
    day apart, so no row of a later day sorts before one of an earlier day."""
    today = query.as_of.astimezone(ZoneInfo(get_settings().time_zone)).date()
    ctx = Context(query.as_of, None)
    hi = min(query.end, today) + timedelta(days=1)
    day = query.start if after is None else max(query.start, after[0].date() - timedelta(days=1))
    days = 1
    while day < hi:
        upto = min(hi, day + timedelta(days=days))
        rows = [
            ((s.at, _row_id(s)), s, ctx) for s in records.load_shift_days(session, day, upto, filters, today)
        ]
        yield from sorted((r for r in rows if after is None or r[0] > after), key=lambda r: r[0])
        day, days = upto, days * 2


def _rows(
    session: Session, query: Query, metric: Metric, filters: records.Filters, after: Key | None, size: int
) -> Iterator[Row]:
    if metric.source == "backlog":
        return _backlog_rows(session, query, filters, after, size)
    if metric.source == "shifts":
        return _shift_rows(session, query, filters, after)
    rows = _keyset_rows(session, query, metric, filters, after, size)
    if metric.name == "reopen_rate":
        return heapq.merge(rows, _reopened(session, query, filters, after), key=lambda r: r[0])
    return rows


def _keyset_n(session: Session, query: Query, metric: Metric, group: tuple[str, str] | None) -> int | None:
    """The figure's n from kpi_day, or None when kpi_day does not answer this query."""
    start, end = query.start, query.end + timedelta(days=1)
    agg = aggregates.usable(session, start, end, business=query.business)
    calc = Calculator(query, Loaded({}, Context(query.as_of, None)), agg)
    if metric.name not in PAGED or not calc.aggregated(metric, end):
        return None
    return int(calc.figure(metric, start, end, group)["n"])


def _keyset_page(
    session: Session,
    query: Query,
    metric: Metric,
    group: tuple[str, str] | None,
    after: Key | None,
    limit: int,
) -> tuple[list[tuple[Item, Context]], Key | None]:
    """Up to `limit` items of the figure after the cursor, and the cursor after the last one."""
    filters = query.filters
    # narrows the rows read (a superset); "" (no value) is no filter's value
    if group is not None and group[1] and group[0] not in filters.active():
        filters = replace(filters, **{group[0]: group[1]})
    chosen: list[tuple[Item, Context]] = []
    size = min(BATCH, max(limit, PAGE_BATCH))
    for key, item, ctx in _rows(session, query, metric, filters, after, size):
        if metric.source != "backlog":  # a snapshot's items are its rows; the others are dated
            at = metric.at(item, ctx)
            if not (
                at is not None
                and metric.in_n(item, ctx)
                and query.start <= local_date(at, item.tz) <= query.end
            ):
                continue
        # the SQL filters may read wider (a ticket's engineer: any visit's, not the first's)
        if query.filters.admits(item.keys) and (group is None or item.keys.get(group[0], "") == group[1]):
            chosen.append((item, ctx))
            if len(chosen) == limit:
                return chosen, key
    return chosen, None  # the list is at its end


def check_group(session: Session, query: Query, group_value: str | None) -> None:
    """`group` is a value of `group_by` that names something, else a 422 naming `group`: without
    `group_by` it was ignored (the whole figure's list headed "in group MUC-N"), and a value no
    region, engineer, … has answered an empty list as if the group were quiet. "" is the group of
    the records without a value ("(none)"). The dashboard's group links always carry `group_by`."""
    if group_value is None:
        return
    if query.group_by is None:
        refuse(
            [
                {
                    "field": "group",
                    "message": f"needs group_by, the key it is a value of ({', '.join(records.KEYS)})",
                }
            ]
        )
    elif group_value:
        found = records.unknown_values(session, records.Filters(**{query.group_by: group_value}))
        refuse([{"field": "group", "message": e["message"]} for e in found])


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
    check(query, session)
    check_group(session, query, group_value)
    # checked whether or not this list is read by keyset: a forged cursor is refused, not ignored
    cursor_key = parse_cursor(after) if after else None
    (name,) = query.metrics
    metric = METRICS[name]
    group = (query.group_by, group_value) if query.group_by and group_value is not None else None
    if metric.source == "at_risk" and query.use_aggregates:  # counted in SQL, as its figure
        return _at_risk_list(session, query, group, offset, limit)
    # An offset without a cursor (a client paging by offset) is served from the rows in memory.
    n = _keyset_n(session, query, metric, group) if offset == 0 or after else None
    if n is not None:
        page, cursor = _keyset_page(session, query, metric, group, cursor_key, limit)
        return {
            "metric": name,
            "n": n,
            "offset": offset,
            "limit": limit,
            "next_offset": offset + limit if cursor is not None else None,
            "next_after": cursor_text(*cursor) if cursor is not None else None,
            "keyset": True,
            "items": [DRILL[metric.source](i, ctx) for i, ctx in page],
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
