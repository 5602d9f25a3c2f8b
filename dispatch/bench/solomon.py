"""Solomon VRPTW instances: parser, best-known distances and the integer model every solver gets.

Every solver in the benchmark sees the same integer data: coordinates' Euclidean distances,
service times and windows scaled by ``SCALE`` with travel rounded *up*, so a plan that is feasible
in integers is feasible for the double-precision checker. Distances are reported in doubles.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

SCALE = 1000


@dataclass(frozen=True)
class SolomonInstance:
    """One Solomon file; index 0 is the depot."""

    name: str
    fleet: int
    capacity: int
    xy: tuple[tuple[float, float], ...]
    demand: tuple[int, ...]
    ready: tuple[int, ...]
    due: tuple[int, ...]
    service: tuple[int, ...]

    @property
    def customers(self) -> int:
        return len(self.xy) - 1

    def distance(self, a: int, b: int) -> float:
        (xa, ya), (xb, yb) = self.xy[a], self.xy[b]
        return math.hypot(xa - xb, ya - yb)

    def scaled_matrix(self) -> list[list[int]]:
        """Travel matrix ×SCALE, rounded up so integer feasibility implies real feasibility."""
        n = len(self.xy)
        return [[math.ceil(self.distance(a, b) * SCALE) for b in range(n)] for a in range(n)]

    def route_distance(self, routes: list[list[int]]) -> float:
        """Total Euclidean distance of routes (customer ids, depot excluded), in doubles."""
        total = 0.0
        for route in routes:
            if not route:
                continue
            stops = [0, *route, 0]
            total += sum(self.distance(a, b) for a, b in zip(stops, stops[1:], strict=False))
        return total


def _number(token: str) -> float:
    try:
        return float(token)
    except ValueError:
        return math.nan


def parse_solomon(path: Path | str) -> SolomonInstance:
    """Read a Solomon-format text file; raise ValueError when it is not one."""
    path = Path(path)
    lines = [ln.split() for ln in path.read_text().splitlines()]
    fleet = capacity = None
    rows: list[list[float]] = []
    for i, parts in enumerate(lines):
        if parts[:2] == ["NUMBER", "CAPACITY"] and i + 1 < len(lines):
            fleet, capacity = int(lines[i + 1][0]), int(lines[i + 1][1])
        elif len(parts) == 7:
            values = [_number(p) for p in parts]
            if not any(math.isnan(v) for v in values):
                rows.append(values)
    if fleet is None or capacity is None or not rows:
        raise ValueError(f"{path}: not a Solomon instance (no vehicle line or no customer rows)")
    rows.sort(key=lambda r: r[0])
    if [int(r[0]) for r in rows] != list(range(len(rows))):
        raise ValueError(f"{path}: customer numbers must run 0..n without gaps")
    for r in rows:
        if any(v != int(v) for v in (r[3], r[4], r[5], r[6])):
            raise ValueError(f"{path}: customer {int(r[0])} has non-integer demand/time data")
    return SolomonInstance(
        name=path.stem.upper(),
        fleet=fleet,
        capacity=capacity,
        xy=tuple((r[1], r[2]) for r in rows),
        demand=tuple(int(r[3]) for r in rows),
        ready=tuple(int(r[4]) for r in rows),
        due=tuple(int(r[5]) for r in rows),
        service=tuple(int(r[6]) for r in rows),
    )


def load_bks(path: Path | str) -> dict[str, float]:
    """Best-known distance per instance name (upper case) from a bks CSV."""
    with open(path, newline="") as f:
        return {row["instance"].upper(): float(row["distance"]) for row in csv.DictReader(f)}


def gap_pct(distance: float, bks: float) -> float:
    return 100.0 * (distance - bks) / bks
