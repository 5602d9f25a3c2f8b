"""Logging: one line per record, JSON when LOG_FORMAT=json (python-json-logger), with the id
of the request being served, and the same id on the log lines of the tasks that request enqueued.

The id travels in a contextvar within a process (threads the request hands work to copy it) and
as a task header across the broker: `before_task_publish` stamps it, `task_prerun` restores it.
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from contextvars import ContextVar
from typing import Any, TextIO

from pythonjsonlogger.json import JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
TASK_HEADER = "fieldline_request_id"
# A caller's id is kept when it looks like one (a proxy's UUID, a trace id); anything else,
# e.g. a header stuffed with log-forging text, is replaced.
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

request_id: ContextVar[str | None] = ContextVar("fieldline_request_id", default=None)


def incoming_request_id(value: str | None) -> str:
    return value if value and _VALID_ID.fullmatch(value) else uuid.uuid4().hex


class ContextFilter(logging.Filter):
    """Adds request_id (and, inside a Celery task, task_name and task_id) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        if not hasattr(record, "task_id"):
            task = _current_task()
            record.task_id = task.request.id if task is not None else None
            record.task_name = task.name if task is not None else None
        return True


def _current_task() -> Any:
    from celery import current_task

    # current_task is a proxy that is falsy outside a task
    return current_task if current_task and current_task.request.id else None


def make_handler(fmt: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """A handler that writes one line per record (JSON for fmt="json") with the context fields."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(task_name)s %(task_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    return handler


def configure_logging(fmt: str = "text", level: str = "INFO") -> None:
    """Route every logger (uvicorn's, Celery's, the app's) through one handler on the root."""
    handler = make_handler(fmt)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_fieldline", False)]:
        root.removeHandler(old)
    handler._fieldline = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    # their own handlers would print each line twice, once without the request id; uvicorn.access
    # is left as uvicorn set it (off under `fieldline serve`: fieldline.access has the route)
    for name in ("uvicorn", "uvicorn.error", "celery"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True


def install_task_propagation() -> None:
    """Carry the request id from the publishing request to the task (both processes call this)."""
    from celery import signals

    signals.before_task_publish.connect(_stamp_request_id, weak=False, dispatch_uid="fl-rid-publish")
    signals.task_prerun.connect(_restore_request_id, weak=False, dispatch_uid="fl-rid-prerun")
    signals.task_postrun.connect(_clear_request_id, weak=False, dispatch_uid="fl-rid-postrun")


def _stamp_request_id(headers: dict[str, Any] | None = None, **_: Any) -> None:
    rid = request_id.get()
    if headers is not None and rid:
        headers.setdefault(TASK_HEADER, rid)


def _restore_request_id(task: Any = None, **_: Any) -> None:
    request_id.set(getattr(task.request, TASK_HEADER, None) if task is not None else None)


def _clear_request_id(**_: Any) -> None:
    request_id.set(None)


def install_worker_logging() -> None:
    """In a Celery worker: use this logging set-up instead of Celery's own (setup_logging)."""
    from celery import signals

    from app.platform.config import get_settings

    def _setup(**_: Any) -> None:
        settings = get_settings()
        configure_logging(settings.log_format, settings.log_level)

    signals.setup_logging.connect(_setup, weak=False, dispatch_uid="fl-logging")
