"""The Celery worker's composition root: `celery -A app.worker worker` (and `beat`).

The Celery app itself lives in the kernel (`app.platform.worker`), which must not import the
domains above it; this module is where a worker process starts, so it installs what
`create_app` installs for the web process before any task runs.
"""

from __future__ import annotations

from app.feedback.triggers import install_session_hooks as install_feedback_hooks
from app.field.workorders.closing import install_ticket_hooks
from app.planning.triggers import install_session_hooks
from app.platform.worker import celery_app

install_session_hooks()
install_ticket_hooks()
install_feedback_hooks()

__all__ = ["celery_app"]
