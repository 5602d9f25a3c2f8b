"""The fsr/1 benchmark format (shared/benchmarks/fsr/FORMAT.md) to and from Problem and Plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .matrix import GreatCircle
from .model import Engineer, Job, Plan, Problem, Settings, Warehouse


def load(source: str | Path | dict[str, Any]) -> tuple[Problem, GreatCircle]:
    """An fsr/1 instance as a Problem plus the travel provider its format defines."""
    if isinstance(source, dict):
        inst = source
    else:
        with open(source) as f:
            inst = json.load(f)
    if inst.get("format") != "fsr/1":
        raise ValueError(f"not an fsr/1 instance (format is {inst.get('format')!r})")
    if inst.get("metric", "haversine") != "haversine":
        raise ValueError(f"unsupported metric {inst.get('metric')!r}")
    weights = {int(k): int(v) for k, v in inst["priority_weight"].items()}
    # The instance's own weights are the objective; one unit of weight outweighs any travel.
    settings = Settings(priority_weights=weights, weight_cost=10_000_000)
    engineers = [
        Engineer(
            id=e["id"],
            start=tuple(e["start"]),
            end=tuple(e["end"]),
            shift=tuple(e["shift"]),
            skills=frozenset(e.get("skills", [])),
            stock=e.get("stock", {}),
        )
        for e in inst["engineers"]
    ]
    warehouses = [
        Warehouse(
            id=w["id"],
            location=tuple(w["location"]),
            open=tuple(w["open"]),
            pickup_s=int(w.get("pickup_s", 0)),
            stock=w.get("stock", {}),
        )
        for w in inst.get("warehouses", [])
    ]
    jobs = [
        Job(
            id=j["id"],
            location=tuple(j["location"]),
            duration_s=int(j["service_s"]),
            windows=tuple(tuple(w) for w in j.get("windows", [])),
            skills=frozenset(j.get("skills", [])),
            parts=j.get("parts", {}),
            priority=int(j["priority"]),
        )
        for j in inst["jobs"]
    ]
    problem = Problem(tuple(engineers), tuple(jobs), tuple(warehouses), settings, name=inst.get("name", ""))
    # fsr/1 defines seconds as round(metres / speed): use exactly that (never below it).
    provider = GreatCircle(
        speed_kmh=float(inst["speed_kmh"]), detour=float(inst.get("detour", 1.0)), rounding="round"
    )
    return problem, provider


def solution(plan: Plan, name: str = "") -> dict[str, Any]:
    routes = []
    for r in plan.routes:
        stops: list[dict[str, Any]] = []
        for s in r.stops:
            if s.kind == "job":
                stops.append({"job": s.id})
            elif s.kind == "pickup":
                stops.append({"warehouse": s.id, "parts": dict(s.parts)})
        if stops:
            routes.append({"engineer": r.engineer_id, "stops": stops})
    out: dict[str, Any] = {"format": "fsr-solution/1"}
    if name:
        out["instance"] = name
    out["routes"] = routes
    out["unassigned"] = [u.job_id for u in plan.unassigned]
    return out
