"""A local webhook receiver for tests: http.server on 127.0.0.1 in a thread, random port.

It records every request (path, headers, raw body, when it arrived) and answers with the scripted
status codes in order, then with `default_status`. A path can be made slow (`hang`): its requests
are held that long before the answer (or until the receiver stops), and the most of them held at
once is noted, so tests can see a sender give up at its deadline and never pile up on one receiver.
A path can also trickle (`trickle`): `200 OK`, then a header one byte every 0.1 s for that long, so
each read succeeds well within any per-read timeout while the answer as a whole takes that long.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float = 0.0  # time.monotonic() when it arrived


@dataclass
class Receiver:
    url: str  # the /hook path on the receiver
    base: str = ""  # scheme, host and port: base + any path
    default_status: int = 200
    script: deque[int] = field(default_factory=deque)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    delays: dict[str, float] = field(default_factory=dict)
    trickles: dict[str, float] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)  # requests held now, per slow path
    most_held: dict[str, int] = field(default_factory=dict)  # the most held at once, per slow path
    stopping: threading.Event = field(default_factory=threading.Event)

    def respond(self, *statuses: int) -> None:
        """The next requests get these status codes, in order."""
        self.script.extend(statuses)

    def hang(self, path: str, seconds: float) -> None:
        """Hold each request to `path` this long before answering."""
        self.delays[path] = seconds

    def trickle(self, path: str, seconds: float) -> None:
        """Answer requests to `path` a byte at a time, for this long."""
        self.trickles[path] = seconds

    def arrivals(self, path: str) -> list[float]:
        with self.lock:
            return [r.at for r in self.requests if r.path == path]

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.05)
        with self.lock:
            return list(self.requests)


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            with receiver.lock:
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.requests.append(Received(self.path, headers, body, time.monotonic()))
                status = receiver.script.popleft() if receiver.script else receiver.default_status
                delay = receiver.delays.get(self.path)
                trickle = receiver.trickles.get(self.path)
                if delay is not None:
                    now = receiver.held.get(self.path, 0) + 1
                    receiver.held[self.path] = now
                    receiver.most_held[self.path] = max(receiver.most_held.get(self.path, 0), now)
            if delay is not None:
                receiver.stopping.wait(delay)
                with receiver.lock:
                    receiver.held[self.path] -= 1
            if trickle is not None:
                self._trickle(trickle)
                return
            payload = b"receiver says no" if status >= 300 else b""
            try:
                self.send_response(status)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:
                pass  # the sender gave up at its deadline

        def _trickle(self, seconds: float) -> None:
            self.close_connection = True
            try:
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: ")
                until = time.monotonic() + seconds
                while time.monotonic() < until and not receiver.stopping.wait(0.1):
                    self.wfile.write(b"a")
                self.wfile.write(b"\r\n\r\n")
            except OSError:
                pass  # the sender hung up

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True  # a held request does not hold up the shutdown
    base = f"http://127.0.0.1:{server.server_address[1]}"
    receiver = Receiver(url=f"{base}/hook", base=base)
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
