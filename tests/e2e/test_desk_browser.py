"""The desk in a real browser: sign in, find a customer by phone, open the 360, create a ticket.

Runs Debian's /usr/bin/chromium through Playwright against a real uvicorn server on a
temporary, migrated SQLite file that this test seeds and removes. Screenshots (360 px wide)
go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

import app.desk.customers.keys  # noqa: F401  (its flush hook derives the contacts' phone search keys)
from tests import factories as f
from tests.e2e.browser import (
    ARTIFACTS,
    CHROMIUM,
    PASSWORD,
    TALL_PHONE,
    migrated,
    phone_page,
    running_server,
    script_held_back,
)

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")


def _seed(url: str) -> dict[str, Any]:
    """Migrate the file with Alembic and commit a small customer world."""
    engine = migrated(url)
    try:
        with Session(engine) as db:
            region = f.make_region(db, name="Bayern Süd")
            cal = f.make_calendar(db, always_open=True)
            acc = f.make_account(db, region=region, name="Brauerei Gipfelglück GmbH", tier="gold")
            f.make_account(db, region=region, name="Gipfel Logistik AG", tier="silver")
            site = f.make_site(db, acc, name="Sudhaus Rosenheim", address="Brauweg 3, 83022 Rosenheim")
            contract = f.make_contract(db, acc, cal, tier="gold", number="C-GIPFEL-1")
            contact = f.make_contact(db, acc, name="Jana Weber", phone="+49 8031 2345-67")
            asset = f.make_asset(db, site, contract=contract, serial="SN-KUEHL-0042")
            agent = f.make_user(
                db, role="agent", email="agent@browser.example", password=PASSWORD, name="Alma Agent"
            )
            db.commit()
            return {
                "account_id": acc.id,
                "contact_id": contact.id,
                "asset_id": asset.id,
                "agent_email": agent.email,
            }
    finally:
        engine.dispose()


@pytest.fixture
def server() -> Iterator[dict[str, Any]]:
    with running_server(_seed) as info:
        yield info


def test_agent_finds_customer_by_phone_and_opens_a_ticket(server: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    base = server["base"]
    with sync_api.sync_playwright() as pw, phone_page(pw, base, viewport=TALL_PHONE) as (page, errors):
        page.goto(f"{base}/")
        assert "/login" in page.url
        page.get_by_label("E-mail").fill(server["agent_email"])
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{base}/")

        # another way of writing the number than the one stored: the search normalises it
        page.get_by_role("searchbox").fill("08031 234567")
        hit = page.locator("#results a", has_text="Brauerei Gipfelglück GmbH")
        hit.wait_for(timeout=10_000)
        assert page.url.startswith(f"{base}/?q=")  # as-you-type, no page load
        page.screenshot(path=str(ARTIFACTS / "desk-search-360.png"), full_page=True)
        hit.click()
        # the hit opens the 360 with the caller preselected in the new-ticket form
        page.wait_for_url(f"{base}/desk/customers/{server['account_id']}?contact={server['contact_id']}")
        sync_api.expect(page.get_by_role("heading", level=1)).to_contain_text("Brauerei Gipfelglück")
        sync_api.expect(page.locator('a[href^="tel:"]').first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "desk-customer-360.png"), full_page=True)

        sync_api.expect(page.get_by_label("Contact", exact=True)).to_have_value(str(server["contact_id"]))
        page.get_by_label("Asset", exact=True).select_option(str(server["asset_id"]))
        page.get_by_label("Subject", exact=True).fill("Cooling unit alarm E42")
        page.get_by_label("Description", exact=True).fill(
            "Unit shows E42 since 06:00; beer temperature rising."
        )
        page.get_by_label("Priority", exact=True).select_option("P1")
        page.get_by_role("button", name="Create ticket").click()
        page.wait_for_url(f"{base}/desk/tickets/*")
        sync_api.expect(page.get_by_role("heading", level=1)).to_have_text("Cooling unit alarm E42")
        sync_api.expect(page.get_by_role("status")).to_contain_text("Ticket created.")
        sync_api.expect(page.locator(".facts")).to_contain_text("P1")
        page.screenshot(path=str(ARTIFACTS / "desk-ticket-360.png"), full_page=True)

        # Text typed but not sent survives another form on the page (each reloads the page):
        # it is back, said to be back, and gone once its own form is sent.
        page.locator("#reply-text").fill("We are on our way.")
        page.locator("#note-text").fill("Customer calls back at 14:00.")
        page.locator("#call-title").click()  # "Log a call" opens
        page.locator("#call-duration").fill("7")  # a short field comes back too
        page.locator('form[action$="/edit"]').evaluate("f => f.requestSubmit()")
        page.wait_for_url(f"{base}/desk/tickets/*")
        sync_api.expect(page.locator("#note-text")).to_have_value("Customer calls back at 14:00.")
        sync_api.expect(page.locator("#reply-text")).to_have_value("We are on our way.")
        sync_api.expect(page.locator("#call-duration")).to_have_value("7")  # in its closed section
        sync_api.expect(page.locator(".draft-note").first).to_contain_text("Your unsent text is back")
        page.get_by_role("button", name="Add note").click()
        page.wait_for_url(f"{base}/desk/tickets/*")
        sync_api.expect(page.locator("ol.timeline")).to_contain_text("Customer calls back at 14:00.")
        sync_api.expect(page.locator("#note-text")).to_have_value("")
        sync_api.expect(page.locator("#reply-text")).to_have_value("We are on our way.")
        page.locator("#reply-text").locator("xpath=following-sibling::p[1]").get_by_role(
            "button", name="Discard it"
        ).click()
        sync_api.expect(page.locator("#reply-text")).to_have_value("")

        # the page is no wider than the phone: nothing scrolls sideways
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"page is {width}px wide at a 360px viewport"
        for path in ("/desk/queue?view=unassigned", "/kb"):  # wide lists scroll inside themselves
            page.goto(f"{base}{path}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"{path} is {width}px wide at a 360px viewport"
        assert errors == [], f"browser console errors: {errors}"


def test_a_new_ticket_being_typed_on_the_customer_page_is_kept(server: dict[str, Any]) -> None:
    """The new-ticket form keeps what is typed over a reload, per customer and asset, until the
    ticket is created."""
    base, account = server["base"], server["account_id"]
    for_asset = f"{base}/desk/customers/{account}?asset={server['asset_id']}"
    agent, customer = server["agent_email"], f"/desk/customers/{account}"
    with (
        sync_api.sync_playwright() as pw,
        phone_page(pw, base, user=agent, path=customer, viewport=TALL_PHONE) as (page, errors),
    ):
        page.goto(for_asset)
        subject, description = page.get_by_label("Subject", exact=True), page.get_by_label("Description")
        priority = page.get_by_label("Priority", exact=True)
        sync_api.expect(page.get_by_label("Asset", exact=True)).to_have_value(str(server["asset_id"]))
        subject.fill("Compressor loud")
        description.fill("Rattles since the weekend.")
        priority.select_option("P2")
        page.reload()
        sync_api.expect(subject).to_have_value("Compressor loud")
        sync_api.expect(description).to_have_value("Rattles since the weekend.")
        sync_api.expect(priority).to_have_value("P2")
        sync_api.expect(page.locator("#new-ticket .draft-note")).to_contain_text("Your unsent text is back")

        # the same customer without that asset starts empty: the draft is about that machine
        page.goto(f"{base}/desk/customers/{account}")
        sync_api.expect(subject).to_have_value("")
        sync_api.expect(page.locator(".draft-note")).to_have_count(0)

        # created: the draft goes, and the form opens empty again
        page.goto(for_asset)
        sync_api.expect(subject).to_have_value("Compressor loud")
        page.get_by_role("button", name="Create ticket").click()
        page.wait_for_url(f"{base}/desk/tickets/*")
        sync_api.expect(page.locator(".flash")).to_contain_text("Ticket created.")
        sync_api.expect(page.locator(".facts")).to_contain_text("P2")
        page.wait_for_load_state()  # drafts.js (deferred) has settled what was sent
        page.goto(for_asset)
        sync_api.expect(subject).to_have_value("")
        sync_api.expect(description).to_have_value("")
        sync_api.expect(priority).to_have_value("P3")
        sync_api.expect(page.locator(".draft-note")).to_have_count(0)
        assert errors == [], f"browser console errors: {errors}"


def test_a_number_typed_before_the_search_script_ran_is_looked_up(server: dict[str, Any]) -> None:
    """The search box has the focus as the page opens: on a slow phone the agent types the caller's
    number before the deferred search.js has run, and that typing reached no listener. The script
    looks up what the box holds when it starts. Here search.js is held back until after the typing."""
    base = server["base"]
    with (
        sync_api.sync_playwright() as pw,
        phone_page(pw, base, user=server["agent_email"], viewport=TALL_PHONE) as (page, _),
    ):
        with script_held_back(page, "search.js"):
            page.get_by_role("searchbox").fill("08031 234567")
        sync_api.expect(page.locator("#results a", has_text="Brauerei Gipfelglück GmbH")).to_be_visible()
        sync_api.expect(page).to_have_url(f"{base}/?q=08031%20234567")  # as-you-type, no page load
