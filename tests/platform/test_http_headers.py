"""The two request headers of the API's write conventions (app/platform/http.py):

- Idempotency-Key is a declared header parameter of every operation whose endpoint runs
  `idempotent_create` (it was only named in descriptions, so generated clients never sent it);
- If-Match: a list passes when one of its tags is the current ETag (RFC 9110), whether on one line
  or several (`"v1", "v10"` was a 412 when the current one was on a second line), and `*` is
  refused with 428 (it let a client that never read the resource overwrite any change)."""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import routing
from fastapi.testclient import TestClient

from app.platform.http import idempotent_create


def _functions(code: types.CodeType, scope: dict[str, Any], seen: set[int]) -> Iterator[Callable[..., Any]]:
    """Every function an endpoint calls by name, its nested functions' and module helpers' too."""
    for name in code.co_names:
        found = scope.get(name)
        if isinstance(found, types.FunctionType) and id(found) not in seen:
            seen.add(id(found))
            yield found
            if found.__module__ == scope.get("__name__"):  # a helper of the router's own module
                yield from _functions(found.__code__, found.__globals__, seen)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _functions(const, scope, seen)


def _idempotent_operations() -> set[tuple[str, str]]:
    from app.main import app

    found = set()
    for context in routing.iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, routing.APIRoute) or not str(context.path_format).startswith("/api/"):
            continue
        endpoint = route.endpoint
        if idempotent_create in _functions(endpoint.__code__, endpoint.__globals__, set()):
            found |= {(str(context.path_format), m.lower()) for m in context.methods or ()}
    return found


def test_every_idempotent_operation_declares_the_idempotency_key_header() -> None:
    from app.main import app

    spec = app.openapi()
    operations = _idempotent_operations()
    # the creates, the field actions, the plan runs and a pickup, whatever the module
    assert {
        ("/api/v1/work-orders", "post"),
        ("/api/v1/work-orders/{work_order_id}/check-in", "post"),
        ("/api/v1/work-orders/{work_order_id}/report", "post"),
        ("/api/v1/plans", "post"),
        ("/api/v1/parts", "post"),
        ("/api/v1/webhooks/subscriptions", "post"),
        ("/api/v1/tickets/{ticket_id}/calls", "post"),
    } <= operations
    declared = {}
    for path, method in operations:
        params = spec["paths"][path][method].get("parameters", [])
        (header,) = [p for p in params if p["in"] == "header" and p["name"] == "Idempotency-Key"]
        declared[(path, method)] = header
        assert header["required"] is False, (path, method)
        assert header["schema"] == {"type": "string", "title": "Idempotency-Key", "maxLength": 200}
        assert "replays the first answer" in header["description"], (path, method)
    assert len(declared) >= 15
    # and only there: a GET or an update does not suggest a key that nothing reads
    for path, item in spec["paths"].items():
        for method, op in item.items():
            names = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
            assert ("Idempotency-Key" in names) == ((path, method) in declared), (method, path)


def test_an_idempotency_key_over_200_characters_names_the_header(client: TestClient, login: Any) -> None:
    h = {**login("dispatcher"), "Idempotency-Key": "k" * 201}
    r = client.post("/api/v1/parts", json={"sku": "A-1", "name": "Filter"}, headers=h)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert "Idempotency-Key" in {e["field"] for e in r.json()["errors"]}, r.json()


@pytest.fixture
def part(client: TestClient, login: Any) -> tuple[str, dict[str, str], str]:
    """A part's address, a dispatcher's headers and the part's ETag (v1)."""
    h = login("dispatcher")
    r = client.post("/api/v1/parts", json={"sku": "A-1", "name": "Filter"}, headers=h)
    assert r.status_code == 201, r.text
    url = f"/api/v1/parts/{r.json()['id']}"
    return url, h, client.get(url, headers=h).headers["ETag"]


def test_if_match_star_is_refused_with_428(client: TestClient, part) -> None:
    url, h, _ = part
    for star in ("*", " * ", 'W/"v1", *'):
        r = client.patch(url, json={"name": "F2"}, headers={**h, "If-Match": star})
        assert r.status_code == 428, (star, r.text)
        assert "send the ETag from your last GET" in r.json()["detail"]
    assert client.get(url, headers=h).json()["name"] == "Filter"


def test_an_if_match_list_passes_when_one_tag_is_current(client: TestClient, part) -> None:
    url, h, current = part
    stale = current.replace('"v1.', '"v9.')
    one_line = client.patch(url, json={"name": "F2"}, headers={**h, "If-Match": f"{stale}, {current}"})
    assert one_line.status_code == 200, one_line.text
    now = one_line.headers["ETag"]
    # the same list as two header lines (a client or proxy may send it so)
    two_lines = client.patch(
        url, json={"name": "F3"}, headers=[*h.items(), ("If-Match", current), ("If-Match", now)]
    )
    assert two_lines.status_code == 200, two_lines.text
    # none of them current: 412 with the ETag to reload
    refused = client.patch(url, json={"name": "F4"}, headers={**h, "If-Match": f"{current}, {now}"})
    assert refused.status_code == 412 and refused.json()["current_etag"] == two_lines.headers["ETag"]
    # not a list of quoted tags at all
    bare = client.patch(url, json={"name": "F4"}, headers={**h, "If-Match": "v3"})
    assert bare.status_code == 412 and "quotes included" in bare.json()["detail"]
