"""Who sees which menu items, and where each role lands after signing in.

One table, so the menu and the start page cannot disagree: an item is shown only to roles whose
pages would let them in (a link that answers 403 is worse than no link).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.routing import BaseRoute

from app.models import Role

DASHBOARD = "/manager/dashboard"  # built by another branch; linked only when the route exists


@dataclass(frozen=True)
class MenuItem:
    key: str  # the page's `nav` value, marks the current item
    label: str
    href: str
    roles: frozenset[str]


DISPATCH = frozenset({Role.dispatcher.value, Role.manager.value, Role.admin.value})
DESK = frozenset({Role.agent.value}) | DISPATCH
MENU = (
    MenuItem("route", "My route", "/field", frozenset({Role.engineer.value})),
    MenuItem("dashboard", "Dashboard", DASHBOARD, frozenset({Role.manager.value})),
    MenuItem("board", "Board", "/board", DISPATCH),
    MenuItem("queue", "Tickets", "/desk/queue", DESK),
    MenuItem("search", "Customers", "/", DESK),
)


def has_route(routes: list[BaseRoute], path: str) -> bool:
    return any(getattr(r, "path", None) == path for r in routes)


def menu_for(role: str, routes: list[BaseRoute]) -> list[MenuItem]:
    return [
        item
        for item in MENU
        if role in item.roles and (item.href != DASHBOARD or has_route(routes, DASHBOARD))
    ]


def start_page(role: str, routes: list[BaseRoute]) -> str | None:
    """Where `/` sends a role; None: the role's start page is `/` itself (the agent's search + queue)."""
    if role == Role.engineer.value:
        return "/field"
    if role == Role.manager.value and has_route(routes, DASHBOARD):
        return DASHBOARD
    if role in DISPATCH:
        return "/board"
    return None
