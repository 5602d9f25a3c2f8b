"""A search worker in its own process: ``python -m dispatch.worker``.

The parent writes one pickled (Compiled, SearchConfig) frame to stdin; the worker writes frames
back on stdout: ("progress", seconds, objective) as it improves, ("routes", routes, objective)
checkpoints, then ("done", Result) or ("error", text). A plain subprocess (not multiprocessing),
so callers need no ``__main__`` guard.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

_HEADER = struct.Struct("<Q")
PARENT_ENV = "DISPATCH_PARENT_PID"
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_EVERY_S = 0.5


def write_frame(stream: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        raise EOFError
    size = _HEADER.unpack(head)[0]
    return pickle.loads(stream.read(size))


class Worker:
    """One child process, started ahead of need (its interpreter and OR-Tools load while the
    parent compiles the problem); frames it sends go to ``on_frame`` from a reader thread."""

    def __init__(self, on_frame: Callable[[int, Any], None], idx: int) -> None:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        env[PARENT_ENV] = str(os.getpid())  # the child exits when this process is gone
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dispatch.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        self.idx, self.on_frame = idx, on_frame
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def send(self, payload: Any) -> None:
        assert self.proc.stdin is not None
        try:
            write_frame(self.proc.stdin, payload)
            self.proc.stdin.close()
        except (BrokenPipeError, ValueError):
            pass

    def cancel(self) -> None:
        """Not needed after all: closing stdin unblocks the child, which exits."""
        try:
            if self.proc.stdin is not None and not self.proc.stdin.closed:
                self.proc.stdin.close()
        except OSError:
            pass
        self.stop(timeout=2.0)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        try:
            while True:
                self.on_frame(self.idx, read_frame(self.proc.stdout))
        except (EOFError, pickle.UnpicklingError, OSError):
            self.on_frame(self.idx, ("exit",))

    def stop(self, timeout: float) -> None:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.thread.join(timeout=1.0)


def die_with_parent() -> None:
    """Exit when the process that started this one dies, even by SIGKILL (which runs no clean-up
    in the parent): a solve nobody will read must not hold a core until its time limit.

    On Linux the kernel sends SIGKILL on the parent's death (prctl PR_SET_PDEATHSIG). A watchdog
    thread covers the rest: other platforms, and a parent that died before prctl took effect
    (the child is then re-parented, so its parent id changes)."""
    expected = int(os.environ.get(PARENT_ENV, "0") or 0)
    if not expected:
        return  # started by hand (`python -m dispatch.worker`): no parent to follow
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watchdog below still applies
    if os.getppid() != expected:
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(WATCH_EVERY_S)
            if os.getppid() != expected:
                os._exit(1)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def main() -> None:
    die_with_parent()
    from .solver import solve_model  # loads OR-Tools before the payload arrives

    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the frame stream
    try:
        compiled, cfg = read_frame(sys.stdin.buffer)
    except EOFError:
        return  # cancelled: the parent did not need this worker
    try:
        res = solve_model(
            compiled,
            cfg,
            lambda t, obj: write_frame(out, ("progress", t, obj)),
            lambda routes, obj: write_frame(out, ("routes", routes, obj)),
        )
        write_frame(out, ("done", res))
    except Exception as exc:  # the parent keeps the other worker's plan
        write_frame(out, ("error", repr(exc)))


if __name__ == "__main__":
    main()
