"""Which visit each part on an engineer's route is for, and where it comes from (van or pickup).

The engine's pickup stop lists what is fetched there, for every visit of the route together. A
move's preview listed those lines as the moved visit's parts: a visit needing none showed the
pickup for the engineer's other (emergency) visit, with no work order named. Here the route is
walked as the engine sources it (`dispatch.lns.trim_pickups`, `publish`'s reservations): van stock
first, then the latest pickup before the visit that still holds the part.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import dispatch


@dataclass(frozen=True)
class Source:
    """`quantity` units of `sku` for one visit, from the van (`warehouse` None) or a warehouse
    (its engine key) picked up on the way."""

    sku: str
    quantity: int
    warehouse: str | None


def sources(plan: dispatch.Plan, engineer_key: str) -> dict[str, list[Source]]:
    """{job key: its parts' sources} for the visits on the engineer's route (parts short on the
    route, which the engine would not plan, are left out)."""
    route = plan.route_of(engineer_key)
    if route is None or plan.problem is None:
        return {}
    engineer = next((e for e in plan.problem.engineers if e.id == engineer_key), None)
    van = dict(engineer.stock) if engineer is not None else {}
    lots: dict[str, list[list[str | int]]] = {}  # sku -> [warehouse key, units not yet used], in order
    out: dict[str, list[Source]] = {}
    for stop in route.stops:
        if stop.kind == "pickup":
            for sku, quantity in stop.parts.items():
                lots.setdefault(sku, []).append([stop.id, quantity])
            continue
        if stop.kind != "job":
            continue
        taken: Counter[tuple[str, str | None]] = Counter()
        for sku, need in stop.parts.items():
            from_van = min(need, van.get(sku, 0))
            van[sku] = van.get(sku, 0) - from_van
            taken[(sku, None)] += from_van
            need -= from_van
            for lot in reversed(lots.get(sku, [])):  # the latest pickup first, as trim_pickups takes
                if need <= 0:
                    break
                units = min(need, int(lot[1]))
                lot[1] = int(lot[1]) - units
                taken[(sku, str(lot[0]))] += units
                need -= units
        out[stop.id] = [Source(sku, q, wh) for (sku, wh), q in taken.items() if q > 0]
    return out


def pickups_changed(
    before: dict[str, list[Source]], after: dict[str, list[Source]], *, but: str
) -> list[tuple[str, Source, bool]]:
    """(job key, units, added?) for the other visits whose warehouse pickups differ after the move:
    added, a pickup they now need (their van units went to the moved visit); else one no longer
    made. The moved visit (`but`) is left out: its parts are listed as its own."""
    out: list[tuple[str, Source, bool]] = []
    for job in sorted((set(before) | set(after)) - {but}):
        was = _pickups(before.get(job, []))
        now = _pickups(after.get(job, []))
        for sku, wh in sorted(set(was) | set(now)):
            diff = now[(sku, wh)] - was[(sku, wh)]
            if diff:
                out.append((job, Source(sku, abs(diff), wh), diff > 0))
    return out


def _pickups(lines: list[Source]) -> Counter[tuple[str, str]]:
    return Counter({(s.sku, s.warehouse): s.quantity for s in lines if s.warehouse is not None})
