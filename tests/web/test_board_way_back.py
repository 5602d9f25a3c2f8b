"""Dispatcher QA on the board's refusals and addresses.

Refused board actions offered only "Start page": a move confirmed after another dispatcher moved
the visit (409), Accept of a proposal already discarded (409 "Illegal status transition"), a move
form naming another region's engineer (422). Each now links back to the board it came from (same
region and day), and the discarded proposal says who discarded it and when. `/board` ignored
`region_id` and `date` (the names `/board/data` and the API take) and showed the default region
of today: it takes them, with a 422 page when they conflict or are malformed. The move preview
lists the moved visit's own parts, not the pickup of the engineer's other visit.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.models import PlanRun, User, WorkOrder
from tests import factories as f
from tests.planning import world as pw
from tests.planning.test_assign_preview_parts_and_reason import _her_day_with_an_emergency_pickup
from tests.planning.test_hand_times_kept import _at, _by_hand
from tests.web.conftest import csrf_of


def _links(page: str) -> dict[str, str]:
    return {html.unescape(href): label for href, label in re.findall(r'<a href="([^"]+)">([^<]+)</a>', page)}


def _board(region_id: int, day: date) -> str:
    return f"/board?region={region_id}&day={day.isoformat()}"


def test_a_move_confirmed_after_another_dispatcher_s_links_back_to_the_board(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    w = pw.build(db, jobs=0)
    day = pw.next_weekday(1)
    visit = pw.add_visit(db, w, lat=48.15, lon=11.60)  # HVAC: either engineer
    db.commit()
    sign_in("dispatcher")
    params = {"engineer_id": w.engineers[1].id, "day": day.isoformat()}
    preview = client.get(f"/board/visits/{visit.id}/reassign", params=params)
    assert preview.status_code == 200, preview.text[:400]
    form = {"csrf": csrf_of(preview.text), **params, "version": str(visit.version)}
    _by_hand(db, w, visit.id, w.engineers[0].id, _at(w, day, 9))  # the other dispatcher's move

    r = client.post(f"/board/visits/{visit.id}/reassign", data=form)

    assert r.status_code == 409
    assert "the board shows the visit as it is now" in html.unescape(r.text)
    assert _links(r.text).get(_board(w.region.id, day)) == "Back to the board"


def test_a_move_to_another_region_s_engineer_links_back_to_the_board(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    home, away = pw.build(db, jobs=0), pw.build(db, jobs=0)
    day = pw.next_weekday(1)
    visit = pw.add_visit(db, home, skill="ELEC")
    db.commit()
    sign_in("dispatcher")
    page = client.get(_board(home.region.id, day))
    form = {
        "csrf": csrf_of(page.text),
        "engineer_id": str(away.engineers[1].id),
        "day": day.isoformat(),
        "version": str(visit.version),
    }

    r = client.post(f"/board/visits/{visit.id}/reassign", data=form)

    assert r.status_code == 422
    assert away.region.name in html.unescape(r.text)
    assert _links(r.text).get(_board(home.region.id, day)) == "Back to the board"
    db.expire_all()
    assert db.get_one(WorkOrder, visit.id).engineer_id is None  # nothing changed


def test_accept_after_discard_says_who_discarded_it_and_links_back(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    region = f.make_region(db, timezone="Europe/Berlin")
    day = pw.next_weekday(1)
    run = PlanRun(region_id=region.id, day=day, status="proposed", propose=True, summary={}, stats={})
    db.add(run)
    db.commit()
    first = sign_in("dispatcher", name="Dora Dispatch")
    page = client.get(_board(region.id, day))
    csrf = csrf_of(page.text)
    assert (
        client.post(f"/board/plans/{run.id}/discard", data={"csrf": csrf}, follow_redirects=False).status_code
        == 303
    )
    assert first.name == "Dora Dispatch"

    r = client.post(
        f"/board/plans/{run.id}/accept", data={"csrf": csrf}
    )  # the second dispatcher's stale page

    assert r.status_code == 409
    text = html.unescape(r.text)
    assert "Illegal status transition" not in text
    assert "This proposal was discarded by Dora Dispatch at " in text and "nothing was published" in text
    assert _links(r.text).get(_board(region.id, day)) == "Back to the board"


def test_the_board_page_takes_region_id_and_date(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    first = f.make_region(db, code="A-1", name="First")
    second = f.make_region(db, code="B-2", name="Second")
    db.commit()
    sign_in("dispatcher")

    r = client.get("/board", params={"region_id": second.id, "date": "2026-12-09"})

    assert r.status_code == 200
    assert re.search(rf'<option value="{second.id}"[^>]*selected', r.text), "not the named region"
    assert 'value="2026-12-09"' in r.text  # the day asked for, not today
    refused = {
        "region_id and region differ": ({"region_id": second.id, "region": first.id}, "differ"),
        "date and day differ": ({"date": "2026-12-09", "day": "2026-12-10"}, "differ"),
        "malformed date": ({"date": "9.12.2026"}, "Date"),
        "unknown region": ({"region_id": "999999"}, "choose a region from the list"),
    }
    for what, (params, said) in refused.items():
        r = client.get("/board", params=params)
        assert r.status_code == 422 and said in html.unescape(r.text), what


def test_the_move_preview_page_lists_only_the_moved_visit_s_parts(
    client: TestClient, db: Session, sign_in: Callable[..., User]
) -> None:
    w, day, _emergency = _her_day_with_an_emergency_pickup(db)
    moved = pw.add_visit(db, w, skill="ELEC", lat=48.15, lon=11.60)  # needs no part
    db.commit()
    sign_in("dispatcher")

    r = client.get(
        f"/board/visits/{moved.id}/reassign",
        params={"engineer_id": w.engineers[1].id, "day": day.isoformat()},
    )

    assert r.status_code == 200, r.text[:400]
    assert f"<dt>Parts for {moved.number}</dt><dd>none</dd>" in r.text
    assert w.parts[0].name not in r.text  # her emergency's pickup, unchanged by the move
