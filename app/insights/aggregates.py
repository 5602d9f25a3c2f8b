"""Per-day KPI aggregates (table kpi_day): built from the raw computation, read back as figures.

A row holds, for one metric, one local day and one slice (everything, or one value of one
slicing key), what the library needs to give the same figure over any set of days:
- a percentage: n and hits, since the figure is the ratio of sums (docs/kpis.md, "Slicing");
- a duration: the minutes of each item (calendar and business time), since a median or p90
  of merged lists is the median or p90 of the raw rows.
The rows are produced by the raw path itself (`service.load` + each metric's own formula per
item or per group), so the two agree by construction; tests/insights/test_aggregates.py holds
them equal on the hand-computed fixture.

Refresh (`refresh`, run by the periodic job): the days the changes recorded since the last run
can move (table kpi_dirty, written by the session hook of app/insights/changes.py in the changing
transaction), plus the days whose figures moved with time alone (a first-time fix is judged 30
days after the fix; a running SLA clock becomes a breach when its due time passes; a survey sent
up to 31 days ago may be answered).
"""

from __future__ import annotations

import json
import logging
import math
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from app.insights import changes, lists, records
from app.insights.metrics import METRICS, Context, Item, Metric
from app.models import KpiDay, KpiDirty, KpiRefresh, SlaEvent, Ticket, WorkOrder
from app.platform.config import get_settings
from surveys import Answer, kpis

log = logging.getLogger(__name__)

# The metrics kept per day. Engineer-days, backlog and at-risk are not: they are small (one row
# per engineer and day) or snapshots of open work, which the raw path reads directly.
AGGREGATED = tuple(
    name
    for name, m in METRICS.items()
    if m.source in ("tickets", "clocks", "visits", "shifts", "backlog", "answers", "surveys")
)
# What an engineer-day metric measures against the shift.
PART_OF_SHIFT = {"utilisation": "on_site_min", "travel_share": "travel_min"}
EMPTY = {
    "minutes": None,
    "business_minutes": None,
    "shift_min": None,
    "part_min": None,
    "snapshot": None,
    "ratings": None,
    "left_out": 0,
}


@dataclass(frozen=True, slots=True)
class Rated:
    """An answer rebuilt from a rating count: all a survey metric's formula reads of an answer."""

    answer: Answer


# A survey sent weeks ago may be answered today (response rate counts on the day sent), which no
# kpi_dirty row says: the last 31 days of it are rebuilt on every run. Everything else that moves
# with time alone is found by `_moving_days`; what moves with a change, by `_dirty_days`.
VOLATILE = timedelta(days=31)
VOLATILE_DAYS = {"response_rate": VOLATILE.days}
CHUNK_DAYS = 31  # days rebuilt per load: bounds the rows held in memory at once


def _summaries(
    metric: Metric, items: list[Item], ctx: Context, minutes: dict[int, tuple[float, float]]
) -> dict[str, Any]:
    """`minutes`: each duration item's (calendar, business) minutes, computed once per item for
    all the slices it is in (business time is the costly part of a build)."""
    if metric.duration:
        return {
            **EMPTY,
            "n": len(items),
            "hits": 0,
            "minutes": pack([minutes[id(i)][0] for i in items]),
            "business_minutes": pack([minutes[id(i)][1] for i in items]),
        }
    if metric.source == "shifts":
        part = PART_OF_SHIFT[metric.name]
        return {
            **EMPTY,
            "n": len(items),
            "hits": 0,
            "shift_min": sum(i.day.shift_min for i in items),
            "part_min": sum(getattr(i.day, part) for i in items),
        }
    if metric.source == "backlog":
        figure = metric.compute(items, ctx)
        return {**EMPTY, "n": int(figure["n"]), "hits": 0, "snapshot": figure}
    if metric.rating is not None:  # the formulas depend only on how many gave each rating
        counts = Counter(str(getattr(i.answer, metric.rating)) for i in items)
        return {**EMPTY, "n": len(items), "hits": 0, "ratings": dict(counts)}
    figure = metric.compute(items, ctx)
    n = int(figure["n"])
    hits = round(float(figure["value"]) * n / 100.0) if n else 0
    return {**EMPTY, "n": n, "hits": hits}


def _answer(rating: str, value: int) -> Answer:
    if rating == "csat":
        return Answer(csat=value)
    if rating == "nps":
        return Answer(nps=value)
    return Answer(ces=value)


def _slices(
    metric: Metric, items: list[Item], left: Sequence[Item] = ()
) -> list[tuple[str, str, list[Item], list[Item]]]:
    """Everything, then each value of each slicing key: the items in n and the ones left out
    (a value whose items were all left out still gets its row, n = 0)."""
    out: list[tuple[str, str, list[Item], list[Item]]] = [("", "", items, list(left))]
    for key in metric.keys:
        groups: dict[str, tuple[list[Item], list[Item]]] = defaultdict(lambda: ([], []))
        for item in items:
            groups[item.keys.get(key, "")][0].append(item)
        for item in left:
            groups[item.keys.get(key, "")][1].append(item)
        out += [(key, value, group, out_) for value, (group, out_) in groups.items()]
    return out


def _chunks(days: Iterable[date]) -> list[tuple[date, date, set[date]]]:
    """Sorted days in spans [start, end] of at most CHUNK_DAYS days, with the days chosen in each:
    one load per span, however scattered the days a refresh rebuilds (each load has a fixed cost:
    the open tickets, the visits 30 days either side)."""
    spans: list[tuple[date, date, set[date]]] = []
    for day in sorted(set(days)):
        if spans and (day - spans[-1][0]).days < CHUNK_DAYS:
            spans[-1] = (spans[-1][0], day, spans[-1][2] | {day})
        else:
            spans.append((day, day, {day}))
    return spans


def rebuild_days(
    session: Session,
    days: Iterable[date],
    as_of: datetime | None = None,
    metrics: tuple[str, ...] = AGGREGATED,
) -> int:
    """Recompute the rows of these local days for these metrics; returns rows written.

    One pass per span of up to CHUNK_DAYS days: the rows of the span are loaded once (plus the
    visits 30 days around it that first-time fix and repeats need), only the chosen days are
    computed (each item's minutes once for all its slices) and replaced (COPY on PostgreSQL)."""
    from app.insights import service  # service reads aggregates; building them uses its loader

    as_of = as_of or datetime.now(UTC)
    written = 0
    for start, end, chosen in _chunks(days):
        query = service.Query(metrics, "day", start, end, business=True, as_of=as_of, use_aggregates=False)
        loaded = service.load(session, query, exact=True)
        ctx = loaded.ctx
        cal_ctx = Context(ctx.as_of, None, ctx.repeat_ids, ctx.ftf, ctx.ftf_done_at)
        session.execute(delete(KpiDay).where(KpiDay.metric.in_(metrics), KpiDay.day.in_(sorted(chosen))))
        rows: list[dict[str, Any]] = []
        calc = service.Calculator(query, loaded)
        for name in metrics:
            metric = METRICS[name]
            left: dict[date, list[Item]] = {}
            if metric.source == "backlog":
                by_day = _backlog_days(calc, metric, chosen)
            else:
                dated = service.Dated(metric, loaded.items.get(metric.source, []), ctx)
                by_day = {day: items for day, items in dated.by_day.items() if day in chosen}
                left = {day: items for day, items in dated.left_out.items() if day in chosen}
                _log_left_out(metric, left)
            minutes = _minutes(metric, by_day, cal_ctx, ctx)
            for day in sorted(by_day.keys() | left.keys()):
                day_ctx = (
                    replace(ctx, as_of=calc.moment(day + timedelta(days=1)))
                    if metric.source == "backlog"
                    else ctx
                )
                for key, value, group, out in _slices(metric, by_day.get(day, []), left.get(day, [])):
                    rows.append(
                        {
                            "metric": name,
                            "key": key,
                            "value": value,
                            "day": day,
                            **_summaries(metric, group, day_ctx, minutes),
                            "left_out": len(out),
                        }
                    )
        _insert(session, rows)
        written += len(rows)
    return written


def _log_left_out(metric: Metric, left: dict[date, list[Item]]) -> None:
    """Say which records a figure leaves out and why: the dashboard shows how many, the log which
    ones (to correct them at the source)."""
    items = [i for day in sorted(left) for i in left[day]]
    if items:
        numbers = ", ".join(str(i.number or i.facts.id) for i in items[:20])
        log.warning(
            "KPI %s: %d ticket(s) left out (%s): %s%s",
            metric.name,
            len(items),
            metric.left_out_reason,
            numbers,
            " …" if len(items) > 20 else "",
        )


def _minutes(
    metric: Metric, by_day: dict[date, list[Item]], cal_ctx: Context, ctx: Context
) -> dict[int, tuple[float, float]]:
    """A duration metric's (calendar, business) minutes per item (by id: items are not hashable)."""
    if not metric.duration:
        return {}
    return {
        id(i): (metric.compute([i], cal_ctx)["value"], metric.compute([i], ctx)["value"])
        for items in by_day.values()
        for i in items
    }


JSON_COLUMNS = ("snapshot", "ratings")


def _insert(session: Session, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL: one COPY (a first build writes millions of rows; INSERTs cost a round trip
    or a statement compile per batch); elsewhere a plain executemany."""
    if not rows:
        return
    columns = [c.name for c in KpiDay.__table__.columns if c.name != "id"]
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(insert(KpiDay), rows)
        return
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f"COPY kpi_day ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(
                [json.dumps(row[c]) if c in JSON_COLUMNS and row[c] is not None else row[c] for c in columns]
            )


def _backlog_days(calc: Any, metric: Metric, days: set[date]) -> dict[date, list[Item]]:
    """The open tickets at the end of each complete day, and for the day running now, at the
    moment of the build: the running period's backlog, up to one refresh behind like every
    kpi_day figure (reading today's open tickets raw costs seconds at a million tickets)."""
    return {
        day: calc.items_for(metric, day, day + timedelta(days=1))
        for day in sorted(days)
        if calc.moment(day) < calc.query.as_of  # the day has begun
    }


# What each kind of kpi_dirty row rebuilds (app/insights/changes.py); the survey metrics follow
# no row: answers and surveys are new rows on recent days (VOLATILE covers late answers).
SCOPES: dict[str, tuple[str, ...]] = {
    "tickets": ("tickets", "clocks", "backlog"),
    "backlog": ("backlog",),
    "visits": ("visits",),
    "shifts": ("shifts",),
}
# A changed visit can move the visits at its target whose arrival or finish lies within the
# return window of its own (repeats after a fix, first-time fix before a return); one day more
# for the UTC day of an instant.
REACH = kpis.RETURN_WINDOW + timedelta(days=1)
ID_CHUNK = 1000


def _consume_dirty(session: Session) -> list[Any]:
    """Take the recorded changes: the rows read are the rows deleted (one statement), so a change
    committed meanwhile stays for the next run."""
    return list(
        session.execute(
            delete(KpiDirty).returning(KpiDirty.scope, KpiDirty.day, KpiDirty.target, KpiDirty.ticket_id)
        )
    )


def _ticket_days(session: Session, ids: set[int]) -> set[date]:
    """Every day of these tickets' times (reopens included: the reopen rate dates by them)."""
    days: set[date] = set()
    ordered = sorted(ids)
    for i in range(0, len(ordered), ID_CHUNK):
        chunk = ordered[i : i + ID_CHUNK]
        for row in session.execute(select(*records.TICKET_TIMES).where(Ticket.id.in_(chunk))):
            days |= {changes.day_of(at) for at in row if at is not None}
        days |= {
            changes.day_of(at)
            for at in session.scalars(
                select(SlaEvent.at).where(SlaEvent.ticket_id.in_(chunk), SlaEvent.kind == "resume")
            )
        }
    return days


def _open_days(session: Session, ids: set[int]) -> set[date]:
    """Every day these tickets were open (to today if they still are)."""
    days: set[date] = set()
    now = datetime.now(UTC)
    ordered = sorted(ids)
    for i in range(0, len(ordered), ID_CHUNK):
        for opened, resolved, closed in session.execute(
            select(Ticket.opened_at, Ticket.resolved_at, Ticket.closed_at).where(
                Ticket.id.in_(ordered[i : i + ID_CHUNK])
            )
        ):
            days.update(changes.days_between(opened, resolved or closed, now))
    return days


def _visit_days(session: Session, around: dict[str, set[date]], tickets: set[int]) -> set[date]:
    """Check-in and check-out days of the visits at each target within the return window of its
    changed days, and of these tickets' visits."""
    days: set[date] = set()
    found: list[tuple[str, datetime | None, datetime | None]] = []
    by_kind: dict[str, list[int]] = defaultdict(list)
    for target in around:
        kind, _, ident = target.partition(":")
        by_kind[kind].append(int(ident))
    every = [d for ds in around.values() for d in ds]
    if every:
        lo = datetime.combine(min(every), datetime.min.time(), UTC) - 2 * REACH
        hi = datetime.combine(max(every), datetime.min.time(), UTC) + 2 * REACH
        for kind, column in (("asset", WorkOrder.asset_id), ("site", WorkOrder.site_id)):
            ids = sorted(by_kind.get(kind, []))
            for i in range(0, len(ids), ID_CHUNK):
                stmt = select(column, WorkOrder.checked_in_at, WorkOrder.checked_out_at).where(
                    column.in_(ids[i : i + ID_CHUNK]),
                    WorkOrder.checked_in_at >= lo,
                    WorkOrder.checked_in_at < hi,
                )
                if kind == "site":  # a visit's target is its asset, else its site
                    stmt = stmt.where(WorkOrder.asset_id.is_(None))
                found += [(f"{kind}:{ident}", inn, out) for ident, inn, out in session.execute(stmt)]
    for target, inn, out in found:
        near = around[target]
        for at in (inn, out):
            if at is not None and any(abs((changes.day_of(at) - d).days) <= REACH.days for d in near):
                days |= {changes.day_of(x) for x in (inn, out) if x is not None}
    ordered = sorted(tickets)
    for i in range(0, len(ordered), ID_CHUNK):
        for inn, out in session.execute(
            select(WorkOrder.checked_in_at, WorkOrder.checked_out_at).where(
                WorkOrder.ticket_id.in_(ordered[i : i + ID_CHUNK]), WorkOrder.checked_in_at.is_not(None)
            )
        ):
            days |= {changes.day_of(x) for x in (inn, out) if x is not None}
    return days


def _dirty_days(session: Session) -> dict[str, set[date]]:
    """Per source, the local days the recorded changes may have moved (a UTC day ±1 covers the
    local day in any zone)."""
    by_scope: dict[str, set[date]] = defaultdict(set)
    tickets: set[int] = set()
    visit_tickets: set[int] = set()
    open_tickets: set[int] = set()
    around: dict[str, set[date]] = defaultdict(set)
    for scope, day, target, ticket_id in _consume_dirty(session):
        if scope == "ticket":
            tickets.add(ticket_id)
            continue
        if scope == "open":
            open_tickets.add(ticket_id)
            continue
        if day is not None:
            by_scope[scope].add(day)
        if scope == "visits":
            if target is not None and day is not None:
                around[target].add(day)
            if ticket_id is not None:
                visit_tickets.add(ticket_id)
    by_scope["tickets"] |= _ticket_days(session, tickets)
    by_scope["backlog"] |= _open_days(session, open_tickets)
    by_scope["visits"] |= _visit_days(session, around, visit_tickets)
    out: dict[str, set[date]] = defaultdict(set)
    for scope, days in by_scope.items():
        for source in SCOPES[scope]:
            out[source] |= {d for day in days for d in _around(day, 1)}
    return out


def _around(day: date, radius: int) -> list[date]:
    return [day + timedelta(days=i) for i in range(-radius, radius + 1)]


def _span(lo: date, hi: date) -> set[date]:
    return {lo + timedelta(days=i) for i in range((hi - lo).days + 1)}


def _moving_days(name: str, last: datetime, now: datetime, today: date) -> set[date]:
    """The days whose figures moved with time alone since the last run `last`: a first-time fix
    becomes judged 30 days after the fix (the days that crossed that mark since `last`); a survey
    sent up to 31 days ago may be answered now; everything else settles on its own day (a running
    SLA clock that ran out, the snapshot of a day that ended) — from the last run's day to today,
    one day either side for the zones."""
    if name == "first_time_fix":
        return _span(
            changes.day_of(last - kpis.RETURN_WINDOW) - timedelta(days=1),
            changes.day_of(now - kpis.RETURN_WINDOW) + timedelta(days=1),
        )
    since = min(changes.day_of(last), today) - timedelta(days=1)
    if name in VOLATILE_DAYS:
        since = min(since, today - timedelta(days=VOLATILE_DAYS[name] - 1))
    return _span(since, today + timedelta(days=1))


def refresh(session: Session, *, now: datetime | None = None, build_from: date | None = None) -> int:
    """Bring kpi_day up to date: a first call builds from `build_from` (default: 400 days back);
    later calls rebuild the days the recorded changes can move (kpi_dirty) and the days that moved
    with time alone. Returns the rows written."""
    now = now or datetime.now(UTC)
    today = now.astimezone(ZoneInfo(get_settings().time_zone)).date()
    state = session.get(KpiRefresh, 1)
    if state is None:
        _consume_dirty(session)  # a full build answers every change made before it
        start = build_from or today - timedelta(days=400)
        days = {start + timedelta(days=i) for i in range((today - start).days + 2)}
        state = KpiRefresh(id=1, built_from=start, refreshed_at=now)
        session.add(state)
        written = rebuild_days(session, days, as_of=now)
    else:
        dirty = _dirty_days(session)
        last, state.refreshed_at = state.refreshed_at, now
        if last.tzinfo is None:
            last = last.replace(tzinfo=UTC)
        # One rebuild per source, over the days any of its metrics needs: a source's load is the
        # cost (the visits 30 days around, the open tickets), a few more days of its other
        # metrics are not.
        by_source: dict[str, tuple[list[str], set[date]]] = {}
        for name in AGGREGATED:
            days = dirty.get(METRICS[name].source, set()) | _moving_days(name, last, now, today)
            names, union = by_source.setdefault(METRICS[name].source, ([], set()))
            names.append(name)
            union |= {d for d in days if state.built_from <= d <= today + timedelta(days=1)}
        # Sources that need the same days share one load (tickets and their SLA clocks; the
        # backlog too unless a reopen or a new engineer asked for its snapshots alone).
        by_days: dict[frozenset[date], list[str]] = defaultdict(list)
        for names, needed in by_source.values():
            by_days[frozenset(needed)] += names
        written = 0
        for shared, names in by_days.items():
            written += rebuild_days(session, shared, as_of=now, metrics=tuple(names))
    # The renewal-risk list's order (lists.renewal_scores): scoring every renewing account is the
    # slow part of the dashboard at scale, so it is done here, once per run.
    state.renewal_scores = lists.renewal_scores(session, today=today, now=now)
    state.renewal_day = today
    session.flush()
    return written


# ------------------------------------------------------------------------------------ minutes
# A duration row keeps its minutes as little-endian float64 bytes: a 90-day query with its
# previous window reads up to a million of them at 1 M tickets, which JSON parsing and Python
# sorting made take seconds; bytes load as one numpy array, and two order statistics are found
# by partitioning instead of sorting.
MINUTES = np.dtype("<f8")


def pack(values: list[float]) -> bytes:
    return np.asarray(values, dtype=MINUTES).tobytes()


def unpack(data: bytes | None) -> np.ndarray:
    return np.frombuffer(data or b"", dtype=MINUTES)


def quantile(values: np.ndarray, q: float) -> float | None:
    """surveys.stats.quantile (type 7) with the same arithmetic on the same two order
    statistics, so the figure is the raw computation's to the last bit."""
    if not len(values):
        return None
    h = (len(values) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(values) - 1)
    part = np.partition(values, sorted({lo, hi}))
    a, b = float(part[lo]), float(part[hi])
    return a + (h - lo) * (b - a)


# ------------------------------------------------------------------------------------ reading back
class Aggregates:
    """Figures from kpi_day over one query's window, with the rows of each (metric, key[, value])
    read once per request, and only the minutes column the query asks for."""

    def __init__(self, session: Session, start: date, end: date, *, business: bool) -> None:
        self.session = session
        self.start, self.end = start, end  # [start, end) local days
        self.business = business
        self.rows: dict[tuple[str, str, str | None], list[Any]] = {}
        self.indexed: dict[tuple[str, str, str | None], dict[str, tuple[list[date], list[Any]]]] = {}
        self.snapshots: dict[date, bool] = {}
        self.today = date.max  # set by the reader: the local day running at the query's moment

    def last_day(self, end: date, today: date) -> date:
        """The day whose snapshot is a backlog period's: its last, or today while it runs."""
        return min(end - timedelta(days=1), today)

    def has_snapshot(self, day: date) -> bool:
        """Whether the backlog of this day was kept (today's: once a refresh ran today)."""
        if day not in self.snapshots:
            self.snapshots[day] = (
                self.session.scalar(
                    select(KpiDay.id).where(KpiDay.metric == "backlog", KpiDay.key == "", KpiDay.day == day)
                )
                is not None
            )
        return self.snapshots[day]

    def empty_ctx(self, end: date) -> Context:
        return Context(datetime.combine(end, datetime.min.time(), UTC), None)

    def _rows(self, metric: Metric, key: str, value: str | None) -> list[Any]:
        """Rows of one slice; value None = every value of the key (for group by)."""
        cache_key = (metric.name, key, value)
        if cache_key not in self.rows:
            columns: list[Any] = [KpiDay.day, KpiDay.value, KpiDay.n, KpiDay.hits]
            if metric.duration:
                columns.append(
                    (KpiDay.business_minutes if self.business else KpiDay.minutes).label("minutes")
                )
                columns.append(KpiDay.left_out)
            elif metric.source == "shifts":
                columns += [KpiDay.shift_min, KpiDay.part_min]
            elif metric.source == "backlog":
                columns.append(KpiDay.snapshot)
            elif metric.rating is not None:
                columns.append(KpiDay.ratings)
            stmt = select(*columns).where(
                KpiDay.metric == metric.name,
                KpiDay.key == key,
                KpiDay.day >= self.start,
                KpiDay.day < self.end,
            )
            if value is not None:
                stmt = stmt.where(KpiDay.value == value)
            self.rows[cache_key] = list(self.session.execute(stmt))
        return self.rows[cache_key]

    def _by_value(
        self, metric: Metric, key: str, value: str | None
    ) -> dict[str, tuple[list[date], list[Any]]]:
        """`_rows` per value, in day order: a figure takes its days by bisection. A page asks ~500
        figures, each of which scanned every row of its metric (~20 % of the page's server time)."""
        cache_key = (metric.name, key, value)
        if cache_key not in self.indexed:
            groups: dict[str, list[Any]] = defaultdict(list)
            for r in sorted(self._rows(metric, key, value), key=lambda r: r.day):
                groups[r.value].append(r)
            self.indexed[cache_key] = {v: ([r.day for r in rs], rs) for v, rs in groups.items()}
        return self.indexed[cache_key]

    def values(self, metric: Metric, key: str, start: date, end: date) -> set[str]:
        if metric.source == "backlog":  # a snapshot: the groups open at the period's end
            last = self.last_day(end, self.today)
            return {r.value for r in self._rows(metric, key, None) if r.day == last and r.n}
        return {r.value for r in self._rows(metric, key, None) if start <= r.day < end}

    def figure(
        self, metric: Metric, start: date, end: date, key: str, value: str, *, grouped: bool
    ) -> dict[str, Any]:
        days, by_day = self._by_value(metric, key, None if grouped else value).get(value, ([], []))
        rows = by_day[bisect_left(days, start) : bisect_left(days, end)]
        if metric.source == "backlog":
            last = [r for r in rows if r.day == self.last_day(end, self.today)]
            if last and last[0].snapshot:
                return dict(last[0].snapshot)
            return metric.compute([], self.empty_ctx(end))
        if metric.rating is not None:
            counts: Counter[str] = Counter()
            for r in rows:
                counts.update(r.ratings or {})
            # One answer per rating, repeated by reference: the formulas only count ratings, and
            # building an object per answer cost ~1 s per query for 75 000 CSAT answers.
            rebuilt = [r for v, k in counts.items() for r in [Rated(_answer(metric.rating, int(v)))] * k]
            return metric.compute(rebuilt, self.empty_ctx(end))
        if metric.source == "shifts":
            part, shift = sum(r.part_min or 0.0 for r in rows), sum(r.shift_min or 0.0 for r in rows)
            return dict(kpis.shift_share(part, shift, sum(r.n for r in rows)).as_dict())
        if metric.duration:
            minutes = np.concatenate([unpack(r.minutes) for r in rows]) if rows else unpack(None)
            return {
                "value": quantile(minutes, 0.5),
                "n": len(minutes),
                "unit": "minutes",
                "p90": quantile(minutes, 0.9),
                **({"left_out": sum(r.left_out for r in rows)} if metric.left_out is not None else {}),
            }
        return dict(kpis.proportion(sum(r.hits for r in rows), sum(r.n for r in rows)).as_dict())


def usable(session: Session, start: date, end: date, *, business: bool = False) -> Aggregates | None:
    """The aggregates for the local days [start, end), when they have been built back to `start`."""
    # Only the date: the same row holds the renewal scores, whose JSON (every account renewing
    # within 120 days) took ~80 ms to decode on the 100 000-customer seed, on every KPI query.
    built_from = session.scalar(select(KpiRefresh.built_from).where(KpiRefresh.id == 1))
    if built_from is None or start < built_from:
        return None
    return Aggregates(session, start, end, business=business)
