"""Engine keys, time conversion and input fingerprints of the planning bridge (app/planning/service.py).

The engine counts integer seconds from local midnight of the plan day in the region's time zone
(`day_reference`, an aware UTC datetime). Wall-clock times go through the zone for that very
date, so an 08:00 shift start on a 23- or 25-hour DST day lands on the right UTC instant.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import dispatch

if TYPE_CHECKING:
    from app.planning.service import Loaded


# ---------------------------------------------------------------------------------- ids and time
def engineer_key(engineer_id: int) -> str:
    return f"E{engineer_id}"


def job_key(work_order_id: int) -> str:
    return f"WO{work_order_id}"


def warehouse_key(warehouse_id: int) -> str:
    return f"W{warehouse_id}"


def cover_key(engineer_id: int, cover: str | None) -> str:
    """An engineer's engine key; on-call cover is a separate engine engineer (`E12~oc5.0`:
    engineer 12, on-call shift 5, first stretch of it on that day)."""
    return engineer_key(engineer_id) + (f"~{cover}" if cover else "")


def cover_of(key: str) -> str | None:
    """The on-call part of an engineer's engine key (None: the regular shift)."""
    return key.split("~", 1)[1] if "~" in key else None


def key_id(key: str) -> int:
    """The database id inside an engine key (E12 → 12, WO7 → 7, W3 → 3, E12~oc5.0 → 12)."""
    return int(key.split("~", 1)[0].lstrip("EWO"))


def day_reference(day: date, tz: str) -> datetime:
    """Local midnight of `day` in `tz`, as an aware UTC datetime: the engine's second 0."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def local_at(day: date, t: time, tz: str) -> datetime:
    return datetime.combine(day, t, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def to_s(ref: datetime, at: datetime) -> int:
    """Whole seconds, rounded down (ends of windows, deadlines)."""
    return math.floor((at - ref).total_seconds())


def to_s_up(ref: datetime, at: datetime) -> int:
    """Whole seconds, rounded up: a window or promise opening at 10:00:00.4 opens at second 1."""
    return math.ceil((at - ref).total_seconds())


def from_s(ref: datetime, seconds: int) -> datetime:
    return ref + timedelta(seconds=int(seconds))


def local_day(at: datetime, tz: str) -> date:
    return at.astimezone(ZoneInfo(tz)).date()


# ------------------------------------------------------------------------------------ fingerprint
def fingerprint(loaded: Loaded, jobs: list[dispatch.Job], solve_params: dict[str, Any]) -> str:
    """A hash of the engine input and the solve parameters: the same input plans the same way,
    so a plan with the fingerprint of the published one needs no publishing."""
    p = loaded.problem
    doc: dict[str, Any] = {
        "region": loaded.region_id,
        "day": loaded.day.isoformat(),
        "params": solve_params,
        "as_of": loaded.as_of.isoformat() if loaded.as_of else None,
        "fixed": [
            (f.work_order_id, f.engineer_id, f.start_at.isoformat(), f.end_at.isoformat())
            for f in loaded.fixed
        ],
        "locked": sorted(loaded.locked),
    }
    if p is not None:
        doc["engineers"] = [_plain(e) for e in p.engineers]
        doc["jobs"] = [_plain(j) for j in p.jobs]
        doc["warehouses"] = [_plain(w) for w in p.warehouses]
        doc["settings"] = _plain(p.settings)
    else:
        doc["jobs"] = [_plain(j) for j in jobs]
    blob = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _plain(obj: Any) -> Any:
    if hasattr(obj, "__slots__") or hasattr(obj, "__dataclass_fields__"):
        names = getattr(obj, "__dataclass_fields__", {})
        return {n: _plain(getattr(obj, n)) for n in sorted(names)}
    if isinstance(obj, frozenset | set):
        return sorted(_plain(x) for x in obj)
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, list | tuple):
        return [_plain(x) for x in obj]
    return obj
