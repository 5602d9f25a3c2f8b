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
        ('{"csat": 9}', "line 5: csat must be a whole number from 1 to 5"),
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


# QA round 9: the command's input contract and its failures.


def test_a_line_without_any_score_is_refused_naming_the_misspelled_keys(tmp_path: Path) -> None:
    """QA: {"cast": 4, "nsp": 9} counted as an answer with no CSAT or NPS, exit 0."""
    out = run("kpis", str(_write(tmp_path, [{"cast": 4, "nsp": 9}, {"csat": 5}])))
    assert out.returncode == 2 and out.stdout == ""
    assert "line 1: no score" in out.stderr
    assert "'cast' is not 'csat'" in out.stderr and "'nsp' is not 'nps'" in out.stderr
    assert run("kpis", str(_write(tmp_path, [{}]))).returncode == 2


def test_a_key_nothing_reads_is_a_warning_naming_its_first_line(tmp_path: Path) -> None:
    rows = [{"csat": 4}, {"csat": 5, "Csat": "4"}, {"csat": 3, "Csat": "2", "region": "north"}]
    out = run("kpis", str(_write(tmp_path, rows)), "--group-by", "region")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["answers"] == 2  # the line without region is "(none)"
    (warning,) = out.stderr.splitlines()  # once per key, not once per line; region is grouped by
    assert "line 2: key 'Csat' ignored" in warning and "did you mean 'csat'?" in warning
    assert "1 more line" in warning
    out = run("drivers", str(_write(tmp_path, [{"csat": 4, "region": "north"}])))
    assert out.returncode == 0 and "line 1: key 'region' ignored" in out.stderr


def test_messages_name_the_json_key_not_the_label_the_customer_reads(tmp_path: Path) -> None:
    """QA: csat 0 said "Rating must be a whole number from 1 to 5"."""
    for row, said in [
        ({"csat": 0}, "line 1: csat must be a whole number from 1 to 5"),
        ({"nps": 11}, "line 1: nps must be a whole number from 0 to 10"),
        ({"csat": 2, "reasons": ["nonsense"]}, "line 1: reasons: “nonsense” is not one of the choices"),
        ({"csat": 2, "solved": "perhaps"}, "line 1: solved: please answer yes or no"),
    ]:
        out = run("kpis", str(_write(tmp_path, [row])))
        assert (out.returncode, said in out.stderr) == (2, True), out.stderr


@pytest.mark.parametrize("value", [True, 1, 1.5, ["north"], {"a": "b"}])
def test_a_grouping_value_must_be_text_or_null(tmp_path: Path, value: object) -> None:
    """QA: region 1 and "1" merged, true became "True", 1.5 became "(none)"."""
    rows = [{"csat": 4, "region": "1"}, {"csat": 4, "region": value}]
    out = run("kpis", str(_write(tmp_path, rows)), "--group-by", "region")
    assert out.returncode == 2 and out.stdout == ""
    assert "line 2: region must be text or null" in out.stderr
    out = run("kpis", str(_write(tmp_path, [{"csat": 4, "region": None}])), "--group-by", "region")
    assert out.returncode == 0 and json.loads(out.stdout)[0]["group"] == {"region": "(none)"}


def test_a_byte_order_mark_is_no_data(tmp_path: Path) -> None:
    """QA: a file saved with a BOM was "not JSON (Unexpected UTF-8 BOM ...)"."""
    f = tmp_path / "bom.jsonl"
    f.write_bytes("\ufeff".encode() + b'{"csat": 4}\n{"csat": 2}\n')
    out = run("kpis", str(f))
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)[0]["answers"] == 2
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    piped = subprocess.run(
        [sys.executable, "-m", "surveys", "kpis", "-"],
        input=f.read_bytes(),
        capture_output=True,
        cwd=ROOT,
        env=env,
    )
    assert piped.returncode == 0, piped.stderr


def test_text_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    f = tmp_path / "latin1.jsonl"
    f.write_bytes(b'{"csat": 4}\n{"csat": 4, "comment": "caf\xe9"}\n')
    out = run("kpis", str(f))
    assert (out.returncode, "line 2: not UTF-8 text" in out.stderr) == (2, True), out.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """QA: `python -m surveys kpis … > /dev/full` ended in a traceback."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open("/dev/full", "w") as full:
        out = subprocess.run(
            [sys.executable, "-m", "surveys", "kpis", str(_write(tmp_path, ROWS)), "--group-by", "region"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
    assert out.returncode == 1
    assert out.stderr.strip() == "cannot write the output: No space left on device"


def test_help_keeps_the_usage_examples_on_their_lines() -> None:
    out = run("--help")
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert any(line.startswith("python -m surveys kpis ANSWERS.jsonl") for line in lines)
    assert any(line.startswith("python -m surveys drivers ANSWERS.jsonl") for line in lines)
