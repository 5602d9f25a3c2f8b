"""The what-if page shows a visit kept at a time set by hand that the day cannot fit as the re-plan
will have it: kept at its time, at risk, in the words of its mark. QA: the page listed it under
"Dropped", though publishing the preview keeps it there as a stop."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import User
from tests.planning.test_held_time_blocked import kept_evening, replanned


def test_the_what_if_page_shows_a_kept_visit_kept_at_its_time_not_dropped(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    k = kept_evening(db)
    late = replanned(db, k)  # published: kept at 21:30, "… the plan cannot fit it there"
    said = late.at_risk_reason
    assert said is not None and said.startswith("kept at")
    sign_in("dispatcher")

    page = client.get(
        "/board/what-if",
        params={
            "region": k.world.region.id,
            "day": k.today.isoformat(),
            "kind": "emergency",
            "latitude": "48.13",
            "longitude": "11.55",
            "skill": "HVAC",
            "duration_min": "30",
        },
    )

    assert page.status_code == 200, page.text[:300]
    dropped = re.search(r"<dt>Dropped</dt><dd>(.*?)</dd>", page.text)
    assert dropped is not None and dropped.group(1) == "0", dropped
    kept = re.search(r'<ul id="whatif-kept">(.*?)</ul>', page.text, re.S)
    assert kept is not None, "no list of kept visits"
    assert f"<li>{late.number}: {html.escape(said)}</li>" in kept.group(1)
