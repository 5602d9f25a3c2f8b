"""Request body limits per route, enforced before anything parses the body or checks auth.

A pure ASGI middleware: a declared Content-Length over the limit is answered 413 at once, without
reading a byte; a chunked or lying body is counted as it streams and the read fails with 413 as
soon as it passes the limit, answered exactly as the declared case (the same page or problem).
Memory stays bounded by the limit, whoever sends the request.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.platform import i18n
from app.platform.errors import PROBLEM

MB = 1024 * 1024
DEFAULT_LIMIT_BYTES = 1 * MB  # JSON bodies and page forms: far above any real one
# (path prefix, limit): the first match wins. Uploads keep their own, larger limits (a little
# above the file limit their route checks, for the multipart framing).
ROUTE_LIMITS_BYTES: tuple[tuple[str, int], ...] = (
    ("/api/v1/imports/", 51 * MB),
    ("/imports", 51 * MB),  # the managers' import page takes the same files as the API
    ("/api/v1/inbound/email", 26 * MB),
)
SURVEY_PREFIX = "/survey/"  # the customer's survey pages (app/web/survey.py): no login, no staff links


def _too_large(limit: int) -> str:
    return f"The request body is larger than {limit // 1024} KiB, the limit for this address."


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        default_bytes: int = DEFAULT_LIMIT_BYTES,
        routes: Sequence[tuple[str, int]] = ROUTE_LIMITS_BYTES,
    ) -> None:
        self.app = app
        self.default_bytes = default_bytes
        self.routes = tuple(routes)

    def limit_for(self, path: str) -> int:
        return next((limit for prefix, limit in self.routes if path.startswith(prefix)), self.default_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = self.limit_for(path)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _send_413(send, scope, path, limit)
            return
        received = 0
        cut_off = replacing = False

        async def counting_receive() -> Message:
            nonlocal received, cut_off
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    cut_off = True
                    # Raised inside the endpoint's body read: it unwinds the parsing, and the
                    # app's handlers turn it into a response, which `answering_send` replaces.
                    raise HTTPException(413, _too_large(limit))
            return message

        async def answering_send(message: Message) -> None:
            """After a cut-off, the answer is the declared-length case's (`_send_413`), whatever
            the app made of the exception: its HTTPException handler knows only problem+json,
            which a customer's browser on a survey page showed as raw JSON."""
            nonlocal replacing
            if cut_off and message["type"] == "http.response.start":
                replacing = True
                await _send_413(send, scope, path, limit)
            if not replacing:  # a response begun before the cut-off goes on as it was
                await send(message)

        await self.app(scope, counting_receive, answering_send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            # A malformed length is the server's business (h11 refuses it); count instead.
            return int(text) if text.isdecimal() else None
    return None


def _way_on(path: str) -> str:
    # The API has the same limit as the import page: only the command line, which reads the file on
    # the server, takes a larger one.
    if path.startswith("/imports"):
        return (
            "Go back in your browser and choose a smaller file (split it), or import it on the server "
            "with <code>fieldline import</code> (docs/import.md), which has no size limit."
        )
    return "Go back in your browser and send less."


def _customer_page(scope: Scope, limit: int) -> bytes:
    """For a customer on a survey address: the browser's language (no account is known there, as on
    the other error pages under /survey/, app/web/shared.error_page) and the catalogue's wording;
    no "Start page" or staff links. No template: nothing has run yet, the body is unread."""
    wanted = next((v.decode("latin-1") for n, v in scope.get("headers", ()) if n == b"accept-language"), "")
    language = i18n.negotiate(wanted)
    title = escape(i18n.text(language, "survey.page.too_large_title"))
    text = escape(i18n.text(language, "survey.page.too_large_text", kib=limit // 1024))
    return (
        f"<!doctype html><html lang='{escape(language)}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<meta name='robots' content='noindex'><title>{title}</title>"
        "<link rel='stylesheet' href='/static/css/app.css'>"
        "<link rel='stylesheet' href='/static/css/survey.css'></head>"
        f"<body><main><section class='card survey'><h1>{title}</h1>"
        f"<p>{text}</p></section></main></body></html>"
    ).encode()


def _staff_page(path: str, limit: int) -> bytes:
    return (
        "<!doctype html><html lang=en><meta charset=utf-8><title>File too large</title>"
        f"<main><h1>File too large</h1><p>{_too_large(limit)}</p>"
        f"<p>{_way_on(path)}</p>"
        '<p><a href="/">Start page</a></p></main>'
    ).encode()


async def _send_413(send: Send, scope: Scope, path: str, limit: int) -> None:
    if not path.startswith("/api/"):  # a page: a page a person can read, with the way back
        headers = [(b"content-type", b"text/html; charset=utf-8")]
        if path.startswith(SURVEY_PREFIX):
            page = _customer_page(scope, limit)
            # as on the survey pages: the token in the address must not leak to another site
            headers += [(b"referrer-policy", b"no-referrer"), (b"cache-control", b"no-store")]
        else:
            page = _staff_page(path, limit)
        headers += [(b"content-length", str(len(page)).encode()), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": page})
        return
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Content too large",
            "status": 413,
            "detail": _too_large(limit),
            "instance": path,
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
