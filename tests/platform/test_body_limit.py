"""Request bodies are limited per route before authentication or parsing (413 problem+json)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi.testclient import TestClient

from app.platform.body_limit import DEFAULT_LIMIT_BYTES, MB, BodyLimitMiddleware


def test_anonymous_oversized_json_is_refused_before_auth(client: TestClient) -> None:
    body = b'{"subject": "' + b"x" * (2 * MB) + b'"}'
    r = client.post("/api/v1/tickets", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 413  # not 401: nothing ran before the limit
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "Content too large" and "1024 KiB" in r.json()["detail"]


def test_small_anonymous_body_still_gets_401(client: TestClient) -> None:
    r = client.post("/api/v1/tickets", json={"subject": "hello"})
    assert r.status_code == 401


def test_page_form_is_limited_too(client: TestClient) -> None:
    r = client.post("/login", data={"email": "a@b.example", "password": "p" * (2 * MB)})
    assert r.status_code == 413
    # a page answers with a page a person reads (the import page's upload got raw JSON)
    assert r.headers["content-type"].startswith("text/html") and "File too large" in r.text
    assert "1024 KiB" in r.text
    assert "Go back in your browser and send less." in r.text and "fieldline import" not in r.text


def test_a_too_large_import_file_points_to_the_command_line_only(client: TestClient, login) -> None:  # type: ignore[no-untyped-def]
    """It said "use the command line or the API", but the API has the import page's limit."""
    limit = BodyLimitMiddleware(app=None).limit_for("/imports")  # type: ignore[arg-type]
    r = client.post(
        "/imports",
        headers={"Content-Type": "multipart/form-data; boundary=x", "Content-Length": str(limit + 1)},
        content=b"x" * (limit + 1),
    )
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert "fieldline import" in r.text and "API" not in r.text


def test_the_import_page_takes_files_as_large_as_the_api() -> None:
    mw = BodyLimitMiddleware(app=None)  # type: ignore[arg-type]
    assert mw.limit_for("/imports") == mw.limit_for("/api/v1/imports/customers") > DEFAULT_LIMIT_BYTES


def test_csv_import_keeps_its_larger_limit(client: TestClient, login) -> None:  # type: ignore[no-untyped-def]
    # Long names (the column holds 200 characters) pass the 1 MB default with 6 000 rows, which
    # import in seconds (120 000 short rows did too, in minutes on PostgreSQL).
    filler = b"n" * 185
    csv = b"external_id,name\n" + b"".join(b"X-%d,Name %d %s\n" % (i, i, filler) for i in range(6_000))
    assert len(csv) > DEFAULT_LIMIT_BYTES
    r = client.post(
        "/api/v1/imports/customers", content=csv, headers={"Content-Type": "text/csv", **login("manager")}
    )
    assert r.status_code == 200, r.text[:300]


def _run_streamed(path: str, chunk: bytes, chunks: int) -> tuple[int, int, dict[str, Any]]:
    """Send a chunked body (no Content-Length) through the real app; count the chunks it pulled."""
    from app.main import app

    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": pulled < chunks}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        "client": ("192.0.2.1", 1234),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], pulled, json.loads(body)


def test_streamed_body_is_cut_off_at_the_limit_without_reading_it_all(connection: object) -> None:
    chunk = b" " * 65536
    status, pulled, problem = _run_streamed("/api/v1/tickets", chunk, chunks=16 * 16)  # 16 MB offered
    assert status == 413 and problem["status"] == 413
    assert pulled == DEFAULT_LIMIT_BYTES // len(chunk) + 1  # stopped one chunk past 1 MB


def test_route_limits_pick_the_first_matching_prefix() -> None:
    mw = BodyLimitMiddleware(app=None, default_bytes=10, routes=(("/api/v1/imports/", 100),))  # type: ignore[arg-type]
    assert mw.limit_for("/api/v1/imports/customers") == 100
    assert mw.limit_for("/api/v1/tickets") == 10
