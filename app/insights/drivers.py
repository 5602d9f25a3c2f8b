"""The drivers view: which visit facts move satisfaction, and by how much (docs/kpis.md, "Drivers").

The answers of a window (the same local days and filters as the CSAT figure) with a CSAT rating,
each with the visit facts stored at answer time, go to `surveys.driver_effects`; the app adds
labels and lets each side of a comparison be drilled down to the answers behind it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.insights import records, service
from app.insights.drill import DRILL
from app.insights.metrics import METRICS, Context
from app.platform.errors import Unprocessable
from surveys import VISIT_FACTS, RatedVisit, driver_effects

# What each fact means, as the page and the CSV say it.
LABELS = {
    "late": "Arrived after the promised window",
    "repeat_visit": "Repeat visit (a return within 30 days)",
    "part_missing": "Part missing or a second trip",
    "duration_overrun": "On site longer than planned",
    "sla_breach": "SLA breached",
    "first_time_fix": "Fixed at the first visit",
}
SIDES = ("with", "without")
CSAT = METRICS["csat"]


def rated(session: Session, query: service.Query) -> list[records.AnswerRow]:
    """Answers with a CSAT rating given on the window's local days (filters applied): exactly
    the answers behind the mean CSAT of the window, in the CSAT figure's own dating."""
    service.check(query, session)
    start, end = query.start, query.end + timedelta(days=1)
    answers = records.load_answers(session, start, end, query.filters)
    loaded = service.Loaded({"answers": answers}, _ctx(query))
    calc = service.Calculator(query, loaded)
    return [a for a in calc.items_for(CSAT, start, end) if isinstance(a, records.AnswerRow)]


def _ctx(query: service.Query) -> Context:
    return Context(as_of=query.as_of, business_s=None)


def run(session: Session, query: service.Query) -> dict[str, Any]:
    """Each fact with mean CSAT with and without it, both n, the difference and its Welch 95 %
    interval, whether that interval leaves the difference `uncertain`, ranked as the library ranks
    them (by how far the interval stays from zero, then by |difference|)."""
    answers = rated(session, query)
    rows = [RatedVisit(csat=int(a.answer.csat or 0), facts=a.facts) for a in answers]
    effects = driver_effects(rows, VISIT_FACTS)
    return {
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "filters": query.filters.active(),
        "n": len(rows),
        "unit": "csat points",
        "facts": [
            {**e.as_dict(), "label": LABELS.get(e.fact, e.fact), "uncertain": uncertain(e.ci_low, e.ci_high)}
            for e in effects
        ],
    }


def uncertain(ci_low: float | None, ci_high: float | None) -> bool:
    """Whether the data leave the sign of the difference open: the 95 % interval spans 0, or there
    is none (fewer than 2 answers on a side, or no spread). The library ranks such facts as sure
    of nothing (`surveys.drivers._sure` is 0); the page draws their bars lighter and says why."""
    return ci_low is None or ci_high is None or ci_low <= 0.0 <= ci_high


def check_side(fact: str, side: str) -> None:
    errors = []
    if fact not in VISIT_FACTS:
        errors.append({"field": "fact", "message": f"one of {', '.join(VISIT_FACTS)}"})
    if side not in SIDES:
        errors.append({"field": "side", "message": "with or without"})
    if errors:
        raise Unprocessable("The drivers drill-down cannot be answered as asked.", errors=errors)


def drill(
    session: Session, query: service.Query, *, fact: str, side: str, offset: int, limit: int
) -> dict[str, Any]:
    """The answers on one side of one fact (`n` equals that side's n), oldest first, a page."""
    check_side(fact, side)
    wanted = side == "with"
    chosen = [a for a in rated(session, query) if a.facts.get(fact) is wanted]
    chosen.sort(key=lambda a: (a.answered_at, a.id))
    ctx = _ctx(query)
    page = chosen[offset : offset + limit]
    return {
        "fact": fact,
        "side": side,
        "label": LABELS[fact],
        "n": len(chosen),
        "offset": offset,
        "limit": limit,
        "next_offset": offset + limit if offset + limit < len(chosen) else None,
        "items": [{**DRILL["answers"](a, ctx), fact: wanted} for a in page],
    }


CSV_COLUMNS = (
    "fact", "label", "mean_with", "n_with", "mean_without", "n_without", "difference", "ci_low", "ci_high",
)  # fmt: skip


def csv_rows(result: dict[str, Any]) -> list[list[Any]]:
    """One row per fact, in the ranked order."""
    return [[f.get(c) for c in CSV_COLUMNS] for f in result["facts"]]
