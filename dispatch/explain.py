"""Why each job went where it did (or nowhere), in terms a dispatcher can check.

For an assigned job: the skills that matched, where each part comes from (the van, or a pickup
at which warehouse), the travel the job adds to its route, how long its start could slip before
the route breaks, and what moving it to each of the best other engineers would cost (cheapest
feasible insertion there, minus what leaving the current route saves). For an unassigned job:
the reason the plan records (no skill, no part anywhere, window unreachable, no capacity).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from .construct import Builder
from .core import BLOCKS, Compiled, compile_problem
from .lns import Evaluator, trim_pickups
from .model import Plan, Problem
from .schedule import RawStop


@dataclass(frozen=True, slots=True)
class Alternative:
    engineer_id: str
    extra_cost: int | None  # objective increase if the job moved there; None: cannot
    note: str = ""

    @property
    def feasible(self) -> bool:
        return self.extra_cost is not None


@dataclass(frozen=True, slots=True)
class Candidate:
    """Why one engineer does not serve a job: the constraint the engine found binding."""

    engineer_id: str
    code: str  # skill, pinned, on_call, off_shift, capacity, part, window, day_full
    note: str


@dataclass(frozen=True, slots=True)
class Explanation:
    job_id: str
    engineer_id: str | None
    reason: str  # one readable sentence
    code: str = "assigned"  # or the Unassigned reason code
    skills: tuple[str, ...] = ()
    parts_from_van: dict[str, int] = field(default_factory=dict)
    parts_picked_up: dict[str, str] = field(default_factory=dict)  # part -> warehouse id
    travel_added_m: int = 0
    slack_s: int = 0
    alternatives: tuple[Alternative, ...] = ()
    candidates: tuple[Candidate, ...] = ()  # unassigned jobs: every engineer's binding constraint


def explain(
    plan: Plan,
    *,
    alternatives: int = 3,
    job_ids: Iterable[str] | None = None,
    person: Callable[[str], Hashable] | None = None,
) -> list[Explanation]:
    """One explanation per job of the plan's problem (or only for ``job_ids``), assigned ones
    first, in route order.

    ``person`` maps an engineer id to the person it is: engineers of one person (a shift and an
    on-call cover, modelled as two engineers) are never each other's alternative — moving a job
    from someone's cover to their own shift is no other engineer taking it (and saved the call-out,
    a "next best" of the same person at a negative cost)."""
    wanted = None if job_ids is None else set(job_ids)
    who: Callable[[str], Hashable] = person or (lambda engineer_id: engineer_id)
    from .engine import routes_from_plan

    prob = plan.problem
    if prob is None or plan.matrix is None:
        raise ValueError("this plan carries no problem to explain it against")
    c = compile_problem(prob, matrix=plan.matrix)
    builder = Builder(c)
    ev = Evaluator(c, builder)
    routes = routes_from_plan(c, plan)
    builder.run(routes, [], 0)  # warehouse stock left after the plan's pickups
    D = c.matrix.distance_m
    out: list[Explanation] = []
    for k, raw in enumerate(routes):
        if not raw:
            continue
        eng = prob.engineers[k]
        state = builder.state(k, raw)
        # Stops the compiled day no longer accepts are left out of `raw`: match times by id.
        route = plan.route_of(eng.id)
        assert route is not None  # the plan was made from these routes, and this one has stops
        timed = {s.id: s for s in route.stops if s.kind == "job"}
        here_cost = ev.route_cost(k, raw) or 0
        for i, stop in enumerate(raw):
            if stop[0] != "job":
                continue
            j = stop[1]
            job = prob.jobs[j]
            if wanted is not None and job.id not in wanted:
                continue
            rows = state.rows  # start, stops..., end
            added = int(D[rows[i], rows[i + 1]] + D[rows[i + 1], rows[i + 2]] - D[rows[i], rows[i + 2]])
            slack = max(0, int(state.latest[i + 1] - timed[job.id].start))
            van, picked = _parts_source(raw, i, eng.stock, prob)
            without = trim_pickups(c, k, raw[:i] + raw[i + 1 :])
            saving = here_cost - (ev.route_cost(k, without) or 0)
            alts = _alternatives(c, builder, ev, routes, k, j, saving, alternatives, who)
            parts_txt = "".join(
                [f", carries {p}" for p in van] + [f", picks up {p} at {w}" for p, w in picked.items()]
            )
            skills_txt = f"has {', '.join(sorted(job.skills))}" if job.skills else "no skill needed"
            best = next((a for a in alts if a.feasible), None)
            alt_txt = (
                f"; next best {best.engineer_id} {_extra_text(best.extra_cost or 0, prob)}"
                if best is not None
                else "; no other engineer could take it"
            )
            out.append(
                Explanation(
                    job_id=job.id,
                    engineer_id=eng.id,
                    reason=(
                        f"{eng.id} {skills_txt}{parts_txt}, adds {added / 1000:.1f} km, "
                        f"start can slip {slack // 60} min{alt_txt}"
                    ),
                    skills=tuple(sorted(job.skills)),
                    parts_from_van=van,
                    parts_picked_up=picked,
                    travel_added_m=added,
                    slack_s=slack,
                    alternatives=tuple(alts),
                )
            )
    index = {j.id: i for i, j in enumerate(prob.jobs)}
    for u in plan.unassigned:
        if wanted is not None and u.job_id not in wanted:
            continue
        j = index.get(u.job_id)
        cands = () if j is None else tuple(candidate(c, k, j) for k in range(c.n_vehicles))
        out.append(
            Explanation(
                job_id=u.job_id,
                engineer_id=None,
                reason=f"unassigned ({u.reason.replace('_', ' ')}): {u.detail}",
                code=u.reason,
                skills=tuple(sorted(prob.jobs[j].skills)) if j is not None else (),
                candidates=cands,
            )
        )
    return out


def candidate(c: Compiled, k: int, j: int) -> Candidate:
    """Engineer k and job j: the first static constraint that rules the pair out, in the order
    skill, pin, on-call cover, shift, capacity, part, window; else the day had no room for it."""
    prob = c.problem
    eng, job = prob.engineers[k], prob.jobs[j]
    code = BLOCKS[int(c.blocked[k, j])] if c.blocked.size else ""
    if code == "skill":
        missing = sorted(job.skills - eng.skills)
        note = f"lacks the skill{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
    elif code == "pinned":
        note = f"the job is pinned to {job.pinned_engineer}"
    elif code == "on_call":
        note = "on call then, and on-call cover takes only urgent or 24x7 work"
    elif code == "off_shift":
        shift = f"{_hhmm(eng.shift[0])}-{_hhmm(eng.shift[1])}"
        wins = ", ".join(f"{_hhmm(a)}-{_hhmm(b)}" for a, b in c.windows[j])
        note = f"off shift at that time (works {shift}, the visit must start {wins})"
    elif code == "capacity":
        note = f"demand {job.demand} exceeds capacity {eng.capacity}"
    elif code == "part":
        short = sorted(p for p, q in job.parts.items() if eng.stock.get(p, 0) < q)
        note = f"{', '.join(short)} neither in the van nor in any warehouse"
    elif code == "window":
        note = "cannot reach it inside its time window and be home by the end of the shift"
    else:
        code, note = "day_full", "could do it, but the day is full of more valuable work"
    return Candidate(eng.id, code, note)


def _extra_text(extra_cost: int, prob: Problem) -> str:
    """An objective difference in a dispatcher's unit: km of travel it is worth (travel, lateness,
    overtime and broken promises all count in the objective, whose unit is a metre of travel by
    default). Negative — the plan is not the cheapest for this job, or the day changed since it
    was made — is said as a saving, never as a negative cost."""
    per_m = prob.settings.travel_cost_per_m or 1
    km = abs(extra_cost) / per_m / 1000
    if extra_cost >= 0:
        return f"would cost the equivalent of {km:.1f} km more travel"
    return f"would even save the equivalent of {km:.1f} km of travel"


def _hhmm(t: int) -> str:
    day, rest = divmod(int(t), 86_400)
    txt = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}"
    return txt if day == 0 else f"{txt} (+{day} d)"


def _parts_source(
    raw: list[RawStop], i: int, stock: Mapping[str, int], prob: Problem
) -> tuple[dict[str, int], dict[str, str]]:
    """Part by part: from the van while it lasts, else from the latest pickup before it."""
    job = prob.jobs[raw[i][1]]
    van: dict[str, int] = {}
    picked: dict[str, str] = {}
    for p, q in job.parts.items():
        used_before = sum(prob.jobs[s[1]].parts.get(p, 0) for s in raw[:i] if s[0] == "job")
        if stock.get(p, 0) - used_before >= q:
            van[p] = q
            continue
        src = next((s for s in reversed(raw[:i]) if s[0] == "pickup" and s[2].get(p)), None)
        picked[p] = prob.warehouses[src[1]].id if src is not None else "?"
    return van, picked


def _alternatives(
    c: Compiled,
    builder: Builder,
    ev: Evaluator,
    routes: list[list[RawStop]],
    k: int,
    j: int,
    saving: int,
    limit: int,
    who: Callable[[str], Hashable],
) -> list[Alternative]:
    prob = c.problem
    found: list[Alternative] = []
    mine = who(prob.engineers[k].id)
    for k2, eng in enumerate(prob.engineers):
        if k2 == k or who(eng.id) == mine:
            continue
        if not c.allowed[k2, j]:
            found.append(Alternative(eng.id, None, candidate(c, k2, j).note))
            continue
        state = builder.state(k2, routes[k2])
        cost, pos = builder._screen(state, np.array([j]))
        seq = builder._try(state, j, int(pos[0])) if cost[0] < np.iinfo(np.int64).max // 4 else None
        if seq is None:
            found.append(Alternative(eng.id, None, "no free slot in the day that fits its window"))
            continue
        before = ev.route_cost(k2, routes[k2]) or 0
        after = ev.route_cost(k2, seq)
        if after is None:
            found.append(Alternative(eng.id, None, "no free slot in the day that fits its window"))
            continue
        found.append(Alternative(eng.id, int(after - before - saving), "could take it"))
    found.sort(key=lambda a: (a.extra_cost is None, a.extra_cost or 0))
    return found[:limit]
