"""`python -m dispatch.bench replan`: emergency insertion latency and promises kept.

A 200-job / 20-engineer day is planned once; every served job is then promised an arrival slot
around its planned start (``Job.appointment``). Each of N random emergencies (priority 1, random
location, skill and part, due within four hours) is inserted into that same promised day at a
random moment, independently, with ``dispatch.replan``. Reported: wall-clock latency of the call,
whether the emergency got served, and how many promised appointments moved (job dropped, or its
new start outside the promised slot), plus how many changed engineer.
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from typing import Any

from dispatch import Job, Plan, Position, Problem
from dispatch.bench import machine
from dispatch.bench.checkers import fsr_generate
from dispatch.bench.report import mean, median, percentile, table

HOUR = 3600


def promise(problem: Problem, plan: Plan, slot_s: int) -> Problem:
    """The day as customers know it: each served job promised [start - slot/2, start + slot/2]."""
    starts = {s.id: s.start for r in plan.routes for s in r.stops if s.kind == "job"}
    half = slot_s // 2
    jobs = tuple(
        replace(j, appointment=(starts[j.id] - half, starts[j.id] + half)) if j.id in starts else j
        for j in problem.jobs
    )
    return replace(problem, jobs=jobs)


def state_at(plan: Plan, problem: Problem, now: int) -> tuple[list[str], list[str], list[Position]]:
    """Jobs done and started by ``now`` and where each engineer is (or will be free)."""
    where = {j.id: j.location for j in problem.jobs}
    where.update({w.id: w.location for w in problem.warehouses})
    engineers = {e.id: e for e in problem.engineers}
    done: list[str] = []
    started: list[str] = []
    positions: list[Position] = []
    for route in plan.routes:
        loc, free = engineers[route.engineer_id].start, now
        for s in route.stops:
            if s.end <= now:
                if s.kind == "job":
                    done.append(s.id)
                if s.kind != "break":
                    loc = where[s.id]
            elif s.start <= now:
                if s.kind == "job":
                    started.append(s.id)
                if s.kind != "break":
                    loc = where[s.id]
                free = s.end
                break
            else:
                break
        if route.stops and route.stops[0].start <= now:
            positions.append(Position(route.engineer_id, loc, free))
    return done, started, positions


def emergency(rng: random.Random, inst: dict[str, Any], k: int, now: int) -> Job:
    lats = [j["location"][0] for j in inst["jobs"]]
    lons = [j["location"][1] for j in inst["jobs"]]
    skills = sorted({s for e in inst["engineers"] for s in e["skills"]})
    parts = sorted(
        {p for e in inst["engineers"] for p in e.get("stock", {})}
        | {p for w in inst.get("warehouses", []) for p in w.get("stock", {})}
    )
    return Job(
        id=f"EMERGENCY-{k:02d}",
        location=(round(rng.uniform(min(lats), max(lats)), 6), round(rng.uniform(min(lons), max(lons)), 6)),
        duration_s=rng.choice([45, 60, 90]) * 60,
        windows=((now, now + 4 * HOUR),),
        skills=frozenset({rng.choice(skills)}),
        parts={rng.choice(parts): 1} if parts else {},
        priority=1,
    )


def main(
    jobs: int,
    engineers: int,
    n: int,
    seed: int,
    time_limit: float,
    replan_limit: float = 1.0,
    slot_s: int = 2 * HOUR,
) -> int:
    from dispatch import fsr_io, replan, solve

    print(machine.header(f"replan, {jobs} jobs / {engineers} engineers, {n} emergencies"))
    inst = fsr_generate(jobs, engineers, seed=seed)
    problem, provider = fsr_io.load(inst)
    base = solve(problem, time_limit=time_limit, provider=provider)
    promised = promise(problem, base, slot_s)
    before = {s.id: (r.engineer_id, s.start) for r in base.routes for s in r.stops if s.kind == "job"}
    print(f"base plan ({time_limit:g} s): {base.summary().splitlines()[0]}")
    rng = random.Random(seed)
    rows, latencies, moved_counts, reassigned_counts, served = [], [], [], [], 0
    for k in range(n):
        now = rng.randrange(9 * HOUR, 14 * HOUR, 60)
        job = emergency(rng, inst, k, now)
        done, started, positions = state_at(base, promised, now)
        t0 = time.perf_counter()
        new = replan(
            base,
            promised,
            now=now,
            positions=positions,
            done=done,
            started=started,
            new_jobs=[job],
            time_limit=replan_limit,
            seed=k,
        )
        latency = time.perf_counter() - t0
        after = {s.id: (r.engineer_id, s.start) for r in new.routes for s in r.stops if s.kind == "job"}
        frozen = set(done) | set(started)
        appts = {j.id: j.appointment for j in promised.jobs if j.appointment is not None}
        moved = reassigned = 0
        for jid, (eng, _) in before.items():
            if jid in frozen:
                continue
            if jid not in after:
                moved += 1
                continue
            a, b = appts[jid]
            moved += not a <= after[jid][1] <= b
            reassigned += after[jid][0] != eng
        ok = job.id in after
        served += ok
        violations = new.violations()
        latencies.append(latency)
        moved_counts.append(moved)
        reassigned_counts.append(reassigned)
        rows.append(
            [
                job.id,
                f"{now // HOUR:02d}:{now % HOUR // 60:02d}",
                sorted(job.skills)[0],
                ",".join(job.parts),
                ok,
                moved,
                reassigned,
                latency * 1000,
                "ok" if not violations else f"{len(violations)} violations",
            ]
        )
    print()
    print(
        table(
            ["emergency", "at", "skill", "part", "served", "appts moved", "reassigned", "ms", "self-check"],
            rows,
            digits=0,
        )
    )
    print()
    print(
        table(
            [
                "emergencies",
                "served",
                "median ms",
                "p95 ms",
                "max ms",
                "moved median",
                "moved mean",
                "moved max",
                "reassigned mean",
            ],
            [
                [
                    n,
                    served,
                    median(latencies) * 1000,
                    percentile(latencies, 95) * 1000,
                    max(latencies) * 1000,
                    median(moved_counts),
                    mean(moved_counts),
                    max(moved_counts),
                    mean(reassigned_counts),
                ]
            ],
            digits=1,
        )
    )
    print(machine.footer())
    return 0
