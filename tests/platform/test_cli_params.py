"""`fieldline` parameters QA found unguarded: a number out of range or a date that is not one is a
usage error (exit 2, typer's "Invalid value"), never a traceback or a silently different value; a
folder given as a file says so; output that cannot be written is one line on stderr and exit 1."""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.models import PlanRun
from tests import factories as f

runner = CliRunner()


def _said(output: str) -> str:
    return " ".join(output.replace("│", " ").split())  # rich's error box wraps long lines


def _usage_error(args: list[str]) -> str:
    from app.cli import cli

    result = runner.invoke(cli, args)
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (
        result.exception,
        result.output,
    )
    assert "Invalid value" in result.output, result.output
    return _said(result.output)


@pytest.mark.parametrize("port", ["99999", "65536", "0", "-1"])
def test_serve_refuses_a_port_outside_1_to_65535(port: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """QA: `serve --port 99999` printed port 99999 and listened on 34463."""
    from app.platform import serve as server

    started: list[Any] = []
    monkeypatch.setattr(server, "run", lambda **kw: started.append(kw))
    _usage_error(["serve", "--port", port])
    assert started == []


@pytest.mark.usefixtures("engine")  # a migrated database: serve refuses to start on an older one
def test_serve_takes_a_port_in_range(monkeypatch: pytest.MonkeyPatch) -> None:
    from app.cli import cli
    from app.platform import serve as server

    started: list[Any] = []
    monkeypatch.setattr(server, "run", lambda **kw: started.append(kw))
    result = runner.invoke(cli, ["serve", "--port", "65535"])
    assert result.exit_code == 0, result.output
    assert started[0]["port"] == 65535


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--workers", "100000"],
        ["worker", "--concurrency", "0"],
        ["worker", "--concurrency", "-4"],
        ["seed", "--customers", "1000000000"],
        ["seed", "--kb-articles", "1000000000"],
    ],
)
def test_process_and_size_counts_are_bounded(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import app.seed.cli

    ran: list[Any] = []
    monkeypatch.setattr(app.seed.cli, "run_seed", lambda *a, **kw: ran.append(kw))
    _usage_error(args)
    assert ran == []


@pytest.mark.parametrize(
    ("day", "said"),
    [
        ("2026-13-45", "'2026-13-45' is not a date: use YYYY-MM-DD"),
        ("tomorrow", "'tomorrow' is not a date"),
        ("1800-01-01", "'1800-01-01' must be a date between 1900-01-01 and 2199-12-31"),
    ],
)
def test_plan_refuses_a_date_that_is_not_one(db: Session, day: str, said: str) -> None:
    """QA: `plan --date 2026-13-45` ended in a traceback (date.fromisoformat unguarded)."""
    region = f.make_region(db, code="CLI-DATE")
    db.commit()
    out = _usage_error(["plan", "--region", region.code, "--date", day])
    assert "--date" in out and said in out, out
    assert db.scalars(select(PlanRun).where(PlanRun.region_id == region.id)).all() == []


@pytest.mark.parametrize("limit", ["-1", "0", "nan", "inf", "601", "1e9"])
def test_plan_refuses_a_time_limit_not_above_0_or_above_600(db: Session, limit: str) -> None:
    """QA: `plan --time-limit -1` was accepted."""
    region = f.make_region(db, code="CLI-LIMIT")
    db.commit()
    out = _usage_error(["plan", "--region", region.code, "--date", "2026-03-02", "--time-limit", limit])
    assert "--time-limit" in out and "above 0 and at most 600" in out, out
    assert db.scalars(select(PlanRun).where(PlanRun.region_id == region.id)).all() == []


def test_a_folder_given_as_the_file_to_import_says_it_is_a_folder(db: Session, tmp_path: Path) -> None:
    """QA: `import customers DIR` and `kb import DIR` said "no such file"."""
    from app.cli import cli

    for args in (
        ["import", "customers", str(tmp_path)],
        ["kb", "import", str(tmp_path), "--as", "x@cli.example"],
    ):
        result = runner.invoke(cli, args)
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
        assert f"{tmp_path} is a directory, not a file" in _said(result.output)
        assert "no such file" not in result.output
    result = runner.invoke(cli, ["import", "customers", str(tmp_path / "missing.csv")])
    assert result.exit_code == 1 and "no such file" in result.output


class _FullStream:
    """A stdout on a full disk: the text is buffered, the flush fails (once: then it is dropped)."""

    failed = False

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        if not self.failed:
            self.failed = True
            raise OSError(errno.ENOSPC, "No space left on device")

    def fileno(self) -> int:
        raise ValueError("not a file")


def test_kb_export_to_a_full_stdout_is_one_line_and_exit_1(
    db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """QA: `fieldline kb export - > /dev/full` ended in a traceback."""
    import app.knowledge.jsonl
    from app.cli import cli

    def lines(session: Session) -> list[str]:
        monkeypatch.setattr(sys, "stdout", _FullStream())  # the runner's stdout, now full
        return ['{"id": "a"}']

    monkeypatch.setattr(app.knowledge.jsonl, "export_lines", lines)
    result = runner.invoke(cli, ["kb", "export", "-"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert "error: cannot write to stdout: No space left on device" in _said(result.stderr)
