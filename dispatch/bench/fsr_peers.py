"""Field-service peers: VROOM given the same day (without warehouses) and a greedy baseline.

Both produce ``fsr-solution/1`` dicts that the shared checker judges. Travel times come from the
shared tool's own ``leg`` function, so they are exactly the integer seconds FORMAT.md defines.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dispatch.bench.checkers import FSR_TOOL, _load

# FORMAT.md: VROOM priorities run 0..100; fsr priority 1 (emergency) .. 4 (low).
VROOM_PRIORITY = {1: 100, 2: 10, 3: 1, 4: 0}
VROOM_THREADS = 2
VROOM_EXPLORATION = 5


def leg_seconds(inst: dict[str, Any], a: list[float], b: list[float]) -> int:
    return int(_load(FSR_TOOL).leg(inst, a, b)[1])


def leg_metres(inst: dict[str, Any], a: list[float], b: list[float]) -> float:
    return float(_load(FSR_TOOL).leg(inst, a, b)[0])


def _points(inst: dict[str, Any]) -> list[list[float]]:
    """Jobs first (index = job position), then each engineer's start and end."""
    pts = [j["location"] for j in inst["jobs"]]
    for e in inst["engineers"]:
        pts += [e["start"], e["end"]]
    return pts


def solve_vroom(inst: dict[str, Any], time_limit: float) -> dict[str, Any]:
    """VROOM on the day: skills, windows, priorities, shift, van stock as capacities."""
    import numpy as np
    import vroom

    pts = _points(inst)
    leg = _load(FSR_TOOL).leg
    durations = np.array([[leg(inst, a, b)[1] for b in pts] for a in pts], dtype=np.uint32)
    problem = vroom.Input()
    problem.set_durations_matrix("car", durations)
    skill_ids = {
        s: k
        for k, s in enumerate(
            sorted(
                {s for e in inst["engineers"] for s in e["skills"]}
                | {s for j in inst["jobs"] for s in j.get("skills", [])}
            )
        )
    }
    parts = sorted(
        {p for e in inst["engineers"] for p in e.get("stock", {})}
        | {p for j in inst["jobs"] for p in j.get("parts", {})}
    )
    n_jobs = len(inst["jobs"])
    for k, e in enumerate(inst["engineers"]):
        stock = e.get("stock", {})
        problem.add_vehicle(
            vroom.Vehicle(
                id=k,
                start=n_jobs + 2 * k,
                end=n_jobs + 2 * k + 1,
                capacity=[int(stock.get(p, 0)) for p in parts] or [0],
                skills={skill_ids[s] for s in e["skills"]},
                time_window=vroom.TimeWindow(*e["shift"]),
            )
        )
    jobs = []
    for i, j in enumerate(inst["jobs"]):
        need = j.get("parts", {})
        windows = sorted(tuple(w) for w in j["windows"])
        jobs.append(
            vroom.Job(
                id=i,
                location=i,
                default_service=int(j["service_s"]),
                delivery=[int(need.get(p, 0)) for p in parts] or [0],
                skills={skill_ids[s] for s in j.get("skills", [])},
                priority=VROOM_PRIORITY[int(j["priority"])],
                time_windows=[vroom.TimeWindow(a, b) for a, b in windows],
            )
        )
    problem.add_job(jobs)
    out = problem.solve(
        exploration_level=VROOM_EXPLORATION,
        nb_threads=VROOM_THREADS,
        timeout=timedelta(seconds=time_limit),
    ).to_dict()
    routes = []
    served: set[str] = set()
    for route in out["routes"]:
        stops = []
        for step in route["steps"]:
            if step["type"] == "job":
                jid = inst["jobs"][int(step["id"])]["id"]
                stops.append({"job": jid})
                served.add(jid)
        routes.append({"engineer": inst["engineers"][int(route["vehicle"])]["id"], "stops": stops})
    return {
        "format": "fsr-solution/1",
        "instance": inst.get("name"),
        "routes": routes,
        "unassigned": [j["id"] for j in inst["jobs"] if j["id"] not in served],
    }


def _start_in_windows(arrive: int, windows: list[list[int]]) -> int | None:
    starts = [max(arrive, a) for a, b in windows if max(arrive, a) <= b]
    return min(starts) if starts else None


def solve_greedy(inst: dict[str, Any]) -> dict[str, Any]:
    """Jobs in priority order (then earliest window); each goes to the end of the route of the
    nearest engineer who has the skills, the parts in the van and time to do it and get home."""
    engs = inst["engineers"]
    state = [
        {"t": e["shift"][0], "here": e["start"], "van": dict(e.get("stock", {})), "stops": []} for e in engs
    ]
    order = sorted(inst["jobs"], key=lambda j: (int(j["priority"]), min(w[0] for w in j["windows"]), j["id"]))
    unassigned = []
    for job in order:
        need = job.get("parts", {})
        best: tuple[float, int, int] | None = None
        for k, e in enumerate(engs):
            st = state[k]
            if not set(job.get("skills", [])) <= set(e["skills"]):
                continue
            if any(st["van"].get(p, 0) < q for p, q in need.items()):
                continue
            start = _start_in_windows(
                st["t"] + leg_seconds(inst, st["here"], job["location"]), job["windows"]
            )
            if start is None:
                continue
            finish = start + job["service_s"]
            if finish + leg_seconds(inst, job["location"], e["end"]) > e["shift"][1]:
                continue
            dist = leg_metres(inst, st["here"], job["location"])
            if best is None or dist < best[0]:
                best = (dist, k, finish)
        if best is None:
            unassigned.append(job["id"])
            continue
        _, k, finish = best
        st = state[k]
        st["t"], st["here"] = finish, job["location"]
        for p, q in need.items():
            st["van"][p] -= q
        st["stops"].append({"job": job["id"]})
    return {
        "format": "fsr-solution/1",
        "instance": inst.get("name"),
        "routes": [
            {"engineer": e["id"], "stops": st["stops"]}
            for e, st in zip(engs, state, strict=True)
            if st["stops"]
        ],
        "unassigned": sorted(unassigned),
    }


def jobs_using_pickups(inst: dict[str, Any], solution: dict[str, Any]) -> int:
    """Served jobs that needed a picked-up unit: van stock is consumed first, pickups after, so
    this counts only jobs the engineer could not have served from the original van."""
    engs = {e["id"]: e for e in inst["engineers"]}
    jobs = {j["id"]: j for j in inst["jobs"]}
    count = 0
    for route in solution.get("routes", []):
        own = dict(engs[route["engineer"]].get("stock", {}))
        for stop in route.get("stops", []):
            if "job" not in stop:
                continue
            used_pickup = False
            for p, q in jobs[stop["job"]].get("parts", {}).items():
                from_van = min(q, own.get(p, 0))
                own[p] = own.get(p, 0) - from_van
                used_pickup |= from_van < q
            count += used_pickup
    return count
