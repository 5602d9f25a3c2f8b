"""The /imports page lists every problem of a row at once, the unknown region with the cell errors
(the same service as the API: tests/integrations/crm_import/test_import_every_problem.py)."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import User
from tests import factories as f
from tests.web.conftest import csrf_of


def test_the_page_lists_the_unknown_region_with_the_rows_other_problems(
    client: TestClient, sign_in: Callable[..., User], db: Session
) -> None:
    f.make_region(db, code="QA-N")
    sign_in("manager")
    content = (
        b"external_id,name,tier,region_code,arr\nQA-1,Fine GmbH,gold,QA-N,1000\nQA-2,,diamond,NOPE,abc\n"
    )
    data = {"entity": "customers", "csrf": csrf_of(client.get("/imports").text)}
    r = client.post("/imports", data=data, files={"file": ("customers.csv", content, "text/csv")})
    assert r.status_code == 200
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", r.text)
    assert [(line, column) for line, column, _ in rows] == [
        ("3", "name"),
        ("3", "tier"),
        ("3", "arr"),
        ("3", "region_code"),
    ]
    assert rows[3][2] in ("unknown region &#39;NOPE&#39;", "unknown region &#x27;NOPE&#x27;"), rows[3]
