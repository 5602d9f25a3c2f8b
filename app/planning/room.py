"""A visit the engine calls "no capacity" on a day that is not full: what takes the time instead.

The engine says `no_capacity` ("their day is full of higher-value work") for any visit it could
serve on its own but left out. On a day whose only other visits are kept at a time set by hand
(`Loaded.held`: fixed, they cannot make way) that is wrong: no work of more value could be moved,
the time is taken by the kept visits and the break (QA: one kept visit at 10:00 sitting on the
break window, and Assign answered "day full" for an empty day). The reason then names them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

import dispatch
from app.planning import keys as plan_keys
from app.planning import reasons
from app.planning.reasons import absent_capable, duration_words
from app.planning.service import Loaded

Span = tuple[int, int]


def left_out(
    loaded: Loaded,
    plan: dispatch.Plan,
    job: dispatch.Job | None,
    found: dispatch.Unassigned,
    names: dict[int, str],
    numbers: Mapping[int, str],
) -> dispatch.Unassigned:
    """The reason of a visit left out as a plan run stores it, the what-if previews it and Assign
    refuses with it: `reasons.left_out`, then `not_full`, so all three name the same blocker (the
    run and the what-if said "day full" where Assign named the kept visit over the break).
    `numbers`: the kept visits' numbers (`loaded.held`), read once by the caller. A kept visit
    itself is not left out (it stays where it was set, at risk): its reason is the engine's."""
    said = reasons.left_out(loaded, job, found, names)
    if job is None or plan_keys.key_id(job.id) in loaded.held:
        return said
    return not_full(loaded, plan, job, said, names, numbers)


def not_full(
    loaded: Loaded,
    plan: dispatch.Plan,
    job: dispatch.Job,
    found: dispatch.Unassigned,
    names: Mapping[int, str],
    numbers: Mapping[int, str],
) -> dispatch.Unassigned:
    """`found` unchanged unless it is `no_capacity` and no capable engineer's route holds a visit
    that could make way (every visit on it kept by hand, or none): then the kept visits and the
    break are named, as `window_unreachable` (the visit does not fit the working time left)."""
    if found.reason != "no_capacity" or plan.problem is None or loaded.problem is None:
        return found
    capable = [
        e
        for e in plan.problem.engineers
        if job.skills <= e.skills
        and job.pinned_engineer in (None, e.id)
        and (job.on_call_ok or not e.on_call)
    ]
    if not capable or absent_capable(loaded, job):
        return found  # an absence that cut the shift is named by `reasons.left_out`
    for e in capable:
        route = plan.route_of(e.id)
        if route and any(s.kind == "job" and plan_keys.key_id(s.id) not in loaded.held for s in route.stops):
            return found  # other work the engine preferred: "day full" is what happened
    original = {e.id: e for e in loaded.problem.engineers}
    # one engineer (Assign's day): the refusal names her already
    said = [_why(loaded, original.get(e.id, e), job, names, numbers, len(capable) > 1) for e in capable]
    return dispatch.Unassigned(found.job_id, "window_unreachable", "; ".join(said))


def _why(
    loaded: Loaded,
    engineer: dispatch.Engineer,
    job: dispatch.Job,
    names: Mapping[int, str],
    numbers: Mapping[int, str],
    named: bool,
) -> str:
    eid = plan_keys.key_id(engineer.id)
    who = names.get(eid, f"engineer {eid}")
    durations = {plan_keys.key_id(j.id): j.duration_s for j in loaded.problem.jobs} if loaded.problem else {}
    kept: list[tuple[Span, int]] = sorted(
        ((start := plan_keys.to_s(loaded.ref, at), start + durations.get(wo_id, 0)), wo_id)
        for wo_id, (owner, at) in loaded.held.items()
        if owner == eid
    )
    # the shift's own break: the one that may move (a gap of absence is a break fixed at its time)
    flexible = [b for b in engineer.breaks if b.window[1] > b.window[0]]
    parts = []
    for (a, b), wo_id in kept:
        on_break = any(a < w1 + br.duration_s and b > w0 for br in flexible for w0, w1 in [br.window])
        parts.append(
            f"{numbers.get(wo_id, f'visit {wo_id}')} is kept at {_hm(loaded, a)}–{_hm(loaded, b)} where it "
            f"was set by hand{', over the break' if on_break else ''}"
        )
    for br in flexible:
        parts.append(
            f"the break ({duration_words(br.duration_s)}) must start between {_hm(loaded, br.window[0])} and "
            f"{_hm(loaded, br.window[1])}"
        )
    fixed = [(br.window[0], br.window[0] + br.duration_s) for br in engineer.breaks if br not in flexible]
    free = _free(engineer.shift, [span for span, _ in kept] + fixed)
    longest = max(free, key=lambda s: s[1] - s[0], default=None)
    left = (
        f"the longest free stretch is {duration_words(longest[1] - longest[0])} ({_hm(loaded, longest[0])}–"
        f"{_hm(loaded, longest[1])})"
        if longest
        else "no time of the shift is free"
    )
    whose = f"{who}'s" if named else "the"
    blockers = "; ".join(parts) or "nothing else is planned"
    return (
        f"{whose} day is not full of other work ({blockers}): {left}, too short for its "
        f"{duration_words(job.duration_s)} with the way there and back"
    )


def _free(shift: Span, taken: list[Span]) -> list[Span]:
    """The shift without the taken spans."""
    at, end = shift
    out = []
    for a, b in sorted(taken):
        if a > at:
            out.append((at, min(a, end)))
        at = max(at, b)
    if at < end:
        out.append((at, end))
    return [(a, b) for a, b in out if b > a]


def _hm(loaded: Loaded, seconds: int) -> str:
    at: datetime = plan_keys.from_s(loaded.ref, seconds)
    return f"{at.astimezone(ZoneInfo(loaded.tz)):%H:%M}"
