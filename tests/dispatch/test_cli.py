"""`python -m dispatch solve` on an fsr/1 day, and the library's import hygiene."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dispatch import fsr_io, solve

H = 3600


def _instance() -> dict:
    jobs = []
    for i in range(12):
        jobs.append(
            {
                "id": f"J{i:02d}",
                "location": [48.10 + 0.01 * (i % 4), 11.50 + 0.012 * (i // 4)],
                "windows": [[8 * H, 12 * H], [13 * H, 16 * H]] if i % 3 == 0 else [[8 * H, 17 * H]],
                "service_s": 2700,
                "skills": ["HVAC"] if i % 2 else ["ELEC"],
                "parts": {"P1": 1} if i in (2, 5) else {},
                "priority": 1 + i % 4,
            }
        )
    return {
        "format": "fsr/1",
        "name": "tiny",
        "metric": "haversine",
        "speed_kmh": 30.0,
        "detour": 1.3,
        "priority_weight": {"1": 1000, "2": 100, "3": 10, "4": 1},
        "engineers": [
            {
                "id": "E1",
                "start": [48.12, 11.52],
                "end": [48.12, 11.52],
                "shift": [8 * H, 17 * H],
                "skills": ["HVAC", "ELEC"],
                "stock": {},
            },
            {
                "id": "E2",
                "start": [48.14, 11.55],
                "end": [48.14, 11.55],
                "shift": [8 * H, 17 * H],
                "skills": ["HVAC"],
                "stock": {"P1": 1},
            },
        ],
        "warehouses": [
            {
                "id": "W1",
                "location": [48.11, 11.51],
                "open": [7 * H, 18 * H],
                "pickup_s": 600,
                "stock": {"P1": 1},
            }
        ],
        "jobs": jobs,
    }


def test_cli_writes_a_solution_that_covers_every_job(tmp_path: Path) -> None:
    inst = tmp_path / "tiny.json"
    inst.write_text(json.dumps(_instance()))
    out = tmp_path / "sol.json"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "dispatch",
            "solve",
            str(inst),
            "--time-limit",
            "5",
            "--out",
            str(out),
            "--deterministic",
            "--solution-limit",
            "40",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    sol = json.loads(out.read_text())
    assert sol["format"] == "fsr-solution/1" and sol["instance"] == "tiny"
    served = [s["job"] for r in sol["routes"] for s in r["stops"] if "job" in s]
    assert sorted(served + sol["unassigned"]) == sorted(j["id"] for j in _instance()["jobs"])
    assert len(set(served)) == len(served)
    for r in sol["routes"]:
        for s in r["stops"]:
            if "warehouse" in s:
                assert all(isinstance(q, int) and q > 0 for q in s["parts"].values())
    assert "served" in res.stderr


def test_fsr_round_trip_is_feasible_in_process() -> None:
    problem, provider = fsr_io.load(_instance())
    plan = solve(problem, time_limit=5, seed=1, solution_limit=40, provider=provider)
    assert plan.is_feasible(), plan.violations()
    sol = fsr_io.solution(plan, "tiny")
    assert {u for u in sol["unassigned"]} == {u.job_id for u in plan.unassigned}


def test_cli_refuses_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something-else"}))
    res = subprocess.run(
        [sys.executable, "-m", "dispatch", "solve", str(bad)], capture_output=True, text=True
    )
    assert res.returncode == 2 and "not an fsr/1 instance" in res.stderr


@pytest.mark.parametrize("module", ["dispatch"])
def test_import_dispatch_loads_no_app_stack(module: str) -> None:
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    top = {m.split(".")[0] for m in out.stdout.split()}
    assert not top & {"sqlalchemy", "fastapi", "celery", "app", "starlette", "pydantic"}
    # Benchmark peers and plotting are loaded only by benchmark code; OR-Tools only to solve.
    assert not top & {"vroom", "pyvrp", "matplotlib", "ortools"}
