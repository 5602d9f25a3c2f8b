"""The engineer's day on a phone, in a real browser: sign in, see today's route as a list and on
a map, open a stop, pick up the part, check in and file the report.

Debian's /usr/bin/chromium through Playwright at 360 × 740 against a real uvicorn server on a
temporary SQLite file. The plan is requested through the API like a dispatcher would. There is
no internet here, so map tiles are blocked on purpose: the route must still show (Leaflet on a
plain background, or the server's sketch when Leaflet itself is missing). Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.orm import Session

from app.platform.auth import hash_password
from tests.e2e.browser import (
    ARTIFACTS,
    CHROMIUM,
    PASSWORD,
    PHONE,
    Phone,
    migrated,
    phone_page,
    running_server,
    script_held_back,
)
from tests.planning import world as pw

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")

LEAFLET = "**/vendor/leaflet/**"


def _seed(url: str, *, van_parts: bool = False) -> dict[str, Any]:
    """Two engineers in a zone where it is about noon now (so 'today' has shift time left); the
    visit needing ELEC and a warehouse part can only go to engineer 1, via a pickup. With
    `van_parts`, engineer 1's van also holds two parts the report can name as "other parts"."""
    engine = migrated(url)
    try:
        with Session(engine) as db:
            tz = pw.midday_zone()
            w = pw.build(db, jobs=2, tz=tz, shift=(0, 23), all_week=True)
            special = pw.add_visit(db, w, lat=48.15, lon=11.58, parts=[(w.parts[0].id, 1)], skill="ELEC")
            engineer = w.users[1]
            engineer.email, engineer.name = "field@browser.example", "Emil Engineer"
            engineer.password_hash = hash_password(PASSWORD)
            dispatcher = pw.f.make_user(
                db, role="dispatcher", email="dispatch@browser.example", password=PASSWORD
            )
            van = [pw.f.make_part(db, name=name) for name in ("Fan motor", "Door seal")] if van_parts else []
            for part in van:
                pw.f.set_stock(db, pw.f.location_of(db, engineer=w.engineers[1]), part, 5)
            db.commit()
            return {
                "van_parts": [p.name for p in van],
                "region_id": w.region.id,
                "today": datetime.now(ZoneInfo(tz)).date().isoformat(),
                "engineer_email": engineer.email,
                "dispatcher_email": dispatcher.email,
                "visit_id": special.id,
                "customer": w.account.name if w.account else "",
                "part": w.parts[0].name,
            }
    finally:
        engine.dispose()


def _publish_today(server: dict[str, Any]) -> None:
    """POST /plans as a dispatcher (the server runs tasks inline) and wait until it is published."""
    base = server["base"]
    token = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": server["dispatcher_email"], "password": PASSWORD}
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    r = httpx.post(
        f"{base}/api/v1/plans",
        json={
            "region_id": server["region_id"],
            "date": server["today"],
            "time_limit_s": 3,
            "solution_limit": 50,
        },
        headers=auth,
        timeout=60,
    )
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 60
    while (run := httpx.get(f"{base}{r.headers['Location']}", headers=auth).json())["status"] != "published":
        assert run["status"] not in ("failed", "superseded") and time.monotonic() < deadline, run
        time.sleep(0.3)
    assert run["summary"]["served"] == 3, run["summary"]


@pytest.fixture(scope="module")
def server() -> Iterator[dict[str, Any]]:
    with running_server(_seed) as info:
        _publish_today(info)
        yield info


@pytest.fixture
def van_server() -> Iterator[dict[str, Any]]:
    with running_server(partial(_seed, van_parts=True)) as info:
        _publish_today(info)
        yield info


def _engineer_phone(p: Any, server: dict[str, Any], **phone: Any) -> AbstractContextManager[Phone]:
    """The engineer's phone (tiles blocked: no internet here), signed in from "/": engineers land
    on their route."""
    return phone_page(p, server["base"], user=server["engineer_email"], lands="/field", **phone)


def _route_and_back(page: Any, server: dict[str, Any]) -> None:
    """To the route and back into the visit: the page opens it afresh."""
    page.get_by_role("link", name="‹ Route").click()
    page.wait_for_url(f"{server['base']}/field*")
    page.locator(f'ol.stops a[href="/field/visits/{server["visit_id"]}"]').click()
    page.wait_for_url(f"{server['base']}/field/visits/{server['visit_id']}")


def _assert_fits_the_phone(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"page is {width}px wide at a {PHONE['width']}px viewport"


def test_engineer_works_through_the_day_on_a_phone(server: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    base = server["base"]
    here = {"latitude": 48.1501, "longitude": 11.5801}
    with (
        sync_api.sync_playwright() as p,
        _engineer_phone(p, server, geolocation=here, permissions=["geolocation"]) as (page, errors),
    ):
        # The route as a list, in order, and on the Leaflet map (plain background, no tiles).
        stops = page.locator("ol.stops > li")
        sync_api.expect(stops.filter(has_text="Pick up at")).to_have_count(1)
        places = page.locator("ol.stops > li:not(.break)").count()
        assert places >= 2  # the pickup and at least the visit that needs the part
        sync_api.expect(page.locator("#route-map.leaflet-container")).to_be_visible()
        sync_api.expect(page.locator("#route-map .stop-pin")).to_have_count(places)
        assert page.locator("#route-map path.leaflet-interactive").count() == 1  # the route line
        sync_api.expect(page.get_by_role("heading", name="Parts to pick up")).to_be_visible()
        navigate = stops.filter(has_text=server["customer"]).first.get_by_role("link", name="Navigate")
        assert "google.com/maps/dir/" in (navigate.get_attribute("href") or "")
        page.screenshot(path=str(ARTIFACTS / "field-route-360.png"), full_page=True)
        _assert_fits_the_phone(page)

        # Tap the stop that needs the part: the visit's file.
        page.locator(f'ol.stops a[href="/field/visits/{server["visit_id"]}"]').click()
        page.wait_for_url(f"{base}/field/visits/{server['visit_id']}")
        sync_api.expect(page.get_by_role("heading", level=1)).to_have_text(server["customer"])
        sync_api.expect(page.locator("body")).to_contain_text("pick up at")
        page.get_by_role("button", name="I picked these up").click()
        sync_api.expect(page.get_by_role("status")).to_contain_text("Pickup confirmed")
        sync_api.expect(page.locator("body")).to_contain_text("picked up")

        page.get_by_role("button", name="On my way").click()
        sync_api.expect(page.get_by_role("status")).to_contain_text("on your way")
        page.get_by_role("button", name="Check in").click()
        sync_api.expect(page.get_by_role("status")).to_contain_text("Checked in.")
        sync_api.expect(page.locator(".facts")).to_contain_text("On site")
        page.screenshot(path=str(ARTIFACTS / "field-visit-360.png"), full_page=True)
        _assert_fits_the_phone(page)

        # drafts.js (deferred) has run, so it holds the typing when the page reloads below: a
        # reload can come before it ran (test_a_report_typed_before_the_page_script_ran_is_kept
        # covers typing early)
        page.wait_for_load_state()
        page.get_by_label("Work done").fill("Replaced the control board; tested two cycles.")
        # the page reloading for another of its forms (a pickup confirmed late) keeps the report
        page.reload()
        sync_api.expect(page.get_by_label("Work done")).to_have_value(
            "Replaced the control board; tested two cycles."
        )
        page.get_by_label(f"× {server['part']}").fill("1")
        page.get_by_label("Yes, fixed").check()
        page.get_by_role("button", name="File report and close visit").click()
        sync_api.expect(page.get_by_role("status")).to_contain_text("Service report filed")
        sync_api.expect(page.locator(".facts")).to_contain_text("Done")
        sync_api.expect(page.locator("body")).to_contain_text("Replaced the control board")

        # Back on the route the visit shows as done.
        page.get_by_role("link", name="‹ Route").click()
        sync_api.expect(page.locator("ol.stops")).to_contain_text("Done")
        assert errors == [], f"browser console errors: {errors}"


def test_route_shows_as_a_sketch_when_the_map_library_cannot_load(server: dict[str, Any]) -> None:
    with sync_api.sync_playwright() as p, _engineer_phone(p, server, block=(LEAFLET,)) as (page, _):
        sketch = page.locator("#route-map svg.sketch")
        sync_api.expect(sketch).to_be_visible()
        assert sketch.locator("circle").count() >= 1
        page.screenshot(path=str(ARTIFACTS / "field-route-sketch-360.png"), full_page=True)
        _assert_fits_the_phone(page)


def _seed_with_a_break(url: str) -> dict[str, Any]:
    """One engineer with the skill (ELEC), Mon–Fri 08–17 with a break at 12:00: three two-hour
    visits on next week's Monday, so the break falls between two of them."""
    engine = migrated(url)
    try:
        with Session(engine) as db:
            tz = "Europe/Berlin"
            w = pw.build(db, jobs=0, tz=tz)
            for s in db.query(pw.m.Shift).filter(pw.m.Shift.engineer_id == w.engineers[1].id):
                s.break_starts, s.break_ends = pw.time(12), pw.time(12, 30)
            for i in range(3):
                pw.add_visit(db, w, lat=48.13 + 0.01 * i, lon=11.55, skill="ELEC", duration_min=120)
            engineer = w.users[1]
            engineer.email, engineer.password_hash = "breaks@browser.example", hash_password(PASSWORD)
            dispatcher = pw.f.make_user(
                db, role="dispatcher", email="dispatch@browser.example", password=PASSWORD
            )
            db.commit()
            return {
                "region_id": w.region.id,
                "today": pw.next_weekday(0, tz).isoformat(),
                "engineer_email": engineer.email,
                "dispatcher_email": dispatcher.email,
            }
    finally:
        engine.dispose()


def test_route_numbers_the_visits_and_not_the_break() -> None:
    """The break took a number: "3 visits", the visit after the break numbered 4 in the list and on
    the map."""
    with running_server(_seed_with_a_break) as day, sync_api.sync_playwright() as p:
        _publish_today(day)  # its own day: the three visits, all served
        with _engineer_phone(p, day) as (page, errors):
            page.goto(f"{day['base']}/field?day={day['today']}")
            stops = page.locator("ol.stops > li")
            kinds = [(c or "").split()[1] for c in stops.evaluate_all("ls => ls.map(l => l.className)")]
            assert "break" in kinds[1:-1], kinds  # between two visits
            marks = [m.strip() for m in page.locator("ol.stops > li .seq").all_inner_texts()]
            assert [m for k, m in zip(kinds, marks, strict=True) if k == "job"] == ["1", "2", "3"], marks
            assert marks[kinds.index("break")] == ""
            sync_api.expect(page.locator(".route-head")).to_contain_text("3 visits")
            sync_api.expect(page.locator("#route-map.leaflet-container")).to_be_visible()
            pins = page.locator("#route-map .stop-pin.job span")
            sync_api.expect(pins).to_have_count(3)
            assert sorted(pins.all_inner_texts()) == ["1", "2", "3"]
            page.screenshot(path=str(ARTIFACTS / "field-route-break-360.png"), full_page=True)
            _assert_fits_the_phone(page)
            assert errors == [], errors
            # without the map library, the server's sketch numbers them the same way
            page.context.route(LEAFLET, lambda route: route.abort())
            page.reload()
            dots = page.locator("#route-map svg.sketch .dot.job text")
            assert sorted(dots.all_text_contents()) == ["1", "2", "3"]


def test_a_refused_report_is_kept_until_it_is_filed(van_server: dict[str, Any]) -> None:
    """The report's draft goes when the report is filed, not when it is sent: refused for a missing
    "Fixed first time?", it is still there after the route and back, every field of it."""
    server = van_server
    base = server["base"]
    visit = f"{base}/field/visits/{server['visit_id']}"
    fan, seal = server["van_parts"]
    with sync_api.sync_playwright() as p, _engineer_phone(p, server) as (page, errors):
        page.goto(visit)
        page.get_by_role("button", name="Check in").click()
        sync_api.expect(page.get_by_role("status")).to_contain_text("Checked in.")

        page.get_by_label("Work done").fill("Work done")
        page.get_by_label("Other part 1", exact=True).select_option(label=f"{fan} (5 in van)")
        page.get_by_role("button", name="Add another part").click()
        page.get_by_label("Other part 2", exact=True).select_option(label=f"{seal} (5 in van)")
        page.get_by_label("Quantity of other part 2").fill("3")
        page.get_by_role("button", name="File report and close visit").click()
        sync_api.expect(page.get_by_role("alert")).to_contain_text("Fixed: say whether the problem is fixed")
        sync_api.expect(page.get_by_label("Work done")).to_have_value("Work done")

        # The route and back: the page opens the visit afresh, and the report is all back.
        _route_and_back(page, server)
        sync_api.expect(page.get_by_label("Work done")).to_have_value("Work done")
        sync_api.expect(page.locator("#report-form .draft-note")).to_contain_text("Your unsent text is back")
        chosen = page.get_by_label("Other part 1", exact=True).locator("option:checked")
        sync_api.expect(chosen).to_have_text(f"{fan} (5 in van)")
        # its row shows again
        sync_api.expect(page.get_by_label("Other part 2", exact=True)).to_be_visible()
        sync_api.expect(page.get_by_label("Quantity of other part 1")).to_have_value("1")
        sync_api.expect(page.get_by_label("Quantity of other part 2")).to_have_value("3")
        page.screenshot(path=str(ARTIFACTS / "field-visit-draft-360.png"), full_page=True)
        _assert_fits_the_phone(page)

        # The answer to "Fixed first time?" is kept too; the pickup's reload keeps it all.
        page.get_by_label("Yes, fixed").check()
        page.get_by_role("button", name="I picked these up").click()
        sync_api.expect(page.locator(".flash")).to_contain_text("Pickup confirmed")
        sync_api.expect(page.get_by_label("Yes, fixed")).to_be_checked()
        sync_api.expect(page.get_by_label("Quantity of other part 2")).to_have_value("3")
        sync_api.expect(page.get_by_label("Work done")).to_have_value("Work done")

        # Filed: the draft is done with, and the page does not offer it again.
        page.get_by_role("button", name="File report and close visit").click()
        sync_api.expect(page.locator(".flash")).to_contain_text("Service report filed")
        sync_api.expect(page.locator("body")).to_contain_text(f"3 × {seal}")
        page.wait_for_load_state()  # drafts.js (deferred) has settled what was sent
        kept = page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('fieldline.draft.'))")
        assert kept == [], kept
        # the refused report answers 422, which the console reports as a failed load
        errors = [e for e in errors if "status of 422" not in e]
        assert errors == [], f"browser console errors: {errors}"


def test_a_report_typed_before_the_page_script_ran_is_kept(van_server: dict[str, Any]) -> None:
    """On a slow phone the engineer types before the deferred drafts.js has run: that typing fired
    no listener, so the script keeps what the field holds when it starts. Here drafts.js is held
    back until after the typing, then loaded; the route and back still brings the text back."""
    server = van_server
    base = server["base"]
    visit = f"{base}/field/visits/{server['visit_id']}"
    with sync_api.sync_playwright() as p, _engineer_phone(p, server) as (page, _):
        page.goto(visit)
        page.get_by_role("button", name="Check in").click()
        sync_api.expect(page.get_by_role("status")).to_contain_text("Checked in.")
        with script_held_back(page, "drafts.js"):  # the checked-in page, typed into
            assert page.evaluate("Object.keys(sessionStorage).length") == 0
            page.get_by_label("Work done").fill("Replaced the fan motor")
        _route_and_back(page, server)
        sync_api.expect(page.get_by_label("Work done")).to_have_value("Replaced the fan motor")
        sync_api.expect(page.locator("#report-form .draft-note")).to_contain_text("Your unsent text is back")
