"""A command started with a bad configuration says what is wrong, without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_missing_secret_key_is_a_readable_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env |= {"DEMO_MODE": "0", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "COLUMNS": "200"}
    run = subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", "migrate"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 2, out
    assert "the configuration is not valid" in out and "SECRET_KEY must be set" in out
    assert "Traceback" not in out and "╭" not in out
