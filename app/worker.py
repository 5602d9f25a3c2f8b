"""The Celery worker's composition root: `celery -A app.worker worker` (and `beat`).

The Celery app itself lives in the kernel (`app.platform.worker`), which must not import the
domains above it; this module is where a worker process starts, so it installs what
`create_app` installs for the web process before any task runs.
"""

from __future__ import annotations

from app.hooks import install_domain_hooks
from app.platform.worker import celery_app

install_domain_hooks()

__all__ = ["celery_app"]
