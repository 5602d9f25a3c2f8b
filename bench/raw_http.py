"""A lean HTTP/1.1 keep-alive client for the load benches.

httpx costs the generator about a millisecond of CPU per request (its pool, its models, h11).
On this 2-core machine the generator shares the CPU with the server and PostgreSQL, so at a few
hundred requests per second httpx itself fell behind: requests left late, and because latency
is counted from each request's *scheduled* time, the generator's own backlog showed up as
seconds of "server" latency. This client writes pre-formatted requests on plain asyncio streams
and parses only the status line, Content-Length and chunked bodies: a few tens of microseconds
per request.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class ConnectionLost(Exception):
    """The server closed or reset the connection before a whole reply arrived."""


@dataclass(frozen=True)
class Reply:
    status_code: int
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        """Send one request and read its reply: (status, body, whether the server keeps the connection)."""
        self.writer.write(request)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ConnectionLost(str(exc)) from exc
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        try:
            if headers.get("transfer-encoding", "").lower() == "chunked":
                body = await self._chunked()
            else:
                body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise ConnectionLost(str(exc)) from exc
        return status, body, headers.get("connection", "").lower() != "close"

    async def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)

    def close(self) -> None:
        self.writer.close()


class RawClient:
    """At most `max_connections` keep-alive connections to one server; a request that finds
    them all busy waits for one (that wait is part of its latency, as in any client pool)."""

    def __init__(self, base_url: str, max_connections: int = 256) -> None:
        url = urlsplit(base_url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.max_connections = max_connections
        self.headers: dict[str, str] = {}
        self._idle: deque[_Connection] = deque()
        self._open = 0
        self._freed = asyncio.Condition()

    def encode(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> bytes:
        payload = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in {**self.headers, **(headers or {})}.items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload

    async def _acquire(self) -> _Connection:
        async with self._freed:
            while not self._idle and self._open >= self.max_connections:
                await self._freed.wait()
            if self._idle:
                return self._idle.popleft()
            self._open += 1
        try:
            reader, writer = await asyncio.open_connection(self.host, self.port)
        except OSError:
            await self._release(None)
            raise
        return _Connection(reader, writer)

    async def _release(self, conn: _Connection | None) -> None:
        async with self._freed:
            if conn is None:
                self._open -= 1
            else:
                self._idle.append(conn)
            self._freed.notify()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,  # noqa: A002 - the same keyword as httpx, so call sites read alike
        headers: dict[str, str] | None = None,
    ) -> Reply:
        raw = self.encode(method, path, json, headers)
        conn = await self._acquire()
        try:
            status, body, keep = await conn.exchange(raw)
        except BaseException:
            conn.close()
            await self._release(None)
            raise
        if keep:
            await self._release(conn)
        else:
            conn.close()
            await self._release(None)
        return Reply(status, body)

    async def aclose(self) -> None:
        async with self._freed:
            while self._idle:
                self._idle.popleft().close()
                self._open -= 1
