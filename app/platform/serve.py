"""`fieldline serve`: uvicorn, one process or a supervisor with N worker processes.

With N > 1 the listening socket is made here, as a TCP socket (IPPROTO_TCP), and handed to
uvicorn's own supervisor. uvicorn's `--workers` binds one with protocol 0; asyncio then never
sets TCP_NODELAY on the accepted connections, and every keep-alive request after the first
waits about 40 ms for the client's delayed ACK (Kludex/uvicorn#3149; measured with the API
bench: 0.5 ms per keep-alive request with one worker, 44 ms with two). The workers are the
same either way.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from pathlib import Path

from app.platform.config import Settings

APP = "app.main:app"


def refuse_workers(settings: Settings, workers: int) -> str | None:
    """Why this many web workers cannot run with these settings (None: they can)."""
    if workers < 1:
        return "--workers must be at least 1"
    if workers == 1:
        return None
    if settings.is_sqlite:
        return (
            f"--workers {workers} needs PostgreSQL: SQLite (the embedded mode) serves from one process, "
            "with its task thread and scheduler inside it. Set DATABASE_URL to PostgreSQL, or drop --workers."
        )
    if not settings.celery_broker_url and settings.scheduler_enabled:
        return (
            f"--workers {workers} without CELERY_BROKER_URL would run every periodic job once per worker. "
            "Set CELERY_BROKER_URL and run one `fieldline beat` (docker-compose does), "
            "or SCHEDULER_ENABLED=0 for a server without periodic jobs (benchmarks)."
        )
    return None


def prepare_metrics_dir() -> tuple[str, bool]:
    """A fresh PROMETHEUS_MULTIPROC_DIR for the workers (set before any of them starts, since
    prometheus-client reads it when it is imported); files of an earlier run are removed.
    Returns the directory and whether it was made here (and is to be removed at the end)."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    path = given or tempfile.mkdtemp(prefix="fieldline-metrics-")
    Path(path).mkdir(parents=True, exist_ok=True)
    for old in Path(path).glob("*.db"):  # only prometheus-client's own files
        old.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    return path, not given


def run(*, host: str, port: int, workers: int, log_level: str) -> None:
    import uvicorn

    # log_config=None: app.platform.logs configures logging in each worker (JSON, request ids);
    # its access line carries the request id, so uvicorn's own is off.
    # proxy_headers=False: the app reads forwarded headers itself, from FORWARDED_ALLOW_IPS only.
    options = {
        "log_config": None,
        "log_level": log_level.lower(),
        "access_log": False,
        "proxy_headers": False,
    }
    if workers == 1:
        uvicorn.run(APP, host=host, port=port, **options)  # type: ignore[arg-type]
        return
    from uvicorn.supervisors import Multiprocess

    path, made_here = prepare_metrics_dir()
    config = uvicorn.Config(APP, host=host, port=port, workers=workers, **options)  # type: ignore[arg-type]
    try:
        Multiprocess(config, sockets=[listening_socket(host, port)]).run()
    finally:
        if made_here:
            shutil.rmtree(path, ignore_errors=True)


def listening_socket(host: str, port: int) -> socket.socket:
    """Bound, inheritable by the workers, and created with IPPROTO_TCP, so that asyncio sets
    TCP_NODELAY on every connection it accepts (it checks the listening socket's protocol)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock
