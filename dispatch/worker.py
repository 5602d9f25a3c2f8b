"""A search worker in its own process: ``python -m dispatch.worker``.

The parent writes one pickled (Compiled, SearchConfig) frame to stdin; the worker writes frames
back on stdout: ("progress", seconds, objective) as it improves, ("routes", routes, objective)
checkpoints, then ("done", Result) or ("error", text). A plain subprocess (not multiprocessing),
so callers need no ``__main__`` guard.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

_HEADER = struct.Struct("<Q")


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


def main() -> None:
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
