"""`python -m surveys` on JSON Lines, its exit codes, and the library's import hygiene."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "surveys", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        input=stdin,
    )


ROWS = [
    # 21:30 UTC on 31 March is 23:30 in Berlin (CEST): still March there. 22:30 UTC is 1 April.
    {
        "answered_at": "2026-03-31T21:30:00Z",
        "csat": 5,
        "nps": 10,
        "region": "north",
        "facts": {"late": False},
    },
    {"answered_at": "2026-03-31T22:30:00Z", "csat": 2, "nps": 3, "region": "north", "facts": {"late": True}},
    {
        "answered_at": "2026-03-10T08:00:00+01:00",
        "csat": "4",
        "solved": "yes",
        "region": "south",
        "facts": {"late": False},
    },
    {
        "answered_at": "2026-03-11T08:00:00Z",
        "csat": 1,
        "solved": False,
        "region": "south",
        "facts": {"late": True},
    },
]


def _write(tmp_path: Path, rows: list[object], extra: str = "") -> Path:
    f = tmp_path / "answers.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n" + extra, encoding="utf-8")
    return f


def test_kpis_grouped_by_region(tmp_path: Path) -> None:
    out = run("kpis", str(_write(tmp_path, ROWS)), "--group-by", "region")
    assert out.returncode == 0, out.stderr
    groups = {g["group"]["region"]: g for g in json.loads(out.stdout)}
    # north: CSAT 5, 2 → 1 of 2 = 50 %; NPS: one promoter, one detractor → 0. south: 4, 1 → 50 %.
    assert groups["north"]["csat"]["value"] == 50.0 and groups["north"]["csat"]["n"] == 2
    assert groups["north"]["nps"]["value"] == 0.0
    assert (groups["south"]["solved"]["value"], groups["south"]["solved"]["n"]) == (50.0, 2)
    assert groups["south"]["detractors"]["value"] == 50.0  # the CSAT 1 / not solved one


def test_kpis_by_local_month(tmp_path: Path) -> None:
    f = _write(tmp_path, ROWS)
    berlin = json.loads(run("kpis", str(f), "--period", "month", "--tz", "Europe/Berlin").stdout)
    # 31 March 22:30 UTC is 1 April 00:30 in Berlin.
    assert [(g["group"]["period"], g["answers"]) for g in berlin] == [("2026-03", 3), ("2026-04", 1)]
    utc = json.loads(run("kpis", str(f), "--period", "month").stdout)
    assert [(g["group"]["period"], g["answers"]) for g in utc] == [("2026-03", 4)]


def test_drivers(tmp_path: Path) -> None:
    out = run("drivers", str(_write(tmp_path, ROWS)))
    assert out.returncode == 0, out.stderr
    (late,) = json.loads(out.stdout)
    # Late: 2, 1 → 1.5; not late: 5, 4 → 4.5; difference −3 with n 2 and 2.
    assert (late["fact"], late["difference"], late["n_with"], late["n_without"]) == ("late", -3.0, 2, 2)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('{"csat": 9}', "line 5: Rating must be a whole number from 1 to 5"),
        ("not json", "line 5: not JSON"),
        ('{"csat": 3, "answered_at": "2026-03-01T10:00:00"}', "line 5: answered_at"),
        ('{"csat": 3, "facts": {"late": "yes"}}', "line 5: facts must be"),
        ("[1, 2]", "line 5: expected a JSON object"),
    ],
)
def test_bad_input_exits_2_with_the_line_number(tmp_path: Path, extra: str, message: str) -> None:
    out = run("kpis", str(_write(tmp_path, ROWS, extra + "\n")))
    assert out.returncode == 2
    assert message in out.stderr
    assert out.stdout == ""


def test_other_failures_exit_2(tmp_path: Path) -> None:
    assert run("kpis", str(tmp_path / "missing.jsonl")).returncode == 2
    assert run("kpis", str(_write(tmp_path, ROWS)), "--period", "day", "--tz", "Mars/Olympus").returncode == 2
    no_rating = _write(tmp_path, [{"nps": 5}])
    out = run("drivers", str(no_rating))
    assert (out.returncode, "line 1: drivers need a CSAT rating" in out.stderr) == (2, True)
    assert run("kpis", "-", stdin=json.dumps(ROWS[0]) + "\n").returncode == 0


def test_import_surveys_pulls_in_nothing_from_the_app() -> None:
    code = "import sys, surveys, surveys.__main__; print('\\n'.join(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=env
    )
    top = {m.split(".")[0] for m in out.stdout.split()}
    assert "surveys" in top
    forbidden = {
        "app",
        "sqlalchemy",
        "fastapi",
        "starlette",
        "celery",
        "pydantic",
        "dispatch",
        "knowledge_base",
    }
    assert not top & forbidden
    assert "numpy" not in top  # standard library only
