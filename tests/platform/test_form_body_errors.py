"""A form or multipart body that cannot be parsed (no boundary, broken parts, a part without a name,
more files than the route takes) is a 422 problem+json naming the field `body` and what was wrong,
like a body that is not JSON. It was Starlette's 400 titled "Error".
Pages: tests/web/test_unreadable_forms.py."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

MULTIPART = "multipart/form-data"
BOUNDARY = f"{MULTIPART}; boundary=xyz"
NAMELESS_PART = b"--xyz\r\nContent-Type: text/csv\r\n\r\na,b\r\n--xyz--\r\n"
TWO_FILES = (
    b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\na\r\n'
    b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="b.csv"\r\n\r\nb\r\n--xyz--\r\n'
)
CASES = [
    (
        MULTIPART,
        b"username=a&password=b",
        "could not be read as multipart/form-data (missing boundary in multipart)",
    ),
    (BOUNDARY, b"garbage", "could not be read as multipart/form-data (invalid multipart data)"),
    (
        BOUNDARY,
        NAMELESS_PART,
        "could not be read as multipart/form-data"
        ' (the Content-Disposition header field "name" must be provided)',
    ),
]


def _assert_body_refused(r: Any, message: str) -> None:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["title"] == "Validation failed"
    assert problem["errors"] == [{"field": "body", "message": message, "type": "form_invalid"}]
    assert problem["detail"] == f"body: {message}"


@pytest.mark.parametrize(("content_type", "body", "message"), CASES)
def test_sign_in_with_an_unreadable_form(
    client: TestClient, content_type: str, body: bytes, message: str
) -> None:
    r = client.post("/api/v1/auth/token", content=body, headers={"Content-Type": content_type})
    _assert_body_refused(r, message)


@pytest.mark.parametrize(("content_type", "body", "message"), CASES)
def test_an_import_with_an_unreadable_upload(
    client: TestClient, login: Any, content_type: str, body: bytes, message: str
) -> None:
    r = client.post(
        "/api/v1/imports/customers", content=body, headers={**login("manager"), "Content-Type": content_type}
    )
    _assert_body_refused(r, message)


def test_an_import_with_two_files(client: TestClient, login: Any) -> None:
    h = {**login("manager"), "Content-Type": BOUNDARY}
    r = client.post("/api/v1/imports/customers", content=TWO_FILES, headers=h)
    _assert_body_refused(
        r, "could not be read as multipart/form-data (too many files. Maximum number of files is 1)"
    )


def test_other_http_errors_keep_their_status(client: TestClient, login: Any) -> None:
    assert client.put("/api/v1/auth/token").status_code == 405
    r = client.post(
        "/api/v1/imports/customers", content=b"x", headers={**login("manager"), "Content-Type": "image/png"}
    )
    assert r.status_code == 415
