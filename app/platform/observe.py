"""The outermost middleware: request id in and out, one access log line, HTTP metrics.

A pure ASGI middleware (not BaseHTTPMiddleware) so it adds no task or copy per request and sees
the refusals of the admission gate inside it as well as the answers of the routes.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.platform import metrics
from app.platform.logs import REQUEST_ID_HEADER, incoming_request_id, request_id

access_log = logging.getLogger("fieldline.access")
_HEADER = REQUEST_ID_HEADER.lower().encode()


def route_template(scope: Scope) -> str:
    """The matched route's template (`/api/v1/customers/{account_id}/360`): bounded label values.

    FastAPI may keep included routers nested, so the route knows only its own part of the path
    (`/customers/{account_id}/360`); the literal prefixes in front of it are taken from the
    request path, segment for segment."""
    template = str(getattr(scope.get("route"), "path", "") or "")
    if not template:
        return "<unmatched>"
    parts = str(scope["path"]).split("/")
    depth = template.count("/")
    return "/".join(parts[: len(parts) - depth]) + template if len(parts) > depth else template


class ObserveMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == _HEADER), None)
        rid = incoming_request_id(given)
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (_HEADER, rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            elapsed = time.perf_counter() - started
            route, method = route_template(scope), scope["method"]
            metrics.HTTP_REQUESTS.labels(method, route, str(status)).inc()
            metrics.HTTP_LATENCY.labels(method, route).observe(elapsed)
            access_log.info(
                "%s %s %s %.1f ms",
                method,
                scope["path"],
                status,
                elapsed * 1000,
                extra={"method": method, "route": route, "status": status, "duration_ms": elapsed * 1000},
            )
            request_id.reset(token)
