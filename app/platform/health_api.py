from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.platform.config import get_settings
from app.platform.db import new_session

router = APIRouter(tags=["health"])


# 503 with the same body when a check fails (monitoring reads it); the API contract adds the
# problem+json 503 of a refused admission.
_DEGRADED = {"application/json": {"schema": {"type": "object", "additionalProperties": {"type": "string"}}}}


@router.get(
    "/health", responses={503: {"description": "A check failed (`status`: degraded)", "content": _DEGRADED}}
)
def health() -> JSONResponse:
    """Database (and broker, when one is configured) reachability."""
    checks: dict[str, str] = {}
    try:
        with new_session() as session:
            session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # report, don't crash: this is what monitoring reads
        checks["database"] = f"error: {type(exc).__name__}"
    settings = get_settings()
    if settings.celery_broker_url:
        checks["broker"] = _broker_status(settings.celery_broker_url)
    else:
        checks["broker"] = "in-process"
    ok = all(v in ("ok", "in-process") for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "degraded", **checks}, status_code=200 if ok else 503)


def _broker_status(url: str) -> str:
    from kombu.connection import Connection

    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"
