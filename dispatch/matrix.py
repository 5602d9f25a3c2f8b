"""Travel matrices: a provider interface, great-circle default, OSRM/Valhalla tables, a cache.

Every provider returns integer metres and integer seconds. Seconds are rounded **up** (or, for a
format that defines its own rounding, never below it), so a plan feasible on our matrix is
feasible on the road the matrix describes.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Sequence
from typing import Literal, Protocol

import numpy as np

from .model import TravelMatrix

log = logging.getLogger(__name__)

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG), as fsr/1 uses
Point = tuple[float, float]
Rounding = Literal["ceil", "round"]


class MatrixProvider(Protocol):
    def matrix(self, points: Sequence[Point]) -> TravelMatrix:
        """Metres and seconds from every point to every point, in the order given."""
        ...


def haversine_m(points: Sequence[Point] | np.ndarray) -> np.ndarray:
    """All-pairs great-circle metres, vectorised (a 1 100 x 1 100 table in tens of ms)."""
    p = np.radians(np.asarray(points, dtype=np.float64).reshape(-1, 2))
    lat, lon = p[:, 0], p[:, 1]
    dlat = lat[None, :] - lat[:, None]
    dlon = lon[None, :] - lon[:, None]
    cos_lat = np.cos(lat)
    h = np.sin(dlat / 2) ** 2 + np.outer(cos_lat, cos_lat) * np.sin(dlon / 2) ** 2
    metres: np.ndarray = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
    return metres


def seconds_from_metres(metres: np.ndarray, speed_kmh: float, rounding: Rounding) -> np.ndarray:
    t = metres / (speed_kmh / 3.6)
    if rounding == "round":
        # Formats that define seconds as round(x): never below that value, even where our float
        # arithmetic differs from theirs by an ulp at an exact .5.
        return np.floor(t + 0.5 + 1e-6).astype(np.int64)
    return np.ceil(t - 1e-9).astype(np.int64)


class _Lru:
    """A small thread-safe LRU of matrices keyed by the exact point list."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[tuple[Point, ...], TravelMatrix] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Point, ...]) -> TravelMatrix | None:
        with self._lock:
            m = self._data.get(key)
            if m is not None:
                self._data.move_to_end(key)
            return m

    def put(self, key: tuple[Point, ...], value: TravelMatrix) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)


def _key(points: Sequence[Point]) -> tuple[Point, ...]:
    return tuple((float(a), float(b)) for a, b in points)


class GreatCircle:
    """Haversine metres x detour factor at a constant speed; the default provider."""

    def __init__(
        self,
        speed_kmh: float = 30.0,
        detour: float = 1.3,
        rounding: Rounding = "ceil",
        cache_size: int = 8,
    ) -> None:
        # Written so that NaN fails too (NaN <= 0 is False); an infinite detour overflows the matrix.
        if not (speed_kmh > 0 and 0 < detour < math.inf):
            raise ValueError(
                f"great-circle travel needs a positive speed and a finite positive detour factor, "
                f"got speed_kmh={speed_kmh!r}, detour={detour!r}"
            )
        self.speed_kmh, self.detour, self.rounding = speed_kmh, detour, rounding
        self._cache = _Lru(cache_size)

    def metres(self, points: Sequence[Point] | np.ndarray) -> np.ndarray:
        return haversine_m(points) * self.detour

    def matrix(self, points: Sequence[Point]) -> TravelMatrix:
        key = _key(points)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        metres = self.metres(points)
        m = TravelMatrix(
            distance_m=np.rint(metres).astype(np.int64),
            duration_s=seconds_from_metres(metres, self.speed_kmh, self.rounding),
        )
        self._cache.put(key, m)
        return m


class OsrmTable:
    """Road matrices from an OSRM ``/table`` or Valhalla ``/sources_to_targets`` service.

    Large tables are split into blocks of at most ``max_locations`` sources and as many
    destinations per request. On a timeout, HTTP error or unroutable pair the great-circle
    ``fallback`` fills in and the matrix is flagged ``estimated``.
    """

    def __init__(
        self,
        base_url: str,
        profile: str = "driving",
        flavor: Literal["osrm", "valhalla"] = "osrm",
        max_locations: int = 100,
        timeout_s: float = 10.0,
        fallback: GreatCircle | None = None,
        cache_size: int = 8,
    ) -> None:
        if max_locations < 1:
            raise ValueError("max_locations must be >= 1")
        self.base_url = base_url.rstrip("/")
        self.profile, self.flavor = profile, flavor
        self.max_locations, self.timeout_s = max_locations, timeout_s
        self.fallback = fallback or GreatCircle()
        self.requests = 0  # HTTP requests made, for tests and monitoring
        self._cache = _Lru(cache_size)

    def matrix(self, points: Sequence[Point]) -> TravelMatrix:
        key = _key(points)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        n = len(key)
        dist = np.full((n, n), np.nan)
        dur = np.full((n, n), np.nan)
        block = self.max_locations
        try:
            for s0 in range(0, n, block):
                for d0 in range(0, n, block):
                    src = list(range(s0, min(n, s0 + block)))
                    dst = list(range(d0, min(n, d0 + block)))
                    d, t = self._fetch(key, src, dst)
                    dist[np.ix_(src, dst)] = d
                    dur[np.ix_(src, dst)] = t
        except (OSError, urllib.error.URLError, TimeoutError, ValueError, KeyError) as exc:
            log.warning("routing table failed (%s); using great-circle estimates", exc)
            m = self.fallback.matrix(key)
            est = TravelMatrix(m.distance_m, m.duration_s, estimated=True)
            return est  # not cached: try the server again next time
        missing = np.isnan(dist) | np.isnan(dur)
        np.fill_diagonal(missing, False)
        np.fill_diagonal(dist, 0.0)
        np.fill_diagonal(dur, 0.0)
        if missing.any():
            fb = self.fallback.matrix(key)
            dist[missing] = fb.distance_m[missing]
            dur[missing] = fb.duration_s[missing]
        m = TravelMatrix(
            distance_m=np.rint(dist).astype(np.int64),
            duration_s=np.ceil(dur - 1e-9).astype(np.int64),
            estimated=bool(missing.any()),
        )
        self._cache.put(key, m)
        return m

    def _fetch(self, pts: tuple[Point, ...], src: list[int], dst: list[int]) -> tuple[np.ndarray, np.ndarray]:
        self.requests += 1
        if self.flavor == "valhalla":
            return self._fetch_valhalla(pts, src, dst)
        # One coordinate list holding sources then destinations; indices refer into it.
        idx = src + [i for i in dst if i not in set(src)]
        pos = {p: k for k, p in enumerate(idx)}
        coords = ";".join(f"{pts[i][1]:.6f},{pts[i][0]:.6f}" for i in idx)
        url = (
            f"{self.base_url}/table/v1/{self.profile}/{coords}"
            f"?sources={';'.join(str(pos[i]) for i in src)}"
            f"&destinations={';'.join(str(pos[i]) for i in dst)}"
            "&annotations=duration,distance"
        )
        with urllib.request.urlopen(url, timeout=self.timeout_s) as resp:
            body = json.load(resp)
        if body.get("code") != "Ok":
            raise ValueError(f"OSRM answered {body.get('code')}: {body.get('message', '')}")
        return _table(body["distances"]), _table(body["durations"])

    def _fetch_valhalla(
        self, pts: tuple[Point, ...], src: list[int], dst: list[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        payload = {
            "sources": [{"lat": pts[i][0], "lon": pts[i][1]} for i in src],
            "targets": [{"lat": pts[i][0], "lon": pts[i][1]} for i in dst],
            "costing": self.profile if self.profile != "driving" else "auto",
        }
        req = urllib.request.Request(
            f"{self.base_url}/sources_to_targets",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
            body = json.load(resp)
        rows = body["sources_to_targets"]
        km = [[c.get("distance") for c in row] for row in rows]
        secs = [[c.get("time") for c in row] for row in rows]
        dist = _table(km)
        return dist * 1000.0, _table(secs)


def _table(rows: list[list[float | None]]) -> np.ndarray:
    return np.array([[math.nan if v is None else float(v) for v in row] for row in rows])
