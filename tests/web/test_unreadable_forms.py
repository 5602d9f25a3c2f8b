"""A page form whose body cannot be parsed (a broken multipart upload, a sign-in form without its
boundary) gets a readable page saying so, not the API's problem+json (it was a bare 400 in JSON)."""

from __future__ import annotations

from collections.abc import Callable
from html import unescape

import httpx
import pytest
from fastapi.testclient import TestClient

from app.models import User


def _readable(r: httpx.Response) -> str:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert '<h1 id="error-title">Check your input</h1>' in r.text
    return unescape(r.text)


@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        ("multipart/form-data", b"email=a&password=b", "missing boundary in multipart"),
        ("multipart/form-data; boundary=xyz", b"garbage", "invalid multipart data"),
    ],
)
def test_sign_in_page(client: TestClient, content_type: str, body: bytes, reason: str) -> None:
    r = client.post("/login", content=body, headers={"Content-Type": content_type}, follow_redirects=False)
    text = _readable(r)
    assert f"The form could not be read as multipart/form-data ({reason}). Nothing was saved" in text


def test_import_page(client: TestClient, sign_in: Callable[..., User]) -> None:
    sign_in("manager")
    r = client.post(
        "/imports",
        content=b"--xyz\r\nContent-Type: text/csv\r\n\r\na,b\r\n--xyz--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    text = _readable(r)
    assert 'the Content-Disposition header field "name" must be provided' in text
