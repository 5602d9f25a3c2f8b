"""The solver's worker processes die with the process that started them, even when it is SIGKILLed.

A Celery pool child killed mid-solve (OOM, `kill -9`) runs no clean-up; before, its two
`python -m dispatch.worker` processes went on solving until their time limit."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 60.0

PARENT = textwrap.dedent(
    """
    import random
    import dispatch
    from tests.dispatch import world as w

    rng = random.Random(3)
    xs = [0] + [rng.randint(1, 50_000) for _ in range(120)]
    engineers = [w.engineer(f"E{i}", at=0, shift=(0, 10 * w.H)) for i in range(8)]
    jobs = [w.job(f"J{i}", at=i, dur=900) for i in range(1, len(xs))]
    p = w.problem(engineers, jobs, w.line_matrix(xs, speed=10.0), workers=2)
    print("solving", flush=True)
    dispatch.solve(p, time_limit=120.0, seed=1)
    """
)


def _alive_children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z" and b"dispatch.worker" in cmdline:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_solver_workers_exit_when_their_parent_is_killed() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], cwd=ROOT, env=env, stdout=subprocess.PIPE, start_new_session=True
    )
    children: list[int] = []
    try:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and len(children) < 2:
            assert parent.poll() is None, "the parent exited before starting its workers"
            children = _alive_children(parent.pid)
            time.sleep(0.1)
        assert len(children) == 2, f"expected two solver processes, found {children}"
        time.sleep(3.0)  # let them load OR-Tools and receive the problem: now they are solving
        assert all(_alive(c) for c in children)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and any(_alive(c) for c in children):
            time.sleep(0.1)
        assert not [c for c in children if _alive(c)], "solver processes outlived their parent"
    finally:
        for pid in [parent.pid, *children]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
