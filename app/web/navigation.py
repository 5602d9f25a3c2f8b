"""Who sees which menu items, and where each role lands after signing in.

One table, so the menu and the start page cannot disagree: an item is shown only to roles whose
pages would let them in (a link that answers 403 is worse than no link).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.models import Role


@dataclass(frozen=True)
class MenuItem:
    key: str  # the page's `nav` value, marks the current item
    label: str
    href: str
    roles: frozenset[str]


DISPATCH = frozenset({Role.dispatcher.value, Role.manager.value, Role.admin.value})
DESK = frozenset({Role.agent.value}) | DISPATCH
MANAGE = frozenset({Role.manager.value, Role.admin.value})
EVERYONE = DESK | {Role.engineer.value}
MENU = (
    MenuItem("route", "My route", "/field", frozenset({Role.engineer.value})),
    # managers and admins see every KPI there, dispatchers the operational ones (docs/kpis.md)
    MenuItem("insights", "KPIs", "/insights", DISPATCH),
    MenuItem("board", "Board", "/board", DISPATCH),
    MenuItem("queue", "Tickets", "/desk/queue", DESK),
    # not "/": that is each role's start page, and only the agent's is the search
    MenuItem("search", "Customers", "/desk/search", DESK),
    # mail from unknown senders held for the desk (docs/tickets.md, inbound e-mail step 5); with a count
    MenuItem("unmatched", "Unmatched mail", "/desk/unmatched", DESK),
    # engineers read published articles there; agents, managers and admins write (docs/knowledge_base.md)
    MenuItem("kb", "Knowledge", "/kb", EVERYONE),
    # engineer profiles (region, skills, shifts, home base): the roles the engineers API lets write
    MenuItem("engineers", "Engineers", "/admin/engineers", DISPATCH),
    MenuItem("teams", "Teams", "/desk/teams", MANAGE),
    # CRM CSV uploads (docs/import.md); the same import as the API and the CLI
    MenuItem("imports", "Imports", "/imports", MANAGE),
    MenuItem("users", "Users", "/admin/users", frozenset({Role.admin.value})),
)


def menu_for(role: str) -> list[MenuItem]:
    return [item for item in MENU if role in item.roles]


def start_page(role: str) -> str | None:
    """Where `/` sends a role; None: the role's start page is `/` itself (the agent's search + queue)."""
    if role == Role.engineer.value:
        return "/field"
    if role == Role.manager.value:
        return "/insights"  # the manager steers by the KPI dashboard
    if role in DISPATCH:
        return "/board"
    return None
