"""What the numbers were measured on: time, cores, load, solver versions."""

from __future__ import annotations

import datetime as dt
import os
import platform
from importlib import metadata


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "absent"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f}/{five:.2f}/{fifteen:.2f}"


def header(title: str) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    versions = ", ".join(f"{d} {_version(d)}" for d in ("ortools", "pyvroom", "pyvrp"))
    return (
        f"# {title}\n# {now}, {platform.node()}, {os.cpu_count()} cores, {load()} at start; "
        f"python {platform.python_version()}, {versions}"
    )


def footer() -> str:
    now = dt.datetime.now(dt.UTC).strftime("%H:%M:%SZ")
    return f"# finished {now}, {load()} at end"
