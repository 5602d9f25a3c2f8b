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

from tests.procs import alive, children, cmdline

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


def _solvers(pid: int) -> list[int]:
    return [c for c in children(pid) if b"dispatch.worker" in cmdline(c)]


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
            children = _solvers(parent.pid)
            time.sleep(0.1)
        assert len(children) == 2, f"expected two solver processes, found {children}"
        time.sleep(3.0)  # let them load OR-Tools and receive the problem: now they are solving
        assert all(alive(c) for c in children)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline and any(alive(c) for c in children):
            time.sleep(0.1)
        assert not [c for c in children if alive(c)], "solver processes outlived their parent"
    finally:
        for pid in [parent.pid, *children]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
