"""The service manager's KPI formulas over plain data (definitions: docs/kpis.md).

Every function returns a :class:`~surveys.stats.Figure` (value, sample size n and, for proportions
and means, a 95 % interval) or a summary that carries n. An empty sample gives ``value=None``,
never 0. Slicing (region, engineer, period…) is the caller's: filter or group the records with
:mod:`surveys.periods`, then call these on each group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from .answers import Answer
from .stats import Z95, Figure, mean, mean_interval, quantile, wilson

RETURN_WINDOW = timedelta(days=30)  # a visit to the same asset within this long is a repeat visit


def _percent(successes: int, n: int) -> Figure:
    if n == 0:
        return Figure(None, 0, "percent")
    lo_hi = wilson(successes, n)
    assert lo_hi is not None
    return Figure(100.0 * successes / n, n, "percent", 100.0 * lo_hi[0], 100.0 * lo_hi[1])


# --------------------------------------------------------------------------------------- surveys
def csat(answers: Iterable[Answer]) -> Figure:
    """% of CSAT answers that are 4 or 5 (answers without a CSAT rating are not in n)."""
    ratings = [a.csat for a in answers if a.csat is not None]
    return _percent(sum(1 for r in ratings if r >= 4), len(ratings))


def nps(answers: Iterable[Answer]) -> Figure:
    """% promoters (9–10) − % detractors (0–6), in points from −100 to 100.

    Interval: normal approximation with the trinomial variance of promoter − detractor,
    var = (p + d − (p − d)²) / n; clipped to [−100, 100].
    """
    scores = [a.nps for a in answers if a.nps is not None]
    n = len(scores)
    if n == 0:
        return Figure(None, 0, "points")
    p = sum(1 for s in scores if s >= 9) / n
    d = sum(1 for s in scores if s <= 6) / n
    value = p - d
    var = (p + d - value * value) / n
    half = Z95 * var**0.5
    if var == 0:
        return Figure(100.0 * value, n, "points")
    return Figure(
        100.0 * value, n, "points", max(-100.0, 100 * (value - half)), min(100.0, 100 * (value + half))
    )


def ces(answers: Iterable[Answer]) -> Figure:
    """Mean Customer Effort Score on the 1–7 scale (7 = very easy), with a t interval."""
    scores = [float(a.ces) for a in answers if a.ces is not None]
    ci = mean_interval(scores)
    return Figure(mean(scores), len(scores), "score", *(ci or (None, None)))


def csat_mean(answers: Iterable[Answer]) -> Figure:
    """Mean CSAT rating 1–5 (what the drivers compare), with a t interval."""
    scores = [float(a.csat) for a in answers if a.csat is not None]
    ci = mean_interval(scores)
    return Figure(mean(scores), len(scores), "score", *(ci or (None, None)))


def solved_rate(answers: Iterable[Answer]) -> Figure:
    """% "yes" among answers to "was it solved?"."""
    said = [a.solved for a in answers if a.solved is not None]
    return _percent(sum(1 for s in said if s), len(said))


def detractor_rate(answers: Iterable[Answer]) -> Figure:
    """% of answers that trigger a follow-up (NPS ≤ 6, CSAT ≤ 2 or not solved)."""
    items = list(answers)
    return _percent(sum(1 for a in items if a.is_detractor), len(items))


def response_rate(sent: int, answered: int) -> Figure:
    """% of surveys sent that were answered (n = surveys sent).

    ValueError when ``answered > sent``: the caller's counting error, not a record's (count the
    answered among the surveys sent, as the app does), so it is refused rather than left out."""
    if answered > sent:
        raise ValueError(f"{answered} answers for {sent} surveys sent")
    return _percent(answered, sent)


# ------------------------------------------------------------------------------------- durations
@dataclass(frozen=True, slots=True)
class Durations:
    """Median and 90th percentile of a set of durations, in minutes, with n.

    ``skipped``: the ids of the items whose end lies before their start (a ticket resolved before
    it was opened). Such a duration cannot be measured: the item is not in n, and its id is here so
    that the caller can say how many were left out and why (never counted as 0 or negative)."""

    median_min: float | None
    p90_min: float | None
    n: int
    skipped: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "median_min": self.median_min,
            "p90_min": self.p90_min,
            "n": self.n,
            "skipped": list(self.skipped),
        }


def durations(minutes: Sequence[float], skipped: Sequence[str] = ()) -> Durations:
    return Durations(quantile(minutes, 0.5), quantile(minutes, 0.9), len(minutes), tuple(skipped))


@dataclass(frozen=True, slots=True)
class TicketFacts:
    """What the KPIs need of one ticket. Times are aware datetimes."""

    id: str
    opened_at: datetime
    first_response_at: datetime | None = None  # first human contact (docs/kpis.md)
    arrived_at: datetime | None = None  # first engineer on site
    resolved_at: datetime | None = None
    visits: int = 0  # visits made for it
    contacts_to_resolve: int | None = None  # human contacts up to and including the resolving one
    reopened: bool = False  # reopened at least once after a resolution


# The seconds of covered time between two instants for a ticket, following its SLA calendar.
# The app supplies it (its calendar code); without one, durations are calendar time.
BusinessSeconds = Callable[[TicketFacts, datetime, datetime], float]


def before_opening(ticket: TicketFacts, at: datetime | None) -> bool:
    """Whether an event of the ticket at ``at`` lies before the ticket was opened: a record no
    duration can be measured on (the duration functions leave it out, in ``Durations.skipped``)."""
    return at is not None and at < ticket.opened_at


def _elapsed_min(
    tickets: Iterable[TicketFacts],
    end: Callable[[TicketFacts], datetime | None],
    business_s: BusinessSeconds | None,
) -> Durations:
    minutes: list[float] = []
    skipped: list[str] = []
    for t in tickets:
        stop = end(t)
        if stop is None:
            continue
        # One inconsistent record must not stop every figure (it did: a ValueError ended the
        # whole KPI refresh), nor be counted as a duration of 0 or less: it is left out, by id.
        if before_opening(t, stop):
            skipped.append(t.id)
            continue
        seconds = business_s(t, t.opened_at, stop) if business_s else (stop - t.opened_at).total_seconds()
        minutes.append(seconds / 60.0)
    return durations(minutes, skipped)


def first_response_time(
    tickets: Iterable[TicketFacts], business_s: BusinessSeconds | None = None
) -> Durations:
    """Opening → first human contact, over tickets that had one (one before the opening: skipped)."""
    return _elapsed_min(tickets, lambda t: t.first_response_at, business_s)


def time_to_arrive(tickets: Iterable[TicketFacts], business_s: BusinessSeconds | None = None) -> Durations:
    """Opening → first engineer arrival, over tickets with an arrival (one before the opening: skipped)."""
    return _elapsed_min(tickets, lambda t: t.arrived_at, business_s)


def time_to_resolve(tickets: Iterable[TicketFacts], business_s: BusinessSeconds | None = None) -> Durations:
    """Opening → resolution, over resolved tickets (one resolved before the opening: skipped)."""
    return _elapsed_min(tickets, lambda t: t.resolved_at, business_s)


def first_contact_resolution(tickets: Iterable[TicketFacts]) -> Figure:
    """% of resolved tickets resolved by the desk at the first contact, with no visit, not reopened."""
    resolved = [t for t in tickets if t.resolved_at is not None]
    hits = sum(1 for t in resolved if t.visits == 0 and t.contacts_to_resolve == 1 and not t.reopened)
    return _percent(hits, len(resolved))


def reopen_rate(tickets: Iterable[TicketFacts]) -> Figure:
    """% of tickets resolved at least once that were reopened."""
    resolved = [t for t in tickets if t.resolved_at is not None or t.reopened]
    return _percent(sum(1 for t in resolved if t.reopened), len(resolved))


# ------------------------------------------------------------------------------------------- SLA
@dataclass(frozen=True, slots=True)
class SlaClock:
    ticket_id: str
    metric: str  # "first_response", "arrival", "resolution"
    due_at: datetime
    done_at: datetime | None = None


def sla_attainment(clocks: Iterable[SlaClock], as_of: datetime) -> dict[str, Figure]:
    """Per metric, % of decided clocks met on time.

    A clock is decided when done (met if done_at ≤ due_at) or when still running past its due time
    at ``as_of`` (breached). Clocks still running inside their time are not in n: they may yet be met.
    """
    met: dict[str, int] = {}
    decided: dict[str, int] = {}
    for c in clocks:
        if c.done_at is None and as_of <= c.due_at:
            continue
        decided[c.metric] = decided.get(c.metric, 0) + 1
        if c.done_at is not None and c.done_at <= c.due_at:
            met[c.metric] = met.get(c.metric, 0) + 1
    return {m: _percent(met.get(m, 0), n) for m, n in sorted(decided.items())}


# ---------------------------------------------------------------------------------------- visits
@dataclass(frozen=True, slots=True)
class VisitFacts:
    id: str
    work_order_id: str
    target: str  # the asset, or the site when the asset is unknown: what a return visit returns to
    arrived_at: datetime | None = None
    finished_at: datetime | None = None
    completed: bool = False  # the work order was completed at this visit
    promised_from: datetime | None = None  # the arrival window promised to the customer
    promised_to: datetime | None = None
    planned_duration_min: float | None = None
    engineer: str = ""


def minutes_late(visit: VisitFacts) -> float | None:
    """Minutes the arrival was after the promised window's end (0 if inside or early); None if unknown."""
    if visit.arrived_at is None or visit.promised_to is None:
        return None
    return max(0.0, (visit.arrived_at - visit.promised_to).total_seconds() / 60.0)


def on_time_arrival(visits: Iterable[VisitFacts]) -> Figure:
    """% of arrivals inside the promised window [from, to] (early is not on time: nobody is home)."""
    judged = [
        (v.promised_from, v.arrived_at, v.promised_to)
        for v in visits
        if v.arrived_at is not None and v.promised_from is not None and v.promised_to is not None
    ]
    hits = sum(1 for lo, at, hi in judged if lo <= at <= hi)
    return _percent(hits, len(judged))


def _arrivals_by_target(visits: Iterable[VisitFacts]) -> dict[str, list[tuple[datetime, VisitFacts]]]:
    """Visits that were made (arrived), per target, in arrival order."""
    by_target: dict[str, list[tuple[datetime, VisitFacts]]] = {}
    for v in visits:
        if v.arrived_at is not None:
            by_target.setdefault(v.target, []).append((v.arrived_at, v))
    for arrivals in by_target.values():
        arrivals.sort(key=lambda pair: pair[0])
    return by_target


def _returns(
    done: VisitFacts, finished_at: datetime, arrivals: list[tuple[datetime, VisitFacts]], window: timedelta
) -> list[VisitFacts]:
    """Visits of *other* work orders arriving at ``done``'s target within ``window`` after it finished."""
    return [
        v
        for at, v in arrivals
        if v.work_order_id != done.work_order_id and finished_at <= at <= finished_at + window
    ]


def repeat_visit_ids(visits: Iterable[VisitFacts], window: timedelta = RETURN_WINDOW) -> set[str]:
    """Visits that arrived at a target within ``window`` after another work order was completed there.

    Later trips of the same work order (a second trip for a part) are not repeats: they are the
    same job not yet done, which first-time fix already counts against.
    """
    repeats: set[str] = set()
    for arrivals in _arrivals_by_target(visits).values():
        for _, c in arrivals:
            if c.completed and c.finished_at is not None:
                repeats.update(v.id for v in _returns(c, c.finished_at, arrivals, window))
    return repeats


def repeat_visit_rate(visits: Iterable[VisitFacts], window: timedelta = RETURN_WINDOW) -> Figure:
    """% of visits made (arrived) that were repeat visits."""
    items = [v for v in visits if v.arrived_at is not None]
    return _percent(len(repeat_visit_ids(items, window)), len(items))


@dataclass(frozen=True, slots=True)
class FirstTimeFix:
    """The work orders behind the FTF figure, for drill-down."""

    judged: frozenset[str]  # completed work orders old enough to judge: the denominator
    fixed: frozenset[str]  # of those, fixed at the first visit with no return: the numerator

    @property
    def figure(self) -> Figure:
        return _percent(len(self.fixed), len(self.judged))


def first_time_fix_detail(
    visits: Iterable[VisitFacts], as_of: datetime | None = None, window: timedelta = RETURN_WINDOW
) -> FirstTimeFix:
    """Which work orders count for :func:`first_time_fix`, and which of them were fixed first time."""
    by_target = _arrivals_by_target(visits)
    by_wo: dict[str, list[VisitFacts]] = {}
    for arrivals in by_target.values():
        for _, v in arrivals:
            by_wo.setdefault(v.work_order_id, []).append(v)
    judged: set[str] = set()
    fixed: set[str] = set()
    for wo, wo_visits in by_wo.items():
        # Each list is in arrival order already when the work order has one target; sort anyway,
        # a work order moved between sites keeps its visits' true order.
        wo_visits.sort(key=lambda v: v.arrived_at or datetime.max.replace(tzinfo=UTC))
        done = next((v for v in wo_visits if v.completed and v.finished_at is not None), None)
        if done is None or done.finished_at is None:
            continue
        if as_of is not None and done.finished_at + window > as_of:
            continue
        judged.add(wo)
        if done is wo_visits[0] and not _returns(done, done.finished_at, by_target[done.target], window):
            fixed.add(wo)
    return FirstTimeFix(frozenset(judged), frozenset(fixed))


def first_time_fix(
    visits: Iterable[VisitFacts], as_of: datetime | None = None, window: timedelta = RETURN_WINDOW
) -> Figure:
    """% of completed work orders completed at their first visit with no return visit within 30 days.

    ``visits`` must include the later visits that could be returns. With ``as_of``, work orders
    completed less than ``window`` before it are left out of n: they cannot be judged yet.
    """
    return first_time_fix_detail(visits, as_of, window).figure


OVERRUN_TOLERANCE = 0.25  # on site more than 25 % over the planned duration is an overrun


def on_site_min(visit: VisitFacts) -> float | None:
    if visit.arrived_at is None or visit.finished_at is None:
        return None
    return (visit.finished_at - visit.arrived_at).total_seconds() / 60.0


def duration_overrun(visit: VisitFacts, tolerance: float = OVERRUN_TOLERANCE) -> bool | None:
    """On site longer than planned × (1 + tolerance); None when either duration is unknown."""
    actual = on_site_min(visit)
    if actual is None or visit.planned_duration_min is None:
        return None
    return actual > visit.planned_duration_min * (1 + tolerance)


def visit_driver_facts(
    visit: VisitFacts,
    *,
    repeat_ids: set[str],
    first_time_fix: FirstTimeFix,
    part_missing: bool | None,
    sla_breached: bool | None,
) -> dict[str, bool]:
    """The boolean facts the drivers compare, for one visit, by the definitions of docs/kpis.md.

    ``repeat_ids`` and ``first_time_fix`` come from :func:`repeat_visit_ids` and
    :func:`first_time_fix_detail` over the visits around it; ``part_missing`` (a part missing or a
    second trip needed) and ``sla_breached`` (any SLA metric of its ticket) are the app's records.
    A fact that cannot be known is left out, so that the visit is on neither side of it.
    """
    facts: dict[str, bool] = {"repeat_visit": visit.id in repeat_ids}
    late = minutes_late(visit)
    if late is not None:
        facts["late"] = late > 0
    overrun = duration_overrun(visit)
    if overrun is not None:
        facts["duration_overrun"] = overrun
    if visit.work_order_id in first_time_fix.judged:
        facts["first_time_fix"] = visit.work_order_id in first_time_fix.fixed
    if part_missing is not None:
        facts["part_missing"] = part_missing
    if sla_breached is not None:
        facts["sla_breach"] = sla_breached
    return facts


# ----------------------------------------------------------------------------------- engineers
@dataclass(frozen=True, slots=True)
class ShiftDay:
    """One engineer's worked day."""

    engineer: str
    day: date
    shift_min: float  # paid shift length
    on_site_min: float  # arrival to departure at customers
    # Driving, including to and from warehouses, from the day's published plan; None when no plan
    # covered the day (planned by hand, or before the planner was used): unknown, not zero.
    travel_min: float | None


def utilisation(days: Iterable[ShiftDay]) -> Figure:
    """Σ on-site minutes ÷ Σ shift minutes, in % (n = engineer-days). Ratio of sums, not mean of ratios."""
    items = [d for d in days if d.shift_min > 0]
    if not items:
        return Figure(None, 0, "percent")
    return Figure(
        100.0 * sum(d.on_site_min for d in items) / sum(d.shift_min for d in items), len(items), "percent"
    )


def travel_share(days: Iterable[ShiftDay]) -> Figure:
    """Σ travel minutes ÷ Σ shift minutes, in % (n = engineer-days whose travel is known: a day no
    plan covered is left out rather than counted as a day without driving)."""
    known = [(d.travel_min, d.shift_min) for d in days if d.shift_min > 0 and d.travel_min is not None]
    if not known:
        return Figure(None, 0, "percent")
    return Figure(100.0 * sum(t for t, _ in known) / sum(s for _, s in known), len(known), "percent")


# --------------------------------------------------------------------------------------- backlog
BACKLOG_BUCKETS_DAYS: tuple[int, ...] = (1, 3, 7, 14, 30)


@dataclass(frozen=True, slots=True)
class Backlog:
    n: int  # open items
    buckets: tuple[tuple[str, int], ...]  # ("<1 d", 4), ("1–3 d", 2), … (">30 d", 1)
    median_age_days: float | None
    oldest_age_days: float | None

    def as_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "buckets": dict(self.buckets),
            "median_age_days": self.median_age_days,
            "oldest_age_days": self.oldest_age_days,
        }


def backlog_ageing(
    opened_at: Iterable[datetime], as_of: datetime, bounds_days: Sequence[int] = BACKLOG_BUCKETS_DAYS
) -> Backlog:
    """Open items by age at ``as_of``. A bucket "a–b d" holds ages a ≤ age < b days.

    ValueError for an item opened after ``as_of``: the caller chose the open items at a moment and
    passed another moment (an item opened later was not open then: choose it out, as the app's
    backlog does with ``opened_at <= as_of``); no record can cause it."""
    ages = [(as_of - t).total_seconds() / 86400.0 for t in opened_at]
    if any(a < 0 for a in ages):
        raise ValueError("an item opened after as_of")
    edges = [0, *bounds_days]
    labels = [f"<{edges[1]} d"] + [f"{a}–{b} d" for a, b in zip(edges[1:], edges[2:], strict=False)]
    labels.append(f"≥{edges[-1]} d")
    counts = [0] * len(labels)
    for age in ages:
        i = sum(1 for b in bounds_days if age >= b)
        counts[i] += 1
    return Backlog(
        len(ages), tuple(zip(labels, counts, strict=True)), quantile(ages, 0.5), max(ages) if ages else None
    )


def proportion(successes: int, n: int) -> Figure:
    """A share in % with its Wilson interval (value None when n is 0): for callers that count
    numerator and denominator themselves, e.g. over a period cut out of a longer history."""
    return _percent(successes, n)


def shift_share(part_min: float, shift_min: float, n: int) -> Figure:
    """Σ part ÷ Σ shift minutes in % over n engineer-days, from sums kept elsewhere (per-day
    aggregates): the same figure as :func:`utilisation` / :func:`travel_share` of those days."""
    if n == 0 or shift_min <= 0:
        return Figure(None, 0, "percent")
    return Figure(100.0 * part_min / shift_min, n, "percent")
