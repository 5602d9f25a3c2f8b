"""Start and stop a real `celery -A app.worker worker` process, as production runs it (prefork).

One launcher for everything that needs a worker in another process: the real-worker tests
(tests/worker) and the planning benchmarks (bench/). It only builds the command line and watches
the log; the caller chooses the environment (database, broker) the worker sees.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from app.platform.config import ROOT

READY_TEXT = " ready."  # what the worker logs once it consumes from its queues


def worker_command(name: str, queues: str, concurrency: int = 1) -> list[str]:
    """The worker's command line; the node name carries our pid so parallel runs do not collide."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "app.worker",
        "worker",
        "--pool",
        "prefork",
        "--concurrency",
        str(concurrency),
        "-Q",
        queues,
        "--loglevel",
        "INFO",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-n",
        f"{name}-{os.getpid()}@%h",
    ]


def spawn_worker(
    name: str,
    queues: str,
    log: Path,
    env: Mapping[str, str],
    *,
    concurrency: int = 1,
    append: bool = False,
) -> subprocess.Popen[bytes]:
    """Start the worker with its output in `log`; it is not ready yet (see `wait_ready`)."""
    with log.open("ab" if append else "wb") as out:
        # its own process group: stopping it also stops the prefork children
        return subprocess.Popen(
            worker_command(name, queues, concurrency),
            cwd=ROOT,
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_ready(proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 90.0) -> None:
    """Return once the worker consumes; RuntimeError with the log's tail if it exits or is too slow."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if READY_TEXT in text:
            return
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited with {proc.returncode}:\n{text[-3000:]}")
        time.sleep(0.2)
    raise RuntimeError(
        f"celery worker not ready after {timeout_s:.0f} s:\n{log.read_text(errors='replace')[-3000:]}"
    )


def stop_worker(proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> None:
    """Warm shutdown (the current task finishes), then SIGKILL to the whole group if it hangs."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
