"""`fieldline serve --workers N`: refused where it would break (SQLite, periodic jobs per
worker), and the listening socket that lets accepted connections use TCP_NODELAY."""

from __future__ import annotations

import asyncio
import socket

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.platform.config import Settings, get_settings
from app.platform.serve import listening_socket, refuse_workers

PG = "postgresql+psycopg://u:p@db:5432/fieldline"


def _settings(**kw: object) -> Settings:
    return Settings(secret_key="s", **kw)  # type: ignore[arg-type]


def test_more_than_one_worker_is_refused_on_sqlite_with_a_readable_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(get_settings(), "database_url", "sqlite:////tmp/fieldline-serve-test.db")
    result = CliRunner().invoke(cli, ["serve", "--workers", "2"])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "--workers 2 needs PostgreSQL" in text and "SQLite" in text and "Traceback" not in text


def test_which_worker_counts_each_setup_allows() -> None:
    assert refuse_workers(_settings(database_url="sqlite:///x.db"), 1) is None  # the embedded mode
    assert "PostgreSQL" in (refuse_workers(_settings(database_url="sqlite:///x.db"), 2) or "")
    # PostgreSQL without a broker: each worker would run the periodic jobs
    assert "once per worker" in (refuse_workers(_settings(database_url=PG, scheduler_enabled=True), 3) or "")
    assert refuse_workers(_settings(database_url=PG, scheduler_enabled=False), 3) is None
    assert refuse_workers(_settings(database_url=PG, celery_broker_url="redis://r:6379/0"), 4) is None
    assert "at least 1" in (refuse_workers(_settings(database_url=PG), 0) or "")


async def _nodelay_of_accepted(sock: socket.socket) -> int:
    accepted: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = writer.get_extra_info("socket")
        accepted.append(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(handle, sock=sock)
    host, port = sock.getsockname()[:2]
    _, writer = await asyncio.open_connection(host, port)
    while not accepted:
        await asyncio.sleep(0.01)
    writer.close()
    server.close()
    return accepted[0]


def test_the_listening_socket_gives_accepted_connections_tcp_nodelay() -> None:
    assert asyncio.run(_nodelay_of_accepted(listening_socket("127.0.0.1", 0))) != 0
    # what uvicorn's own --workers binds (protocol 0): asyncio leaves Nagle on (uvicorn#3149)
    plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    plain.bind(("127.0.0.1", 0))
    assert asyncio.run(_nodelay_of_accepted(plain)) == 0
