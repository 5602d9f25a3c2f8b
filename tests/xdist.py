"""Per-process test resources under pytest-xdist.

`make test` runs the suite in two processes (`-n 2`, one per core of the CI machine). Each needs a
database and a broker db of its own: the session fixture drops and rebuilds the schema, and the
real-worker tests flush their Redis db. Process `gwN` gets database `<name>_gwN` (created when
missing) and Redis db `<n> - N`; without xdist (PYTEST_XDIST_WORKER unset) nothing changes.
"""

from __future__ import annotations

import os

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def _worker_index() -> int | None:
    name = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ...
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else None


def per_worker_database(url: str | None) -> str | None:
    index = _worker_index()
    if url is None or index is None or not url.startswith("postgresql"):
        return url
    parsed = make_url(url)
    name = f"{parsed.database}_gw{index}"
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            if exists is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def per_worker_broker(url: str | None) -> str | None:
    index = _worker_index()
    if url is None or index is None or not url.startswith("redis"):
        return url
    from redis.connection import parse_url

    number = int(parse_url(url).get("db", 0))
    if number - index < 1:
        raise RuntimeError(f"broker {url}: xdist process gw{index} needs db {number} - {index} >= 1")
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    return f"{base}/{number - index}"
