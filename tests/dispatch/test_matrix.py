"""Travel matrices: great-circle correctness and rounding, OSRM/Valhalla tables, fallback."""

from __future__ import annotations

import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from geopy.distance import great_circle

from dispatch import GreatCircle, OsrmTable

MUNICH = [(48.137, 11.575), (48.353, 11.786), (48.100, 11.500), (48.180, 11.620), (47.99, 11.2)]


def test_great_circle_matches_geopy_and_rounds_time_up() -> None:
    gc = GreatCircle(speed_kmh=36.0, detour=1.0)
    m = gc.matrix(MUNICH)
    for a in range(len(MUNICH)):
        for b in range(len(MUNICH)):
            ref = great_circle(MUNICH[a], MUNICH[b]).meters
            assert m.distance_m[a, b] == pytest.approx(ref, rel=1e-5, abs=1)
            exact = gc.metres(MUNICH)[a, b] / 10.0  # 36 km/h = 10 m/s
            assert m.duration_s[a, b] == math.ceil(exact - 1e-9)
            assert m.duration_s[a, b] >= exact
    assert not m.estimated


def test_detour_factor_and_cache() -> None:
    plain = GreatCircle(detour=1.0).matrix(MUNICH)
    bent = GreatCircle(detour=1.3)
    m = bent.matrix(MUNICH)
    assert m.distance_m[0, 1] == pytest.approx(plain.distance_m[0, 1] * 1.3, abs=1)
    assert bent.matrix(list(MUNICH)) is m  # same points: served from the cache


def test_round_mode_is_never_below_the_formats_rounding() -> None:
    gc = GreatCircle(speed_kmh=30.0, detour=1.3, rounding="round")
    pts = [(48.0 + i * 0.001, 11.0 + i * 0.0017) for i in range(40)]
    m = gc.matrix(pts)
    exact = gc.metres(pts) / (30 / 3.6)
    assert (m.duration_s >= np.round(exact) - 0).all()
    assert (m.duration_s <= np.round(exact) + 1).all()


class _Osrm(BaseHTTPRequestHandler):
    """A fake OSRM /table: distance = 1.5 x great circle, 10 m/s; records each request."""

    requests: list[str] = []
    delay = 0.0

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        type(self).requests.append(self.path)
        if self.delay:
            time.sleep(self.delay)
        url = urlsplit(self.path)  # not urlparse: it treats ";" as path parameters
        coords = url.path.split("/")[-1].split(";")
        pts = [(float(c.split(",")[1]), float(c.split(",")[0])) for c in coords]
        q = parse_qs(url.query)
        src = [int(i) for i in q["sources"][0].split(";")]
        dst = [int(i) for i in q["destinations"][0].split(";")]
        dist = [[great_circle(pts[a], pts[b]).meters * 1.5 for b in dst] for a in src]
        dur = [[d / 10.0 for d in row] for row in dist]
        body = json.dumps({"code": "Ok", "distances": dist, "durations": dur}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802 (Valhalla)
        type(self).requests.append(self.path)
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        src = [(p["lat"], p["lon"]) for p in payload["sources"]]
        dst = [(p["lat"], p["lon"]) for p in payload["targets"]]
        rows = [
            [{"distance": great_circle(a, b).km * 1.5, "time": great_circle(a, b).m * 1.5 / 10} for b in dst]
            for a in src
        ]
        body = json.dumps({"sources_to_targets": rows}).encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    _Osrm.requests = []
    _Osrm.delay = 0.0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Osrm)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _expected(points: list[tuple[float, float]]) -> np.ndarray:
    return np.array([[great_circle(a, b).meters * 1.5 for b in points] for a in points])


def test_osrm_table_is_split_into_blocks_and_reassembled(server: str) -> None:
    pts = [(48.1 + 0.01 * i, 11.5 + 0.013 * i) for i in range(7)]
    osrm = OsrmTable(server, max_locations=3)
    m = osrm.matrix(pts)
    assert osrm.requests == 9 == len(_Osrm.requests)  # 3 x 3 blocks of sources x destinations
    exp = _expected(pts)
    assert np.abs(m.distance_m - exp).max() <= 1
    assert (m.duration_s >= exp / 10 - 1e-6).all() and (m.duration_s <= exp / 10 + 1).all()
    assert not m.estimated
    osrm.matrix(pts)
    assert osrm.requests == 9  # cached


def test_osrm_timeout_falls_back_to_great_circle_and_flags_estimate(server: str) -> None:
    _Osrm.delay = 1.0
    fallback = GreatCircle(speed_kmh=30, detour=1.3)
    osrm = OsrmTable(server, timeout_s=0.2, fallback=fallback)
    m = osrm.matrix(MUNICH)
    assert m.estimated
    assert (m.distance_m == fallback.matrix(MUNICH).distance_m).all()


def test_unreachable_server_also_falls_back() -> None:
    m = OsrmTable("http://127.0.0.1:9", timeout_s=0.5).matrix(MUNICH)
    assert m.estimated and m.distance_m[0, 1] > 0


def test_valhalla_flavor(server: str) -> None:
    pts = MUNICH[:4]
    m = OsrmTable(server, flavor="valhalla", max_locations=2).matrix(pts)
    assert len(_Osrm.requests) == 4
    assert np.abs(m.distance_m - _expected(pts)).max() <= 1


def test_an_estimated_matrix_flags_the_plan(server: str) -> None:
    from dispatch import Engineer, Job, Problem, Settings, solve

    _Osrm.delay = 1.0
    p = Problem(
        [Engineer("E1", start=MUNICH[0], shift=(8 * 3600, 17 * 3600))],
        [Job("J1", MUNICH[3], 1800)],
        settings=Settings(deterministic=True),
    )
    plan = solve(p, time_limit=5, solution_limit=20, provider=OsrmTable(server, timeout_s=0.2))
    assert plan.estimated and "estimated" in plan.summary()
