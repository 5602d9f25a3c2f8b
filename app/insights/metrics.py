"""The catalogue of KPIs: what each one is computed over, when an item happens, which items are in
its n, and which library formula turns them into a figure (definitions: docs/kpis.md).

An item belongs to the local period of the time its metric names (docs/kpis.md, "Periods are
local"): an answer when answered, a duration when it ended, a ticket rate when resolved, a
visit when it arrived. `in_n` lists exactly the items behind a figure's n, so that the drill-down
returns as many items as the figure says.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from surveys import Answer, Figure, kpis

Source = Literal["tickets", "clocks", "visits", "shifts", "backlog", "at_risk", "answers", "surveys"]
Item = Any  # a TicketRow, ClockItem, VisitRow or ShiftRow (app/insights/records.py)


@dataclass(frozen=True, slots=True)
class ClockItem:
    """One SLA clock of a ticket, with the ticket's slicing keys."""

    clock: kpis.SlaClock
    ticket: Any  # TicketRow

    @property
    def tz(self) -> str:
        return str(self.ticket.tz)

    @property
    def keys(self) -> Any:
        return self.ticket.keys


@dataclass(frozen=True, slots=True)
class Context:
    """What a computation needs beyond its items: the reporting moment, business time, the
    visit sets that depend on neighbouring periods (repeats, first-time fix)."""

    as_of: datetime
    business_s: kpis.BusinessSeconds | None
    repeat_ids: frozenset[str] = frozenset()
    ftf: kpis.FirstTimeFix = kpis.FirstTimeFix(frozenset(), frozenset())
    ftf_done_at: dict[str, datetime] | None = None


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    label: str
    source: Source
    unit: str
    operational: bool  # dispatchers see it too
    at: Callable[[Item, Context], datetime | None]
    in_n: Callable[[Item, Context], bool]
    compute: Callable[[Sequence[Item], Context], dict[str, Any]]
    keys: tuple[str, ...] = ("region", "engineer", "product_model", "tier", "channel")
    duration: bool = False  # median/p90 of minutes; `time=business` applies
    rating: str | None = None  # the answer field a survey metric reads (csat, nps, ces)
    # An item that would be in n but whose record cannot be counted (its event before the ticket
    # was opened): not in n, counted apart per day and slice and shown as "N tickets left out: why".
    left_out: Callable[[Item, Context], bool] | None = None
    left_out_reason: str = ""


def _figure(f: Figure) -> dict[str, Any]:
    return dict(f.as_dict())


def _durations(d: kpis.Durations) -> dict[str, Any]:
    return {"value": d.median_min, "n": d.n, "unit": "minutes", "p90": d.p90_min}


def _facts(items: Sequence[Item]) -> list[kpis.TicketFacts]:
    return [i.facts for i in items]


def _counted(event: Callable[[kpis.TicketFacts], datetime | None]) -> Callable[[Item, Context], bool]:
    """In a duration's n: the ticket had the event, not before it was opened (`kpis.before_opening`)."""
    return lambda t, c: event(t.facts) is not None and not kpis.before_opening(t.facts, event(t.facts))


def _before_opening(event: Callable[[kpis.TicketFacts], datetime | None]) -> Callable[[Item, Context], bool]:
    return lambda t, c: kpis.before_opening(t.facts, event(t.facts))


def _sla(metric: str) -> Callable[[Sequence[Item], Context], dict[str, Any]]:
    def compute(items: Sequence[Item], ctx: Context) -> dict[str, Any]:
        figure = kpis.sla_attainment([i.clock for i in items], ctx.as_of).get(metric)
        return _figure(figure or kpis.proportion(0, 0))

    return compute


def _clock_at(item: Item, ctx: Context) -> datetime | None:
    c: kpis.SlaClock = item.clock
    return c.done_at if c.done_at is not None else c.due_at


def _decided(metric: str) -> Callable[[Item, Context], bool]:
    def in_n(item: Item, ctx: Context) -> bool:
        c: kpis.SlaClock = item.clock
        return c.metric == metric and (c.done_at is not None or ctx.as_of > c.due_at)

    return in_n


def _visit_arrived(item: Item, ctx: Context) -> datetime | None:
    return item.facts.arrived_at  # type: ignore[no-any-return]


def _ftf_at(item: Item, ctx: Context) -> datetime | None:
    return (ctx.ftf_done_at or {}).get(item.facts.work_order_id) if _ftf_first(item, ctx) else None


def _ftf_first(item: Item, ctx: Context) -> bool:
    """One item per judged job: the visit that completed it stands for the work order."""
    job = item.facts.work_order_id
    return (
        job in ctx.ftf.judged
        and item.facts.completed
        and (ctx.ftf_done_at or {}).get(job) == item.facts.finished_at
    )


def _ftf(items: Sequence[Item], ctx: Context) -> dict[str, Any]:
    jobs = {i.facts.work_order_id for i in items if _ftf_first(i, ctx)}
    return _figure(kpis.proportion(len(jobs & ctx.ftf.fixed), len(jobs)))


def _repeat(items: Sequence[Item], ctx: Context) -> dict[str, Any]:
    arrived = [i for i in items if i.facts.arrived_at is not None]
    return _figure(kpis.proportion(sum(1 for i in arrived if i.facts.id in ctx.repeat_ids), len(arrived)))


def _ticket_resolved_or_reopened(item: Item, ctx: Context) -> datetime | None:
    return item.facts.resolved_at or item.reopened_at  # type: ignore[no-any-return]


def _now(item: Item, ctx: Context) -> datetime | None:
    return ctx.as_of


def _always(item: Item, ctx: Context) -> bool:
    return True


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "first_response_time",
            "First response time",
            "tickets",
            "minutes",
            False,
            at=lambda t, c: t.facts.first_response_at,
            in_n=_counted(lambda f: f.first_response_at),
            compute=lambda items, c: _durations(kpis.first_response_time(_facts(items), c.business_s)),
            duration=True,
            left_out=_before_opening(lambda f: f.first_response_at),
            left_out_reason="first response before opened",
        ),
        Metric(
            "time_to_arrive",
            "Time to arrive",
            "tickets",
            "minutes",
            False,
            at=lambda t, c: t.facts.arrived_at,
            in_n=_counted(lambda f: f.arrived_at),
            compute=lambda items, c: _durations(kpis.time_to_arrive(_facts(items), c.business_s)),
            duration=True,
            left_out=_before_opening(lambda f: f.arrived_at),
            left_out_reason="arrival before opened",
        ),
        Metric(
            "time_to_resolve",
            "Time to resolve",
            "tickets",
            "minutes",
            False,
            at=lambda t, c: t.facts.resolved_at,
            in_n=_counted(lambda f: f.resolved_at),
            compute=lambda items, c: _durations(kpis.time_to_resolve(_facts(items), c.business_s)),
            duration=True,
            left_out=_before_opening(lambda f: f.resolved_at),
            left_out_reason="resolved before opened",
        ),
        Metric(
            "first_contact_resolution",
            "First-contact resolution",
            "tickets",
            "percent",
            False,
            at=lambda t, c: t.facts.resolved_at,
            in_n=lambda t, c: t.facts.resolved_at is not None,
            compute=lambda items, c: _figure(kpis.first_contact_resolution(_facts(items))),
        ),
        Metric(
            "reopen_rate",
            "Reopen rate",
            "tickets",
            "percent",
            False,
            at=_ticket_resolved_or_reopened,
            in_n=lambda t, c: t.facts.resolved_at is not None or t.facts.reopened,
            compute=lambda items, c: _figure(kpis.reopen_rate(_facts(items))),
        ),
        *(
            Metric(
                f"sla_{name}",
                f"SLA attainment: {label}",
                "clocks",
                "percent",
                name == "arrival",  # arrival is the dispatchers' own
                at=_clock_at,
                in_n=_decided(name),
                compute=_sla(name),
            )
            for name, label in (
                ("first_response", "first response"),
                ("arrival", "arrival"),
                ("resolution", "resolution"),
            )
        ),
        Metric(
            "first_time_fix",
            "First-time fix",
            "visits",
            "percent",
            False,
            at=_ftf_at,
            in_n=_ftf_first,
            compute=_ftf,
        ),
        Metric(
            "repeat_visit_rate",
            "Repeat visits",
            "visits",
            "percent",
            False,
            at=_visit_arrived,
            in_n=lambda v, c: v.facts.arrived_at is not None,
            compute=_repeat,
        ),
        Metric(
            "on_time_arrival",
            "On-time arrival",
            "visits",
            "percent",
            True,
            at=_visit_arrived,
            in_n=lambda v, c: (
                v.facts.arrived_at is not None
                and v.facts.promised_from is not None
                and v.facts.promised_to is not None
            ),
            compute=lambda items, c: _figure(kpis.on_time_arrival([i.facts for i in items])),
        ),
        Metric(
            "utilisation",
            "Engineer utilisation",
            "shifts",
            "percent",
            False,
            at=lambda s, c: s.at,
            in_n=lambda s, c: s.day.shift_min > 0,
            compute=lambda items, c: _figure(kpis.utilisation([i.day for i in items])),
            keys=("region", "engineer"),
        ),
        Metric(
            "travel_share",
            "Travel share",
            "shifts",
            "percent",
            False,
            at=lambda s, c: s.at,
            in_n=lambda s, c: s.day.shift_min > 0 and s.day.travel_min is not None,
            compute=lambda items, c: _figure(kpis.travel_share([i.day for i in items])),
            keys=("region", "engineer"),
        ),
        Metric(
            "backlog",
            "Backlog (open tickets)",
            "backlog",
            "tickets",
            True,
            at=_now,
            in_n=_always,
            compute=lambda items, c: _backlog(items, c),
        ),
        Metric(
            "sla_at_risk",
            "SLA at risk (open tickets)",
            "at_risk",
            "tickets",
            True,
            at=_now,
            in_n=_always,
            compute=lambda items, c: at_risk_figure(len(items)),
        ),
    )
}


def at_risk_figure(n: int) -> dict[str, Any]:
    """SLA at risk is a count of tickets (from rows, or counted in SQL: records.count_at_risk)."""
    return {"value": n, "n": n, "unit": "tickets"}


def _answers(items: Sequence[Item]) -> list[Answer]:
    return [i.answer for i in items]


def _rated(field: str) -> Callable[[Item, Context], bool]:
    return lambda a, c: getattr(a.answer, field) is not None


SURVEY_METRICS = (
    Metric(
        "csat",
        "CSAT (% satisfied)",
        "answers",
        "percent",
        False,
        at=lambda a, c: a.answered_at,
        in_n=_rated("csat"),
        compute=lambda items, c: _figure(kpis.csat(_answers(items))),
        rating="csat",
    ),
    Metric(
        "nps",
        "NPS",
        "answers",
        "points",
        False,
        at=lambda a, c: a.answered_at,
        in_n=_rated("nps"),
        compute=lambda items, c: _figure(kpis.nps(_answers(items))),
        rating="nps",
    ),
    Metric(
        "ces",
        "Customer effort (CES)",
        "answers",
        "score",
        False,
        at=lambda a, c: a.answered_at,
        in_n=_rated("ces"),
        compute=lambda items, c: _figure(kpis.ces(_answers(items))),
        rating="ces",
    ),
    Metric(
        "response_rate",
        "Survey response rate",
        "surveys",
        "percent",
        False,
        at=lambda s, c: s.sent_at,
        in_n=_always,
        compute=lambda items, c: _figure(kpis.response_rate(len(items), sum(1 for i in items if i.answered))),
    ),
)
# What the customer said comes first on the dashboard, then how the service ran.
METRICS = {**{m.name: m for m in SURVEY_METRICS}, **METRICS}


def _backlog(items: Sequence[Item], ctx: Context) -> dict[str, Any]:
    b = kpis.backlog_ageing([i.facts.opened_at for i in items], ctx.as_of)
    return {"value": b.n, "unit": "tickets", **b.as_dict()}


OPERATIONAL = tuple(name for name, m in METRICS.items() if m.operational)
