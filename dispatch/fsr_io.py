"""The fsr/1 benchmark format (shared/benchmarks/fsr/FORMAT.md) to and from Problem and Plan."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .matrix import GreatCircle
from .model import Engineer, Job, Plan, Problem, Settings, Warehouse

# Sane bounds for one planning day, well inside what the solver's integers hold.
MAX_TIME_S = 14 * 86_400  # shifts, opening hours and windows: seconds after midnight, 0..14 days
MAX_SERVICE_S = 7 * 86_400  # service_s and pickup_s
MAX_WEIGHT = 1_000_000  # priority_weight (times 10^7 per unit of weight in the objective)
MAX_QUANTITY = 1_000_000  # parts in a van, a warehouse or a job
MIN_SPEED_KMH, MAX_SPEED_KMH = 1.0, 1000.0
MAX_DETOUR = 10.0


def load(source: str | Path | dict[str, Any]) -> tuple[Problem, GreatCircle]:
    """An fsr/1 instance as a Problem plus the travel provider its format defines.

    Raises ValueError naming the item (``jobs[3] (id J4)``) and the field for malformed input.
    """
    if isinstance(source, dict):
        inst: Any = source
    else:
        with open(source) as f:
            inst = json.load(f)
    if not isinstance(inst, dict):
        raise ValueError(f"an fsr/1 instance is a JSON object, got {_kind(inst)}")
    if inst.get("format") != "fsr/1":
        raise ValueError(f"not an fsr/1 instance (format is {inst.get('format')!r})")
    if inst.get("metric", "haversine") != "haversine":
        raise ValueError(f"unsupported metric {inst.get('metric')!r}")
    name = inst.get("name", "")
    if not isinstance(name, str):
        raise ValueError(f"name must be a string, got {name!r}")
    weights = _weights(_field(inst, "priority_weight", "instance"))
    speed_kmh = _number(
        _field(inst, "speed_kmh", "instance"),
        "speed_kmh",
        f"a finite number of km/h ≥ {MIN_SPEED_KMH:g} and ≤ {MAX_SPEED_KMH:g}",
        MIN_SPEED_KMH,
        MAX_SPEED_KMH,
    )
    detour = _number(
        inst.get("detour", 1.0), "detour", f"a finite number > 0 and ≤ {MAX_DETOUR:g}", 0.0, MAX_DETOUR
    )
    if detour <= 0:
        raise ValueError(f"detour must be a finite number > 0 and ≤ {MAX_DETOUR:g}, got {detour!r}")
    # The instance's own weights are the objective; one unit of weight outweighs any travel. The
    # format scores weight and travel only, not how soon an emergency is served.
    settings = Settings(priority_weights=weights, weight_cost=10_000_000, urgent_cost_per_s=0)
    engineers = [
        Engineer(
            id=e["id"],
            start=tuple(e["start"]),
            end=tuple(e["end"]),
            shift=tuple(e["shift"]),
            skills=frozenset(e.get("skills", [])),
            stock=e.get("stock", {}),
        )
        for e in _items(inst, "engineers", _check_engineer)
    ]
    warehouses = [
        Warehouse(
            id=w["id"],
            location=tuple(w["location"]),
            open=tuple(w["open"]),
            pickup_s=int(w.get("pickup_s", 0)),
            stock=w.get("stock", {}),
        )
        for w in _items(inst, "warehouses", _check_warehouse, required=False)
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
        for j in _items(inst, "jobs", _check_job)
    ]
    problem = Problem(tuple(engineers), tuple(jobs), tuple(warehouses), settings, name=name)
    # fsr/1 defines seconds as round(metres / speed): use exactly that (never below it).
    provider = GreatCircle(speed_kmh=float(speed_kmh), detour=float(detour), rounding="round")
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


# ------------------------------------------------------------------------------------ checking
def _show(v: Any) -> str:
    try:
        text = json.dumps(v, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(v: Any) -> str:
    if isinstance(v, dict):
        return "an object"
    if isinstance(v, list):
        return "an array"
    return _show(v)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _field(item: dict[str, Any], key: str, where: str) -> Any:
    if key not in item:
        raise ValueError(f"{where}: {key} is missing")
    return item[key]


def _number(v: Any, what: str, desc: str, lo: float, hi: float) -> float:
    if not _is_number(v) or not math.isfinite(v) or not lo <= v <= hi:
        raise ValueError(f"{what} must be {desc}, got {_show(v)}")
    return float(v) if isinstance(v, float) else v


def _whole(v: Any, what: str, desc: str, lo: int, hi: int) -> None:
    ok = isinstance(v, int) or (isinstance(v, float) and v.is_integer())
    if not _is_number(v) or not ok or not lo <= v <= hi:
        raise ValueError(f"{what} must be {desc}, got {_show(v)}")


def _weights(w: Any) -> dict[int, int]:
    if not isinstance(w, dict):
        raise ValueError(f"priority_weight must be an object {{priority: weight}}, got {_show(w)}")
    for k, v in w.items():
        if k not in ("1", "2", "3", "4"):
            raise ValueError(f'priority_weight: keys must be priorities "1" to "4", got {_show(k)}')
        _whole(v, f"priority_weight[{_show(k)}]", f"a whole number ≥ 0 and ≤ {MAX_WEIGHT}", 0, MAX_WEIGHT)
    return {int(k): int(v) for k, v in w.items()}


def _items(
    inst: dict[str, Any], key: str, check: Callable[[dict[str, Any], str], None], required: bool = True
) -> list[dict[str, Any]]:
    if key not in inst and not required:
        return []
    items = _field(inst, key, "instance")
    if not isinstance(items, list):
        raise ValueError(f"{key} must be an array of objects, got {_kind(items)}")
    for i, item in enumerate(items):
        where = f"{key}[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where} must be an object, got {_kind(item)}")
        item_id = item.get("id")
        if isinstance(item_id, str) and item_id:
            where += f" (id {item_id})"
        elif "id" in item:
            raise ValueError(f"{where}: id must be a non-empty string, got {_show(item_id)}")
        else:
            raise ValueError(f"{where}: id is missing")
        check(item, where)
    return items


def _location(item: dict[str, Any], key: str, where: str) -> None:
    loc = _field(item, key, where)
    ok = isinstance(loc, list) and len(loc) == 2 and all(_is_number(x) and math.isfinite(x) for x in loc)
    if not ok or not (-90 <= loc[0] <= 90 and -180 <= loc[1] <= 180):
        raise ValueError(
            f"{where}: {key} must be [lat, lon] numbers (latitude -90..90, longitude -180..180), "
            f"got {_show(loc)}"
        )


def _window(w: Any, what: str) -> None:
    ok = isinstance(w, list) and len(w) == 2 and all(_is_number(x) and math.isfinite(x) for x in w)
    if not ok or not 0 <= w[0] <= w[1] <= MAX_TIME_S:
        raise ValueError(
            f"{what} must be [from, to] seconds after midnight with 0 ≤ from ≤ to ≤ 14 days "
            f"({MAX_TIME_S}), got {_show(w)}"
        )


def _seconds(item: dict[str, Any], key: str, where: str, default: Any = None) -> None:
    v = _field(item, key, where) if default is None else item.get(key, default)
    _number(v, f"{where}: {key}", "a finite number of seconds ≥ 0 and ≤ 7 days", 0, MAX_SERVICE_S)


def _skills(item: dict[str, Any], where: str) -> None:
    s = item.get("skills", [])
    if not isinstance(s, list) or not all(isinstance(x, str) and x for x in s):
        raise ValueError(f"{where}: skills must be a list of strings, got {_show(s)}")


def _quantities(item: dict[str, Any], key: str, where: str) -> None:
    q = item.get(key, {})
    if not isinstance(q, dict):
        raise ValueError(f"{where}: {key} must be an object {{part: quantity}}, got {_show(q)}")
    for part, n in q.items():
        if not part:
            raise ValueError(f"{where}: {key}: part names must be non-empty strings")
        if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_QUANTITY:
            raise ValueError(
                f"{where}: {key}[{_show(part)}] must be a whole number ≥ 0 and ≤ {MAX_QUANTITY}, "
                f"got {_show(n)}"
            )


def _check_engineer(e: dict[str, Any], where: str) -> None:
    _location(e, "start", where)
    _location(e, "end", where)
    _window(_field(e, "shift", where), f"{where}: shift")
    _skills(e, where)
    _quantities(e, "stock", where)


def _check_warehouse(w: dict[str, Any], where: str) -> None:
    _location(w, "location", where)
    _window(_field(w, "open", where), f"{where}: open")
    _seconds(w, "pickup_s", where, default=0)
    _quantities(w, "stock", where)


def _check_job(j: dict[str, Any], where: str) -> None:
    _location(j, "location", where)
    _seconds(j, "service_s", where)
    windows = j.get("windows", [])
    if not isinstance(windows, list):
        raise ValueError(f"{where}: windows must be an array of [from, to] pairs, got {_show(windows)}")
    for k, w in enumerate(windows):
        _window(w, f"{where}: windows[{k}]")
    _skills(j, where)
    _quantities(j, "parts", where)
    _whole(_field(j, "priority", where), f"{where}: priority", "an integer 1 (emergency) to 4 (low)", 1, 4)
