"""Each role lands on its own start page and sees only the menu items it may use."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from app.models import User

MENU_RE = re.compile(r'<nav aria-label="Main" class="topnav">(.*?)</nav>', re.S)


def _menu(html: str) -> list[str]:
    block = MENU_RE.search(html)
    assert block, "no main menu on the page"
    return re.findall(r'href="([^"]+)"', block.group(1))


@pytest.mark.parametrize(
    ("role", "start"),
    [("dispatcher", "/board"), ("manager", "/insights"), ("admin", "/board"), ("engineer", "/field")],
)
def test_start_page_per_role(client: TestClient, sign_in: Callable[..., User], role: str, start: str) -> None:
    sign_in(role)
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == start


def test_agent_starts_on_search_and_queue(client: TestClient, sign_in: Callable[..., User]) -> None:
    sign_in("agent")
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 200
    assert "Find a customer" in r.text
    assert _menu(r.text) == ["/desk/queue", "/desk/search", "/desk/unmatched", "/kb"]


@pytest.mark.parametrize(
    ("role", "page", "items"),
    [
        (
            "dispatcher",
            "/desk/search",
            [
                "/insights",
                "/board",
                "/desk/queue",
                "/desk/search",
                "/desk/unmatched",
                "/kb",
                "/admin/engineers",
            ],
        ),
        (
            "manager",
            "/desk/search",
            [
                "/insights",
                "/board",
                "/desk/queue",
                "/desk/search",
                "/desk/unmatched",
                "/kb",
                "/admin/engineers",
                "/desk/teams",
                "/imports",
            ],
        ),
        (
            "admin",
            "/desk/search",
            [
                "/insights",
                "/board",
                "/desk/queue",
                "/desk/search",
                "/desk/unmatched",
                "/kb",
                "/admin/engineers",
                "/desk/teams",
                "/imports",
                "/admin/users",
            ],
        ),
    ],
)
def test_menu_shows_only_the_roles_pages(
    client: TestClient, sign_in: Callable[..., User], role: str, page: str, items: list[str]
) -> None:
    sign_in(role)
    assert _menu(client.get(page).text) == items
    # "Customers" opens the customer search for every desk role (it once pointed at "/", which sends
    # a dispatcher to the board).
    customers = client.get("/desk/search")
    assert customers.status_code == 200 and "Find a customer" in customers.text


def test_engineer_menu_has_the_route_and_the_knowledge_base(
    client: TestClient, sign_in: Callable[..., User]
) -> None:
    sign_in("engineer")
    # An engineer without a profile gets a readable 404 page, still with the role's menu.
    html = client.get("/field").text
    assert _menu(html) == ["/field", "/kb"]


def test_manager_lands_on_the_dashboard(client: TestClient, sign_in: Callable[..., User]) -> None:
    sign_in("manager")
    r = client.get("/", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/insights"
    assert client.get("/insights").status_code == 200
