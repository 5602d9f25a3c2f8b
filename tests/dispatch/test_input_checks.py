"""Malformed fsr/1 instances and bad `python -m dispatch solve` options: a clear refusal (exit 2)
naming the file, the item and the field; never a traceback, a hang or a silently wrong plan."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import dispatch.__main__ as cli
from dispatch import Break, Engineer, Job, Problem, Warehouse, fsr_io
from dispatch.matrix import GreatCircle

H = 3600
INF, NAN = math.inf, math.nan


def _instance() -> dict[str, Any]:
    return {
        "format": "fsr/1",
        "name": "small",
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
                "stock": {"P1": 1},
            },
            {
                "id": "E2",
                "start": [48.14, 11.55],
                "end": [48.14, 11.55],
                "shift": [8 * H, 17 * H],
                "skills": ["HVAC"],
                "stock": {},
            },
        ],
        "warehouses": [
            {"id": "W1", "location": [48.11, 11.51], "open": [7 * H, 18 * H], "pickup_s": 600, "stock": {}}
        ],
        "jobs": [
            {
                "id": f"J{i}",
                "location": [48.10 + 0.01 * i, 11.50],
                "windows": [[8 * H, 17 * H]],
                "service_s": 1800,
                "skills": ["HVAC"],
                "parts": {},
                "priority": 1 + i % 4,
            }
            for i in range(4)
        ],
    }


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set inst[a][b]... = value for a dotted path (list indices as numbers)."""

    def apply(inst: dict[str, Any]) -> None:
        *head, last = path.split(".")
        node: Any = inst
        for k in head:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[int(last) if isinstance(node, list) else last] = value

    return apply


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda inst: inst.pop(key)


# (change to a valid instance, what the message must say)
BAD: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    # 3. tracebacks before
    "service_inf": (_set("jobs.2.service_s", INF), "jobs[2] (id J2): service_s must be a finite number"),
    "service_huge": (_set("jobs.2.service_s", 1e30), "jobs[2] (id J2): service_s must be"),
    "shift_inf": (_set("engineers.1.shift", [8 * H, INF]), "engineers[1] (id E2): shift must be"),
    "shift_nan": (_set("engineers.0.shift", [8 * H, NAN]), "engineers[0] (id E1): shift must be"),
    "open_inf": (_set("warehouses.0.open", [0, INF]), "warehouses[0] (id W1): open must be"),
    "window_huge": (_set("jobs.1.windows", [[0, 10**20]]), "jobs[1] (id J1): windows[0] must be"),
    "window_negative": (_set("jobs.1.windows", [[-5000, -100]]), "jobs[1] (id J1): windows[0] must be"),
    "speed_nan": (_set("speed_kmh", NAN), "speed_kmh must be a finite number"),
    "speed_inf": (_set("speed_kmh", INF), "speed_kmh must be a finite number"),
    "detour_nan": (_set("detour", NAN), "detour must be a finite number"),
    "no_jobs_key": (_drop("jobs"), "jobs is missing"),
    "no_weights": (_drop("priority_weight"), "priority_weight is missing"),
    "weight_nan": (_set("priority_weight.1", NAN), 'priority_weight["1"] must be a whole number'),
    "weight_key": (_set("priority_weight.one", 5), 'keys must be priorities "1" to "4"'),
    "engineer_null": (_set("engineers.0", None), "engineers[0] must be an object, got null"),
    "jobs_object": (_set("jobs", {"a": 1}), "jobs must be an array of objects, got an object"),
    "job_id_missing": (lambda i: i["jobs"][3].pop("id"), "jobs[3]: id is missing"),
    "stock_list": (_set("engineers.0.stock", ["P1"]), "engineers[0] (id E1): stock must be an object"),
    "stock_str": (_set("engineers.0.stock", {"P1": "2"}), 'stock["P1"] must be a whole number'),
    # 5. silently wrong before
    "skills_str_engineer": (
        _set("engineers.0.skills", "ELECHVAC"),
        "engineers[0] (id E1): skills must be a list of strings",
    ),
    "skills_str_job": (_set("jobs.0.skills", "HVAC"), "jobs[0] (id J0): skills must be a list of strings"),
    "priority_float": (_set("jobs.3.priority", 2.9), "jobs[3] (id J3): priority must be an integer"),
    "priority_str": (_set("jobs.3.priority", "high"), "jobs[3] (id J3): priority must be an integer"),
    "location_str": (
        _set("jobs.0.location", "Munich"),
        "jobs[0] (id J0): location must be [lat, lon] numbers",
    ),
    "start_str": (_set("engineers.1.start", "12"), "engineers[1] (id E2): start must be [lat, lon]"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_load_refuses_malformed_input_naming_item_and_field(case: str) -> None:
    change, message = BAD[case]
    inst = _instance()
    change(inst)
    with pytest.raises(ValueError) as err:
        fsr_io.load(inst)
    assert message in str(err.value)


def test_load_refuses_a_top_level_array(tmp_path: Path) -> None:
    f = tmp_path / "array.json"
    f.write_text("[1, 2, 3]")
    with pytest.raises(ValueError, match="JSON object, got an array"):
        fsr_io.load(f)


def test_load_keeps_valid_input_as_it_was() -> None:
    inst = _instance()
    inst["jobs"][0]["priority"] = 2.0  # an integral number is still an integer
    inst["jobs"][1]["service_s"] = 1800.0
    problem, provider = fsr_io.load(copy.deepcopy(inst))
    assert [j.priority for j in problem.jobs] == [2, 2, 3, 4]
    assert problem.jobs[1].duration_s == 1800 and problem.engineers[0].skills == {"HVAC", "ELEC"}
    assert (provider.speed_kmh, provider.detour) == (30.0, 1.3)


@pytest.mark.parametrize(
    ("case", "message"),
    [("service_inf", "jobs[2] (id J2): service_s"), ("skills_str_engineer", "skills must be a list")],
)
def test_cli_exits_2_naming_the_file(tmp_path: Path, case: str, message: str) -> None:
    inst = _instance()
    BAD[case][0](inst)
    f = tmp_path / f"{case}.json"
    f.write_text(json.dumps(inst))
    res = subprocess.run(
        [sys.executable, "-m", "dispatch", "solve", str(f), "--time-limit", "2", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2, res.stderr
    assert f"cannot read {f}: " in res.stderr and message in res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""


# ------------------------------------------------------------------------------------ options
@pytest.fixture
def no_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("solve() ran although the command line was invalid")

    monkeypatch.setattr(cli, "solve", refuse)


@pytest.fixture
def inst_file(tmp_path: Path) -> Path:
    f = tmp_path / "ok.json"
    f.write_text(json.dumps(_instance()))
    return f


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--time-limit", "inf", "--time-limit must be a number of seconds > 0 and ≤ 3600"),
        ("--time-limit", "0", "--time-limit must be a number of seconds > 0"),
        ("--time-limit", "-5", "--time-limit must be a number of seconds > 0"),
        ("--time-limit", "nan", "--time-limit must be a number of seconds > 0"),
        ("--time-limit", "7200", "--time-limit must be a number of seconds > 0 and ≤ 3600"),
        ("--workers", "0", "--workers must be an integer 1..64"),
        ("--workers", "-3", "--workers must be an integer 1..64"),
        ("--seed", "-1", "--seed must be an integer 0.."),
        ("--solution-limit", "0", "--solution-limit must be an integer ≥ 1"),
        ("--solution-limit", "-1", "--solution-limit must be an integer ≥ 1"),
    ],
)
def test_bad_options_are_refused_up_front(
    no_solve: None, inst_file: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["solve", str(inst_file), option, value, "--quiet"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("out", ["/nonexistent/dir/x.json", "."])
def test_out_is_checked_before_solving(
    no_solve: None, inst_file: Path, capsys: pytest.CaptureFixture[str], out: str
) -> None:
    assert cli.main(["solve", str(inst_file), "--out", out, "--quiet"]) == 2
    assert f"cannot write --out {out}" in capsys.readouterr().err


# ------------------------------------------------------------------- the library's own checks
@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Engineer("E1", (48.1, 11.5), shift=(8 * H, INF)), "engineer E1 shift"),
        (lambda: Warehouse("W1", (48.1, 11.5), open=(0, INF)), "warehouse W1 opening hours"),
        (lambda: Job("J1", (48.1, 11.5), 600, windows=((0, INF),)), "job J1 window"),
        (lambda: Engineer("E1", (48.1, 11.5), skills="ELEC"), "skills must be a list of strings"),  # type: ignore[arg-type]
        (lambda: Job("J1", (48.1, 11.5), 600, skills="ELEC"), "skills must be a list of strings"),  # type: ignore[arg-type]
    ],
)
def test_model_refuses_malformed_fields(build: Callable[[], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()


def _problem(**changes: Any) -> Problem:
    eng = Engineer("E1", (48.1, 11.5), shift=(8 * H, 17 * H), breaks=changes.pop("breaks", ()))
    job = Job("J1", changes.pop("location", (48.11, 11.5)), changes.pop("duration_s", 600), **changes)
    return Problem((eng,), (job,))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"windows": ((0, 10**20),)}, "job J1: window"),
        ({"duration_s": 10**30}, "job J1: duration"),
        ({"sla_deadline": 10**20}, "job J1: SLA deadline"),
        ({"location": "12"}, "location must be"),  # would have read as (1.0, 2.0)
        ({"priority": True}, "priority must be"),
        ({"breaks": (Break((NAN, 12 * H), 1800),)}, "engineer E1 break"),
    ],
)
def test_validate_refuses_values_the_solver_cannot_hold(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _problem(**changes)


@pytest.mark.parametrize(("speed", "detour"), [(NAN, 1.0), (30.0, NAN), (30.0, INF)])
def test_great_circle_refuses_nan_speed_and_detour(speed: float, detour: float) -> None:
    with pytest.raises(ValueError, match="positive speed"):
        GreatCircle(speed_kmh=speed, detour=detour)
