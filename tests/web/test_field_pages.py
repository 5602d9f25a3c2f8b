"""The engineer's mobile pages: the day's route (list, map data, sketch), one visit, and the
actions on it — on my way, check-in, check-out, report, pickup — as plain forms that are safe to
send twice, refuse stale versions, keep what was typed on an error, and never show another
engineer's visit."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models import Engineer, StockLevel, WorkOrder, WorkOrderEvent
from app.platform.auth import issue_token
from app.platform.db import utcnow
from app.platform.deps import SESSION_COOKIE
from app.web.map_sketch import sketch
from tests import factories as f
from tests.field.workorders.world import on_the_day
from tests.planning import world as pw
from tests.web.conftest import csrf_of

SMALL = {"time_limit_s": 2.0, "solution_limit": 30}
KEY_RE = re.compile(r'name="key" value="([^"]+)"')


def planned_world(client: TestClient, db: Session, login: Any, weekday: int = 2) -> tuple[pw.World, Any]:
    """Two engineers, three visits; engineer 1 alone has ELEC, so the visit needing the warehouse
    part goes to them with a pickup stop before it."""
    w = pw.build(db, jobs=2)
    pw.add_visit(db, w, parts=[(w.parts[0].id, 1)], skill="ELEC")
    day = pw.next_weekday(weekday)
    db.commit()
    r = client.post(
        "/api/v1/plans",
        json={"region_id": w.region.id, "date": day.isoformat(), **SMALL},
        headers=login("dispatcher"),
    )
    assert r.status_code == 202, r.text
    return w, day


def as_engineer(client: TestClient, w: pw.World, i: int = 1) -> None:
    client.cookies.set(SESSION_COOKIE, issue_token(w.users[i]))


def engineer_ones_visit(db: Session, w: pw.World) -> WorkOrder:
    """A visit the plan gave engineer 1 (the one signed in by ``as_engineer``)."""
    db.expire_all()
    return next(wo for wo in w.work_orders if db.get(WorkOrder, wo.id).engineer_id == w.engineers[1].id)  # type: ignore[union-attr]


def form_fields(html: str, action: str) -> dict[str, str]:
    """The hidden inputs of the form posting to `action`."""
    start = html.index(f'action="{action}"')
    block = html[start : html.index("</form>", start)]
    return dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', block))


def test_route_page_lists_the_stops_in_order_with_map_and_navigation(
    client: TestClient, db: Session, login: Any
) -> None:
    w, day = planned_world(client, db, login)
    as_engineer(client, w)
    r = client.get(f"/field?day={day.isoformat()}")
    assert r.status_code == 200, r.text
    html = r.text
    db.expire_all()
    mine = [wo for wo in w.work_orders if db.get(WorkOrder, wo.id).engineer_id == w.engineers[1].id]  # type: ignore[union-attr]
    assert mine, "engineer 1 has the ELEC visit"
    for wo in mine:
        assert f'href="/field/visits/{wo.id}"' in html
    assert "Pick up at" in html and w.warehouse.name in html
    assert "Parts to pick up" in html and w.parts[0].name in html
    assert "https://www.google.com/maps/dir/?api=1&amp;destination=" in html and 'href="geo:' in html
    found = re.search(r'<script type="application/json" id="route-data">(.*?)</script>', html, re.S)
    assert found, "the map's data is on the page"
    data = json.loads(found[1])
    assert [p["seq"] for p in data["points"]] == list(range(1, len(data["points"]) + 1))
    assert data["points"][0]["kind"] == "pickup"  # the part is fetched before the visit
    assert "<polyline points=" in html  # the plain sketch, shown until (unless) the map loads
    assert "/vendor/leaflet/leaflet.js" in html and "/static/js/route-map.js" in html
    assert "tile.openstreetmap.org" in r.headers["content-security-policy"]
    # Another day with nothing planned says so.
    empty = client.get(f"/field?day={(day.replace(year=day.year + 1)).isoformat()}")
    assert empty.status_code == 200 and "No stops planned" in empty.text


def test_engineer_lands_on_the_route_and_others_are_kept_out(
    client: TestClient, db: Session, login: Any, sign_in: Any
) -> None:
    w, day = planned_world(client, db, login)
    db.expire_all()
    theirs = next(wo for wo in w.work_orders if db.get(WorkOrder, wo.id).engineer_id == w.engineers[0].id)  # type: ignore[union-attr]
    assert client.get("/field", follow_redirects=False).headers["location"].startswith("/login")
    as_engineer(client, w)
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/field"
    other = client.get(f"/field/visits/{theirs.id}")
    nothing = client.get("/field/visits/999999")  # the same words: nothing leaks
    assert nothing.status_code == 404 and "is not on your route" in nothing.text
    assert other.status_code == 404 and "is not on your route" in other.text  # not "deleted"
    assert other.headers["content-type"].startswith("text/html")
    page = client.get(f"/field/visits/{w.work_orders[-1].id}")
    post = client.post(f"/field/visits/{theirs.id}/check-in", data={"csrf": csrf_of(page.text), "key": "k1"})
    assert post.status_code == 404
    db.expire_all()
    assert db.get(WorkOrder, theirs.id).checked_in_at is None  # type: ignore[union-attr]
    sign_in("agent")
    refused = client.get("/field")
    assert refused.status_code == 403 and "for field engineers" in refused.text


def test_bad_day_is_a_readable_error(client: TestClient, db: Session, login: Any) -> None:
    w, _ = planned_world(client, db, login)
    as_engineer(client, w)
    r = client.get("/field?day=31-12-2026")
    assert r.status_code == 422 and "is not a date" in r.text
    for far in ("0001-01-01", "9999-12-31"):  # the day before / after would overflow
        r = client.get(f"/field?day={far}")
        assert r.status_code == 422 and "must be a date between" in r.text


def test_a_visit_from_pickup_to_report(client: TestClient, db: Session, login: Any) -> None:
    w, day = planned_world(client, db, login)
    wo = w.work_orders[-1]  # the ELEC visit with a warehouse part, engineer 1's
    as_engineer(client, w)
    wh = f.location_of(db, warehouse=w.warehouse).id
    van = f.location_of(db, engineer=w.engineers[1]).id

    def stock(loc: int) -> int:
        db.expire_all()
        q = db.scalar(
            select(StockLevel.quantity).where(
                StockLevel.location_id == loc, StockLevel.part_id == w.parts[0].id
            )
        )
        return q or 0

    url = f"/field/visits/{wo.id}"
    page = client.get(url)
    assert page.status_code == 200
    assert "pick up at" in page.text and w.contact.name in page.text  # type: ignore[union-attr]
    pick = form_fields(page.text, f"{url}/pickup")
    first = client.post(f"{url}/pickup", data=pick, follow_redirects=False)
    again = client.post(f"{url}/pickup", data=pick)
    assert first.status_code == 303 and "done=picked-up" in first.headers["location"]
    assert "already done" in again.text  # the same form sent twice
    assert (stock(wh), stock(van)) == (2, 1)

    page = client.get(url)
    # planned_world plans next week: "On my way" is offered (and allowed) on the planned day only
    assert f'action="{url}/en-route"' not in page.text
    go = {**form_fields(page.text, f"{url}/check-in"), "key": "go"}
    db.expire_all()
    planned = db.get_one(WorkOrder, wo.id).planned_start_at
    assert planned is not None
    with on_the_day(planned - timedelta(hours=1)):
        assert client.post(f"{url}/en-route", data=go).status_code == 200
    page = client.get(url)
    assert "Check in" in page.text
    fields = form_fields(page.text, f"{url}/check-in")
    fields.update(latitude="48.1", longitude="11.6")
    assert client.post(f"{url}/check-in", data=fields).status_code == 200
    replay = client.post(f"{url}/check-in", data=fields)
    assert replay.status_code == 200 and "already done" in replay.text
    db.expire_all()
    visit = db.get(WorkOrder, wo.id)
    assert visit is not None and visit.status == "on_site" and visit.checked_in_at is not None
    checkins = db.scalar(
        select(func.count())
        .select_from(WorkOrderEvent)
        .where(WorkOrderEvent.work_order_id == wo.id, WorkOrderEvent.kind == "check_in")
    )
    assert checkins == 1
    engineer = db.get(Engineer, w.engineers[1].id)
    assert engineer is not None and engineer.current_latitude == pytest.approx(48.1)  # the phone's fix

    page = client.get(url)
    assert 'id="report-form"' in page.text and f'name="qty_{w.parts[0].id}"' in page.text
    report = form_fields(page.text, f"{url}/report")
    # Missing answers: 422, the text is kept, nothing is written.
    missing = client.post(f"{url}/report", data={**report, "work_done": "Replaced the fan relay."})
    assert missing.status_code == 422 and "Replaced the fan relay." in missing.text
    assert "say whether the problem is fixed" in missing.text
    # A wrong quantity names the part, not the input ("Qty 10").
    wrong = client.post(
        f"{url}/report", data={**report, "work_done": "x", f"qty_{w.parts[0].id}": "-3", "fixed": "yes"}
    )
    assert wrong.status_code == 422
    assert f"{w.parts[0].name} ({w.parts[0].sku}): a whole number of parts, 0–10000" in wrong.text
    assert f"Qty {w.parts[0].id}" not in wrong.text
    db.expire_all()
    assert db.get(WorkOrder, wo.id).status == "on_site"  # type: ignore[union-attr]
    filed = client.post(
        f"{url}/report",
        data={**report, "work_done": "Replaced the fan relay.", f"qty_{w.parts[0].id}": "1", "fixed": "yes"},
    )
    assert filed.status_code == 200 and "Service report filed" in filed.text
    db.expire_all()
    visit = db.get(WorkOrder, wo.id)
    assert visit is not None and visit.status == "done" and visit.fixed_first_time is True
    assert stock(van) == 0  # the part left the van with the report
    assert "Replaced the fan relay." in client.get(url).text


def test_a_stale_form_is_refused_and_keeps_the_text(client: TestClient, db: Session, login: Any) -> None:
    w, _ = planned_world(client, db, login)
    wo = w.work_orders[-1]
    as_engineer(client, w)
    url = f"/field/visits/{wo.id}"
    fields = form_fields(client.get(url).text, f"{url}/check-in")
    assert client.post(f"{url}/check-in", data=fields).status_code == 200
    report = form_fields(client.get(url).text, f"{url}/report")
    # Dispatch edits the visit meanwhile (its version moves on).
    db.expire_all()
    visit = db.get(WorkOrder, wo.id)
    assert visit is not None
    visit.notes = "Customer asks to ring twice."
    db.commit()
    stale = client.post(f"{url}/report", data={**report, "work_done": "Cleaned the filter.", "fixed": "yes"})
    assert stale.status_code == 409 and "was changed" in stale.text
    assert "Cleaned the filter." in stale.text and "Customer asks to ring twice." in stale.text
    db.expire_all()
    assert db.get(WorkOrder, wo.id).status == "on_site"  # type: ignore[union-attr]


def test_forms_need_the_csrf_token(client: TestClient, db: Session, login: Any) -> None:
    w, _ = planned_world(client, db, login)
    wo = w.work_orders[-1]
    as_engineer(client, w)
    r = client.post(f"/field/visits/{wo.id}/check-in", data={"key": "x"})
    assert r.status_code == 403 and "expired" in r.text
    db.expire_all()
    assert db.get(WorkOrder, wo.id).checked_in_at is None  # type: ignore[union-attr]


def test_a_shortage_at_report_time_writes_nothing(client: TestClient, db: Session, login: Any) -> None:
    w, _ = planned_world(client, db, login)
    wo = w.work_orders[-1]  # its part is still at the warehouse: not picked up
    as_engineer(client, w)
    url = f"/field/visits/{wo.id}"
    client.post(f"{url}/check-in", data=form_fields(client.get(url).text, f"{url}/check-in"))
    report = form_fields(client.get(url).text, f"{url}/report")
    r = client.post(
        f"{url}/report",
        data={**report, "work_done": "Swapped the board.", f"qty_{w.parts[0].id}": "1", "fixed": "yes"},
    )
    assert r.status_code == 409 and "Swapped the board." in r.text
    # The shortage names the part and the engineer's van, not "location 4".
    assert f"({w.parts[0].name}) requested from the van of {w.engineers[1].name}" in r.text.replace(
        "&#39;", "'"
    )
    db.expire_all()
    assert db.get(WorkOrder, wo.id).status == "on_site"  # type: ignore[union-attr]


def test_sketch_keeps_north_up_and_the_stops_inside_the_box() -> None:
    points = [
        {"seq": 1, "kind": "job", "lat": 48.10, "lon": 11.50},
        {"seq": 2, "kind": "pickup", "lat": 48.20, "lon": 11.50},
        {"seq": 3, "kind": "job", "lat": 48.20, "lon": 11.70},
    ]
    s = sketch(points)
    dots = s["dots"]
    assert all(0 <= d["x"] <= s["width"] and 0 <= d["y"] <= s["height"] for d in dots)
    assert dots[1]["y"] < dots[0]["y"]  # further north is higher up
    assert dots[2]["x"] > dots[1]["x"]  # further east is to the right
    # 0.2° of longitude at 48° N is shorter than 0.1° of latitude × 2: not stretched.
    assert (dots[2]["x"] - dots[1]["x"]) < 2 * (dots[0]["y"] - dots[1]["y"])
    assert s["line"].count(",") == 3 and sketch([])["dots"] == []


def test_a_finished_visit_shows_the_parts_used_and_no_navigation(
    client: TestClient, db: Session, login: Any
) -> None:
    w, day = planned_world(client, db, login)
    wo = w.work_orders[-1]  # engineer 1's visit with a warehouse part and a pickup stop before it
    as_engineer(client, w)
    url = f"/field/visits/{wo.id}"
    # Checked in today (the plan is for next week's `day`): the visit is on today's route since.
    route_url = "/field"
    assert "Navigate</a>" in client.get(url).text  # an open visit: the way there
    assert (
        client.post(f"{url}/pickup", data=form_fields(client.get(url).text, f"{url}/pickup")).status_code
        == 200
    )
    assert (
        client.post(f"{url}/check-in", data=form_fields(client.get(url).text, f"{url}/check-in")).status_code
        == 200
    )
    report = form_fields(client.get(url).text, f"{url}/report")
    part = w.parts[0]
    filed = client.post(
        f"{url}/report",
        data={**report, "work_done": "Swapped the relay.", f"qty_{part.id}": "1", "fixed": "yes"},
    )
    assert filed.status_code == 200 and "Service report filed" in filed.text

    html = client.get(url).text
    report_card = html[html.index('id="actions-title"') :]
    assert "Parts used" in report_card and f"1 × {part.name}" in report_card and "from the van" in report_card
    assert "Navigate</a>" not in html and "Open in map app" not in html
    # the route keeps the finished stop (it had Navigate while open, see above) but drops the button
    stops = client.get(route_url).text.split("<li")
    finished = [b for b in stops if f'href="/field/visits/{wo.id}"' in b]
    assert len(finished) == 1 and "Navigate</a>" not in finished[0] and "Done" in finished[0]


def test_a_visit_planned_for_another_day_says_so_beside_check_in(
    client: TestClient, db: Session, login: Any
) -> None:
    w, day = planned_world(client, db, login)
    as_engineer(client, w)
    wo = engineer_ones_visit(db, w)
    page = client.get(f"/field/visits/{wo.id}").text
    assert 'id="check-in-form"' in page
    # planned_world plans a coming weekday, never today
    assert f"Planned for {day.strftime('%a %d %b')}, not today" in page
    # once it is today's, the notice goes
    found = db.get(WorkOrder, wo.id)
    assert found is not None
    found.planned_start_at = found.eta_at = utcnow()
    db.commit()
    assert 'id="not-today"' not in client.get(f"/field/visits/{wo.id}").text


def test_the_visit_page_has_the_asset_file_with_the_last_visits(
    client: TestClient, db: Session, login: Any
) -> None:
    """What the machine is, warranty and contract, and what earlier visits to it found and fitted."""
    from datetime import date, timedelta

    from app.models import Asset, PartUsage

    w, _day = planned_world(client, db, login)
    as_engineer(client, w)
    wo = engineer_ones_visit(db, w)
    asset = db.get(Asset, db.get(WorkOrder, wo.id).asset_id)  # type: ignore[union-attr]
    assert asset is not None
    asset.warranty_end = date.today() + timedelta(days=30)
    ticket = f.open_ticket(db, w.account, asset=asset)
    earlier = f.make_work_order(db, ticket)
    earlier.status, earlier.fixed_first_time = "done", True
    earlier.report_work_done = "Replaced the fan relay; noisy bearing noted."
    earlier.engineer_id = w.engineers[0].id
    earlier.checked_out_at = utcnow() - timedelta(days=40)
    van = f.location_of(db, engineer=w.engineers[0])
    db.add(PartUsage(work_order_id=earlier.id, part_id=w.parts[0].id, location_id=van.id, quantity=2))
    db.commit()

    page = client.get(f"/field/visits/{wo.id}").text
    file = page[page.index('id="asset-file"') :]
    assert asset.serial in file and "until" in file  # in warranty
    visits = file[file.index('id="asset-visits"') :]
    assert "Replaced the fan relay; noisy bearing noted." in visits and earlier.number in visits
    assert f"2 × {w.parts[0].name}" in visits and w.engineers[0].name in visits and "fixed" in visits
    assert "Billable" not in file

    # Warranty over and the contract expired: the engineer sees what the agent's 360 view says.
    asset.warranty_end = date.today() - timedelta(days=1)
    contract = f.make_contract(
        db, w.account, f.make_calendar(db), ends_on=date.today() - timedelta(days=3), tier="gold"
    )
    asset.contract_id = contract.id
    db.commit()
    file = client.get(f"/field/visits/{wo.id}").text
    file = file[file.index('id="asset-file"') :]
    assert "ended" in file and f"{contract.number} · Gold SLA" in file and "expired" in file
    assert "Billable" in file
    contract.ends_on = date.today() + timedelta(days=100)  # active again: covered, not billable
    db.commit()
    file = client.get(f"/field/visits/{wo.id}").text
    file = file[file.index('id="asset-file"') :]
    assert "expired" not in file and "Billable" not in file


def test_the_past_due_badge_counts_from_the_arrival_due_time_like_the_board(
    client: TestClient, db: Session, login: Any
) -> None:
    """The engineer's badge and the board's at-risk reason say the same lateness (the badge once
    read the engine's lateness, counted from the day's start for a due time already passed)."""
    from datetime import timedelta

    from app.models import Ticket

    w, day = planned_world(client, db, login)
    as_engineer(client, w)
    wo = engineer_ones_visit(db, w)
    found = db.get(WorkOrder, wo.id)
    assert found is not None and found.eta_at is not None
    found.sla_deadline_at = found.eta_at - timedelta(days=2, hours=3, minutes=10)
    db.commit()
    assert "2 d 3 h past arrival due" in client.get(f"/field/visits/{wo.id}").text
    assert "2 d 3 h past arrival due" in client.get(f"/field?day={day.isoformat()}").text
    ticket = db.get(Ticket, found.ticket_id)
    assert ticket is not None
    ticket.arrived_at = utcnow()  # an earlier visit arrived: no arrival due time left to miss
    db.commit()
    assert "past arrival due" not in client.get(f"/field/visits/{wo.id}").text


def on_site(
    client: TestClient, db: Session, login: Any, *, pickup: bool
) -> tuple[pw.World, str, dict[str, str], list[Any]]:
    """Engineer 1 checked in to the visit needing a warehouse part (renamed as the demo's), with two
    more parts in the van; ``pickup``: whether they tapped "I picked these up" first."""
    w, _ = planned_world(client, db, login)
    wo = w.work_orders[-1]
    w.parts[0].name, w.parts[0].sku = "Druckschalter", "PMP-5005"
    w.warehouse.name = "Lager Nord"
    van = f.location_of(db, engineer=w.engineers[1])
    extra = [
        f.make_part(db, name="Dichtungssatz", sku="DIC-1010"),
        f.make_part(db, name="Lüfter", sku="LUE-2020"),
    ]
    for part in extra:
        f.set_stock(db, van, part, 5)
    db.commit()
    as_engineer(client, w)
    url = f"/field/visits/{wo.id}"
    if pickup:
        client.post(f"{url}/pickup", data=form_fields(client.get(url).text, f"{url}/pickup"))
    client.post(f"{url}/check-in", data=form_fields(client.get(url).text, f"{url}/check-in"))
    report = form_fields(client.get(url).text, f"{url}/report")
    # what the phone sends: the visit's part pre-filled with its planned quantity
    report.update({"work_done": "Swapped the pressure switch.", "fixed": "yes", f"qty_{w.parts[0].id}": "1"})
    return w, url, report, extra


def alert(html: str) -> str:
    """The refusal shown at the top of the page."""
    found = re.search(r'<p class="alert" role="alert">(.*?)</p>', html, re.S)
    return found[1] if found else ""


def van_stock(db: Session, w: pw.World, part: Any) -> int:
    db.expire_all()
    van = f.location_of(db, engineer=w.engineers[1]).id
    q = db.scalar(
        select(StockLevel.quantity).where(StockLevel.location_id == van, StockLevel.part_id == part.id)
    )
    return q or 0


def visit_status(db: Session, url: str) -> str:
    db.expire_all()
    return db.get(WorkOrder, int(url.rsplit("/", 1)[1])).status  # type: ignore[union-attr]


def test_part_errors_name_the_part_and_sku_never_its_id(client: TestClient, db: Session, login: Any) -> None:
    w, url, report, extra = on_site(client, db, login, pickup=True)
    part = w.parts[0]
    for typed in ("-1", "1.5", "two"):
        r = client.post(f"{url}/report", data={**report, f"qty_{part.id}": typed})
        assert r.status_code == 422, typed
        assert "Druckschalter (PMP-5005): a whole number of parts, 0–10000" in r.text, typed
        assert f"Qty {part.id}" not in r.text and "Swapped the pressure switch." in r.text
    # A forged part id, as the other part or as a visit part: said in words, the id never shown.
    huge = "9" * 5000  # more digits than int() takes: still a readable refusal, not a 500
    for forged in ({"other_part": "999999", "other_qty": "1"}, {"qty_999999": "1"}, {"other_part_2": huge}):
        r = client.post(f"{url}/report", data={**report, **forged})
        assert r.status_code == 422 and "that part is not in our catalogue" in r.text, forged
        assert "999999" not in r.text and "does not exist" not in r.text
    assert visit_status(db, url) == "on_site"


def test_a_chosen_other_part_with_no_quantity_is_refused_not_dropped(
    client: TestClient, db: Session, login: Any
) -> None:
    """Choosing a van part and leaving 0 (or nothing) is a slip: closing the visit without it
    would leave the van's stock wrong. The page asks, keeping the choice; '— none —' with the
    pre-filled 1 books nothing."""
    w, url, report, extra = on_site(client, db, login, pickup=True)
    seal = extra[0]
    for qty in ("0", "", "00"):
        r = client.post(f"{url}/report", data={**report, "other_part": str(seal.id), "other_qty": qty})
        assert r.status_code == 422, qty
        assert "Dichtungssatz (DIC-1010): you chose this part: enter how many you used (1–10000)" in r.text
        assert f'<option value="{seal.id}" selected>' in r.text  # the choice is kept
        assert visit_status(db, url) == "on_site" and van_stock(db, w, seal) == 5
    filed = client.post(f"{url}/report", data={**report, "other_part": "", "other_qty": "1"})
    assert filed.status_code == 200 and "Service report filed" in filed.text
    assert van_stock(db, w, seal) == 5


def test_several_other_parts_from_the_van_are_booked(client: TestClient, db: Session, login: Any) -> None:
    w, url, report, (seal, fan) = on_site(client, db, login, pickup=True)
    page = client.get(url).text
    for name in ("other_part", "other_part_2", "other_part_3"):  # three rows, no JavaScript needed
        assert f'<select name="{name}"' in page
    rows = {"other_part": str(seal.id), "other_qty": "2", "other_part_2": str(fan.id), "other_qty_2": "x"}
    # One bad row: refused, every row kept as typed, nothing booked.
    r = client.post(f"{url}/report", data={**report, **rows})
    assert r.status_code == 422 and "Lüfter (LUE-2020): a whole number of parts, 1–10000" in r.text
    assert (
        f'<option value="{seal.id}" selected>' in r.text and f'<option value="{fan.id}" selected>' in r.text
    )
    assert re.search(r'name="other_qty" [^>]*value="2"', r.text)
    assert van_stock(db, w, seal) == 5 and visit_status(db, url) == "on_site"
    # The same part in two rows adds up.
    rows.update(other_qty_2="1", other_part_3=str(seal.id), other_qty_3="1")
    filed = client.post(f"{url}/report", data={**report, **rows})
    assert filed.status_code == 200 and "Service report filed" in filed.text
    assert (van_stock(db, w, seal), van_stock(db, w, fan)) == (2, 4)
    used = client.get(url).text
    assert "3 × Dichtungssatz" in used and "1 × Lüfter" in used and "1 × Druckschalter" in used


def test_an_unconfirmed_pickup_is_pointed_out_before_and_after_filing(
    client: TestClient, db: Session, login: Any
) -> None:
    """Checked in without tapping "I picked these up": the report card says what is still waiting
    at the warehouse, and the shortage the report runs into says why and which button to tap."""
    w, url, report, (seal, _fan) = on_site(client, db, login, pickup=False)
    page = client.get(url).text
    notice = page[page.index('id="pickup-not-confirmed"') : page.index('id="report-form"')]
    assert "You have not confirmed picking up:" in notice and "1 × Druckschalter at Lager Nord" in notice
    assert 'href="#pickup-form"' in notice and 'id="pickup-form"' in page
    r = client.post(f"{url}/report", data=report)  # the form pre-fills 1 × Druckschalter
    text = r.text.replace("&#39;", "'")
    assert r.status_code == 409 and "Not enough stock, nothing was booked" in text
    assert "You have not confirmed picking up 1 × Druckschalter at Lager Nord" in text
    assert "tap “I picked these up”" in alert(text) and "Swapped the pressure switch." in text
    # A shortage of a part that is not on the pickup gets no such hint.
    other = client.post(
        f"{url}/report",
        data={**report, f"qty_{w.parts[0].id}": "0", "other_part": str(seal.id), "other_qty": "9"},
    )
    assert other.status_code == 409 and "Dichtungssatz" in alert(other.text)
    assert "picked" not in alert(other.text)
    # Confirming the pickup clears the notice and the report goes through.
    client.post(f"{url}/pickup", data=form_fields(client.get(url).text, f"{url}/pickup"))
    assert 'id="pickup-not-confirmed"' not in client.get(url).text
    filed = client.post(f"{url}/report", data=report)
    assert filed.status_code == 200 and "Service report filed" in filed.text
    assert visit_status(db, url) == "done"


def test_a_stop_reached_before_its_window_shows_when_the_work_starts(
    client: TestClient, db: Session, login: Any
) -> None:
    """ "08:08 – 10:00" beside "Promised 09:00–09:30" read as a two-hour job arriving early: the
    route gives the start (the window) and says the engineer waits from the arrival."""
    from datetime import timedelta

    w, day = planned_world(client, db, login)
    as_engineer(client, w)
    wo = db.get(WorkOrder, engineer_ones_visit(db, w).id)
    assert wo is not None and wo.eta_at is not None
    wo.planned_start_at = wo.eta_at + timedelta(minutes=52)
    db.commit()
    page = client.get(f"/field?day={day.isoformat()}").text
    assert "waits for the window" in page
    wo.planned_start_at = wo.eta_at
    db.commit()
    assert "waits for the window" not in client.get(f"/field?day={day.isoformat()}").text


# --- refusals an engineer can read ----------------------------------------------------------------


def late_post(client: TestClient, url: str, action: str, key: str) -> Any:
    """A form sent for `action` with a fresh key and no version: another tab, an old bookmark."""
    return client.post(f"{url}/{action}", data={"csrf": csrf_of(client.get(url).text), "key": key})


def test_a_check_in_while_on_site_elsewhere_is_refused_naming_that_visit(
    client: TestClient, db: Session, login: Any
) -> None:
    from app.field.workorders import service as workorders

    w, _ = planned_world(client, db, login)
    first = w.work_orders[-1]
    db.expire_all()
    start = db.get(WorkOrder, first.id).planned_start_at  # type: ignore[union-attr]
    second = db.get(WorkOrder, w.work_orders[0].id)
    assert second is not None and start is not None
    # By a dispatcher's hand, so the re-plan of its day that the check-in at `first` (next week's
    # visit, done today) asks for keeps it with engineer 1 (`inputs.locked`).
    workorders.schedule(
        db,
        work_order=second,
        engineer_id=w.engineers[1].id,
        planned_start=start,
        eta=None,
        actor=f.make_user(db, role="dispatcher"),
    )
    db.commit()
    as_engineer(client, w)
    url, url2 = f"/field/visits/{first.id}", f"/field/visits/{second.id}"
    client.post(f"{url}/check-in", data=form_fields(client.get(url).text, f"{url}/check-in"))
    assert visit_status(db, url) == "on_site"
    r = client.post(f"{url2}/check-in", data=form_fields(client.get(url2).text, f"{url2}/check-in"))
    assert r.status_code == 409
    assert alert(r.text).startswith(f"You are still checked in at {first.number} (")
    assert visit_status(db, url2) == "scheduled"
    # Checked out of the first site: the engineer may arrive at the next one.
    client.post(f"{url}/check-out", data=form_fields(client.get(url).text, f"{url}/check-out"))
    ok = client.post(f"{url2}/check-in", data=form_fields(client.get(url2).text, f"{url2}/check-in"))
    assert ok.status_code == 200 and "Checked in." in ok.text and visit_status(db, url2) == "on_site"


def test_actions_on_a_finished_visit_say_it_is_finished(client: TestClient, db: Session, login: Any) -> None:
    """QA: a check-in on a visit reported yesterday answered "Checked in.", a pickup with nothing
    to fetch "Pickup confirmed"."""
    w, url, report, _ = on_site(client, db, login, pickup=True)
    assert client.post(f"{url}/report", data=report).status_code == 200
    assert visit_status(db, url) == "done"
    for action in ("check-in", "check-out", "pickup"):
        r = late_post(client, url, action, f"late-{action}")
        assert r.status_code == 409, action
        assert alert(r.text) == "This visit is already finished: its service report was filed.", action
        assert "Checked in." not in r.text and "Pickup confirmed" not in r.text


def test_a_repeat_from_another_tab_is_a_quiet_no_op_not_a_success(
    client: TestClient, db: Session, login: Any
) -> None:
    w, url, _, _ = on_site(client, db, login, pickup=True)  # picked up and checked in
    again = late_post(client, url, "check-in", "second-tab-in")
    assert again.status_code == 200 and "You were already checked in; nothing changed." in again.text
    assert "Checked in." not in again.text
    picked = late_post(client, url, "pickup", "second-tab-pickup")
    assert picked.status_code == 200 and "You had already confirmed this pickup" in picked.text
    assert "Pickup confirmed" not in picked.text
    db.expire_all()
    checkins = db.scalar(
        select(func.count())
        .select_from(WorkOrderEvent)
        .where(WorkOrderEvent.work_order_id == w.work_orders[-1].id, WorkOrderEvent.kind == "check_in")
    )
    assert checkins == 1


def test_out_of_order_actions_say_what_to_do_first(client: TestClient, db: Session, login: Any) -> None:
    """QA: a report before check-in showed "… is scheduled and cannot move to done; allowed next:
    unscheduled, en_route, on_site, cancelled." """
    w, _ = planned_world(client, db, login)
    as_engineer(client, w)
    url = f"/field/visits/{w.work_orders[-1].id}"
    page = client.get(url).text
    r = client.post(
        f"{url}/report",
        data={"csrf": csrf_of(page), "key": "early", "work_done": "Swapped the relay.", "fixed": "yes"},
    )
    assert r.status_code == 409
    assert alert(r.text) == "Check in first: the service report is filed on site, after checking in."
    out = late_post(client, url, "check-out", "early-out")
    assert out.status_code == 409 and alert(out.text).startswith("Check in first: ")
    for html in (r.text, out.text):
        assert "allowed next" not in html and "en_route" not in alert(html)
    assert visit_status(db, url) == "scheduled"
    # A visit with no parts waiting anywhere: nothing to pick up (engineer 0's own visit).
    db.expire_all()
    theirs = next(wo for wo in w.work_orders if db.get(WorkOrder, wo.id).engineer_id == w.engineers[0].id)  # type: ignore[union-attr]
    as_engineer(client, w, 0)
    none = late_post(client, f"/field/visits/{theirs.id}", "pickup", "nothing")
    assert none.status_code == 409 and alert(none.text) == "There is nothing to pick up for this visit."
