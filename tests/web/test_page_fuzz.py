"""No page answers 500 to what a user can type: every page route, as every role, with hostile path,
query and form values (the API has schemathesis, bench/fuzz_api.py; pages have no schema to drive it).

Routes are found by walking the pages router, so a new page is fuzzed without being listed here.
Values mix the seeded rows' ids with hostile text: out-of-range and non-ASCII numbers, dates at the
calendar's ends, long and right-to-left text. Forms carry the session's CSRF token so that the
handlers run past it. It found `/board?day=9999-12-31` (a 500 when the board loaded the day).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.knowledge import articles
from app.web import pages_router
from tests import factories as f
from tests.web.conftest import csrf_of

HOSTILE = (
    "",
    " ",
    "x" * 3000,
    "²",
    "１２",
    "-1",
    "0",
    "99999999999",
    "1" * 40,
    "1e3",
    "NaN",
    "inf",
    "1.5",
    "+5",
    " 7 ",
    "true",
    "null",
    "2026-13-45",
    "9999-12-31",
    "0001-01-01",
    "2026-12-06T25:00",
    "0001-01-01T00:00:00+14:00_5",
    "<script>alert(1)</script>",
    "../..",
    "%",
    "'",
    "a,b,,",
    "\u202eabc",
    "😀",
    "P1",
    "open",
)
CASES_PER_ROUTE = 4  # per role and method; 58 routes x 5 roles: ~1 200 requests, ~10 s


def page_routes(router: APIRouter, prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """(path, route) of every route under ``router``, through routers included into it."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            yield prefix + route.path, route
        elif hasattr(route, "original_router"):  # FastAPI's record of an include_router
            yield from page_routes(route.original_router, prefix + route.include_context.prefix)


def _params(route: APIRoute) -> tuple[list[str], list[str]]:
    queries, forms = [], []
    stack = [route.dependant]
    while stack:
        dep = stack.pop()
        queries += [p.alias for p in dep.query_params]
        forms += [p.alias for p in dep.body_params]
        stack += dep.dependencies
    return queries, forms


def test_no_page_answers_500_to_hostile_input(client: TestClient, db: Session, sign_in: Any) -> None:
    region = f.make_region(db)
    account = f.make_account(db, region=region)
    site = f.make_site(db, account, region=region)
    asset = f.make_asset(db, site, product_model=f.make_product_model(db))
    ticket = f.open_ticket(db, account, asset=asset)
    work_order = f.make_work_order(db, ticket)
    author = f.make_user(db, role="agent")
    article = articles.create_article(
        db, values={"title": "Lift door", "body": "Clean the sill.", "status": "published"}, actor=author
    )
    db.commit()
    ids = [str(i) for i in (account.id, ticket.id, work_order.id, article.id, region.id, 1)]
    routes = [(path, r) for path, r in page_routes(pages_router) if not path.endswith("/logout")]
    assert len(routes) > 50 and any(path == "/kb/new" for path, _ in routes)

    rng = random.Random(20261206)
    failures: list[str] = []
    for role in ("admin", "agent", "engineer", "dispatcher", "manager"):
        sign_in(role)
        token = csrf_of(client.get("/kb").text)
        for path, route in routes:
            queries, forms = _params(route)
            for method in sorted(route.methods & {"GET", "POST"}):
                for _ in range(CASES_PER_ROUTE):
                    url = re.sub(
                        r"{\w+}",
                        lambda _m: rng.choice(ids) if rng.random() < 0.8 else rng.choice(HOSTILE[3:9]),
                        path,
                    )
                    params = {q: rng.choice(HOSTILE + tuple(ids)) for q in queries if rng.random() < 0.7}
                    data = {b: rng.choice(HOSTILE + tuple(ids)) for b in forms if rng.random() < 0.8}
                    if method == "GET":
                        r = client.get(url, params=params, follow_redirects=False)
                    else:
                        r = client.post(
                            url, params=params, data={**data, "csrf": token}, follow_redirects=False
                        )
                    if r.status_code >= 500:
                        failures.append(f"{role} {method} {url} {params} {data} -> {r.status_code}")
    assert not failures, "\n".join(x[:300] for x in failures[:20])
