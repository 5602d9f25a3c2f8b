"""A body that is not JSON, or JSON sent under another content type, is answered in words a
client can act on (app/platform/errors.py): a decode error names the field `body` with the line
and column (it named the character offset as the field: `"5"`), and a JSON route sent text/plain
answers 415 (it said "body: Input should be a valid dictionary"). Routes that take other content
types on purpose (the CSV import, inbound e-mail) keep their own rules: see their tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Part

PARTS = "/api/v1/parts"
JSON = {"Content-Type": "application/json"}


def test_malformed_json_names_the_body_with_line_and_column(client: TestClient, login: Any) -> None:
    h = {**login("dispatcher"), **JSON}
    r = client.post(PARTS, content=b'{"a":', headers=h)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    (error,) = r.json()["errors"]
    assert error["field"] == "body"
    assert error["type"] == "json_invalid"
    assert error["message"].startswith("not valid JSON (line 1, column 6: ")
    assert r.json()["detail"] == f"body: {error['message']}"

    r = client.post(PARTS, content=b'{\n  "sku": "A-1",\n  "name": x\n}', headers=h)
    (error,) = r.json()["errors"]
    assert (error["field"], error["message"]) == (
        "body",
        "not valid JSON (line 3, column 11: Expecting value)",
    )


def test_json_sent_as_text_is_415(client: TestClient, db: Session, login: Any) -> None:
    h = login("dispatcher")
    body = b'{"sku": "A-1", "name": "Filter"}'
    for ctype in ("text/plain", "text/plain; charset=utf-8", "application/x-ndjson", None):
        headers = {**h, "Content-Type": ctype} if ctype else h
        r = client.post(PARTS, content=body, headers=headers)
        assert r.status_code == 415, (ctype, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["title"] == "Unsupported media type"
        assert "application/json" in r.json()["detail"]
    assert db.scalar(select(func.count()).select_from(Part)) == 0

    # application/json and a +json type are read; a bad value under the right type is still a 422.
    assert client.post(PARTS, content=body, headers={**h, **JSON}).status_code == 201
    r = client.post(
        PARTS,
        content=b'{"sku": "A-2", "name": "F"}',
        headers={**h, "Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 201, r.text
    r = client.post(PARTS, content=b'{"sku": "", "name": "F"}', headers={**h, **JSON})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "sku"
    # an empty body under another type is still "Field required", not 415
    r = client.post(PARTS, content=b"", headers={**h, "Content-Type": "text/plain"})
    assert r.status_code == 422, r.text


def test_routes_with_their_own_content_types_are_not_touched(client: TestClient, login: Any) -> None:
    """The CSV import reads text/csv, text/plain or multipart itself (no JSON body is declared):
    text/plain still imports, and JSON gets the import's own 415 that names what to send."""
    manager = login("manager")
    url = "/api/v1/imports/customers"
    r = client.post(
        url, content=b"external_id,name\nU-1,Ann Lee\n", headers={**manager, "Content-Type": "text/plain"}
    )
    assert r.status_code == 200, r.text
    r = client.post(url, content=b'{"a": 1}', headers={**manager, **JSON})
    assert r.status_code == 415, r.text
    assert "multipart/form-data" in r.json()["detail"]


def test_json_not_in_utf8_names_the_body(client: TestClient, login: Any) -> None:
    """Latin-1 JSON ("ä" as the byte 0xe4) was a 400 "There was an error parsing the body"."""
    h = {**login("agent"), **JSON}
    r = client.post("/api/v1/tickets", content='{"subject":"\xe4"}'.encode("latin-1"), headers=h)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    (error,) = r.json()["errors"]
    assert error == {
        "field": "body",
        "message": "must be UTF-8 encoded JSON (line 1, column 13: the byte 0xe4 is not UTF-8)",
        "type": "json_invalid",
    }
    assert r.json()["detail"] == f"body: {error['message']}"

    r = client.post(PARTS, content=b'{\n  "sku": "A-1",\n  "name": "Kugellager \xe4"\n}', headers=h)
    assert r.status_code == 422, r.text
    assert "line 3, column 23" in r.json()["errors"][0]["message"]
