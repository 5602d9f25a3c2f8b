"""GET /metrics in the Prometheus text format, for a scraper holding METRICS_TOKEN (or an admin).

The route, the tickets counted and the queue names are operational detail, not for customers:
hence a token even on an internal network. A scrape needs no database when the token is set.
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.models import Role
from app.platform.auth import user_from_token
from app.platform.config import get_settings
from app.platform.db import new_session
from app.platform.errors import Forbidden, Unauthorized
from app.platform.metrics import scrape_registry

router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    _authorize(request.headers.get("authorization", ""))
    return Response(generate_latest(scrape_registry()), media_type=CONTENT_TYPE_LATEST)


def _authorize(header: str) -> None:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Send METRICS_TOKEN (or an admin's token) as a bearer token.")
    expected = get_settings().metrics_token
    if expected and hmac.compare_digest(token.encode(), expected.encode()):
        return
    with new_session() as session:
        user = user_from_token(session, token)
        if user.role != Role.admin.value:
            raise Forbidden("Metrics are for the metrics scraper and admins.")
