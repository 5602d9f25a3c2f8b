"""Smoke tests of the benchmark's parsers and table formatting (no solver runs, no shared data)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from dispatch.bench.__main__ import build_parser
from dispatch.bench.fsr import FsrResult, verdict_line
from dispatch.bench.fsr_peers import jobs_using_pickups
from dispatch.bench.report import median, percentile, table
from dispatch.bench.solomon import SCALE, gap_pct, load_bks, parse_solomon
from dispatch.bench.vrptw import VrptwResult, peer_path, summary_rows, target_lines

SOLOMON = """TINY

VEHICLE
NUMBER     CAPACITY
  2         50

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      0          0          0          0       1000          0
    2      3          4         20         10        200         10
    1      1          1         10          0        100         10
"""


def write(tmp_path: Path, text: str, name: str = "tiny.txt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_solomon_file_is_read_in_customer_order(tmp_path: Path) -> None:
    inst = parse_solomon(write(tmp_path, SOLOMON))
    assert inst.name == "TINY"
    assert (inst.fleet, inst.capacity, inst.customers) == (2, 50, 2)
    assert inst.xy[1] == (1.0, 1.0) and inst.xy[2] == (3.0, 4.0)
    assert inst.demand == (0, 10, 20)
    assert inst.due == (1000, 100, 200)


def test_scaled_matrix_never_understates_travel(tmp_path: Path) -> None:
    inst = parse_solomon(write(tmp_path, SOLOMON))
    m = inst.scaled_matrix()
    assert m[0][2] == 5 * SCALE  # a 3-4-5 triangle is exact
    assert m[0][1] == math.ceil(math.sqrt(2) * SCALE)
    assert all(m[a][b] >= inst.distance(a, b) * SCALE for a in range(3) for b in range(3))


def test_route_distance_goes_out_and_back(tmp_path: Path) -> None:
    inst = parse_solomon(write(tmp_path, SOLOMON))
    expected = math.sqrt(2) + math.hypot(2, 3) + 5.0
    assert inst.route_distance([[1, 2], []]) == pytest.approx(expected)


def test_text_that_is_not_solomon_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a Solomon instance"):
        parse_solomon(write(tmp_path, "hello\nworld\n"))


def test_bks_file_is_keyed_by_upper_case_name(tmp_path: Path) -> None:
    path = write(tmp_path, 'instance,vehicles,distance,source\nc101,10,828.94,"x, y"\n', "b.csv")
    bks = load_bks(path)
    assert bks == {"C101": 828.94}
    assert gap_pct(837.2294, bks["C101"]) == pytest.approx(1.0)


def test_median_and_percentile() -> None:
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 2, 3]) == 2.5
    assert percentile([1, 2, 3, 4, 5], 95) == pytest.approx(4.8)
    assert percentile([7], 50) == 7
    with pytest.raises(ValueError):
        median([])


def test_table_aligns_numbers_right_and_marks_missing() -> None:
    text = table(["solver", "gap%"], [["engine", 0.5], ["vroom", None], ["pyvrp", 12.25]])
    lines = text.splitlines()
    assert lines[0].split() == ["solver", "gap%"]
    assert lines[2] == "engine   0.50"
    assert lines[3] == "vroom       -"
    assert lines[4].endswith("12.25")
    with pytest.raises(ValueError):
        table(["a", "b"], [[1]])


def test_peer_results_go_next_to_the_engine_file() -> None:
    assert peer_path(Path("out/results.json"), "vroom") == Path("out/results.vroom.json")


def test_pickup_jobs_count_only_what_the_van_could_not_cover() -> None:
    inst = {
        "engineers": [{"id": "E1", "stock": {"P1": 1}}],
        "jobs": [
            {"id": "A", "parts": {"P1": 1}},
            {"id": "B", "parts": {"P1": 1}},
            {"id": "C", "parts": {}},
        ],
    }
    sol = {
        "routes": [
            {
                "engineer": "E1",
                "stops": [
                    {"warehouse": "W1", "parts": {"P1": 1}},
                    {"job": "A"},
                    {"job": "C"},
                    {"job": "B"},
                ],
            }
        ]
    }
    assert jobs_using_pickups(inst, sol) == 1


def test_cli_rejects_non_positive_time_limit() -> None:
    parser = build_parser()
    assert parser.parse_args(["vrptw", "--time-limit", "2", "a.txt"]).time_limit == 2.0
    with pytest.raises(SystemExit):
        parser.parse_args(["vrptw", "--time-limit", "0"])


def _res(solver: str, name: str, distance: float | None) -> VrptwResult:
    routes = [[1]] if distance is not None else None
    return VrptwResult(solver, name, routes, distance, 1.0, [])


def test_vrptw_summary_counts_unsolved_and_compares_on_common_instances() -> None:
    bks = {"A": 100.0, "B": 200.0}
    results = {
        "engine": [_res("engine", "A", 101.0), _res("engine", "B", 202.0)],
        "vroom": [_res("vroom", "A", 103.0), _res("vroom", "B", None)],
    }
    rows = summary_rows(["engine", "vroom"], results, bks)
    assert rows[0][:4] == ["engine", "2/2", 1.0, 1.0]
    assert rows[1][:2] == ["vroom", "1/2"]
    assert rows[0][4] == pytest.approx(1.0) and rows[1][4] == pytest.approx(3.0)  # only A is common
    lines = target_lines(["engine", "vroom"], results, bks)
    assert "2/2 met" in lines[0]
    assert lines[-1].endswith("met") and "solved 2 vs 1" in lines[-1]


def test_fsr_verdict_follows_the_score_order() -> None:
    def res(weight: int, km: float) -> FsrResult:
        verdict = {"feasible": True, "unserved_weight": weight, "travel_km": km}
        return FsrResult("x", "day", verdict, 1.0, 0)

    assert "met" in verdict_line({"engine": res(10, 500.0), "vroom": res(20, 100.0)})
    assert "MISSED (travel)" in verdict_line({"engine": res(10, 500.0), "vroom": res(10, 100.0)})
    assert "MISSED (unserved" in verdict_line({"engine": res(30, 1.0), "vroom": res(20, 100.0)})
