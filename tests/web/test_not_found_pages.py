"""Unknown addresses: a readable HTML page for people, problem+json for API clients."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize("path", ["/nope", "/admin", "/desk/nothing/here", "/field/x/y", "/static/none.css"])
def test_unknown_page_addresses_get_a_readable_html_404(client: TestClient, path: str) -> None:
    r = client.get(path, headers={"accept": "text/html"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "<h1" in r.text and "Page not found" in r.text and f"There is no page at {path}" in r.text
    assert 'href="/"' in r.text  # a way back to the start page
    assert r.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/tickets/1/nothing", "/api/nope"])
def test_unknown_api_addresses_keep_problem_json(client: TestClient, path: str) -> None:
    r = client.get(path, headers={"accept": "text/html"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["title"] == "Not found"


@pytest.mark.parametrize(("role", "path"), [("engineer", "/field/visits/abc"), ("admin", "/admin/users/abc")])
def test_a_page_address_with_a_word_for_an_id_is_not_found_not_a_validation_error(
    client: TestClient, sign_in: Any, role: str, path: str
) -> None:
    sign_in(role)
    r = client.get(path)
    assert r.status_code == 404 and "valid integer" not in r.text and "Check your input" not in r.text


def test_a_get_of_a_forms_address_goes_to_the_page_above_it(
    client: TestClient, sign_in: Any, db: Any
) -> None:
    """After a refused form the address bar holds the form's POST address; a reload or a bookmark
    GETs it. That lands on the page above it, not on a problem+json 405."""
    from tests import factories as f

    ticket = f.open_ticket(db, f.make_account(db))
    db.commit()
    sign_in("agent")
    r = client.get(f"/desk/tickets/{ticket.id}/work-orders", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/desk/tickets/{ticket.id}"
    # several levels up when the nearer ones are forms too
    r = client.get(f"/desk/tickets/{ticket.id}/kb/1/solved", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/desk/tickets/{ticket.id}"
    # the API keeps its problem+json
    api = client.get(f"/api/v1/tickets/{ticket.id}/kb-solution")
    assert api.status_code == 405 and api.headers["content-type"].startswith("application/problem+json")
