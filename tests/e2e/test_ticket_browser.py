"""The ticket page on a 360 px phone: a subject made of one very long word wraps instead of
widening the page, and the description shows in the header. Changes to the ticket not saved yet
and the knowledge box's text survive another form's reload, without a change someone else saved
meanwhile being overwritten unseen.

Runs Debian's /usr/bin/chromium through Playwright against a real uvicorn server (see browser.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from app.desk.tickets import service as tickets
from app.knowledge import articles
from tests import factories as f
from tests.e2e.browser import (
    ARTIFACTS,
    CHROMIUM,
    PASSWORD,
    TALL_PHONE,
    collect_errors,
    launch,
    migrated,
    phone_page,
    running_server,
    script_held_back,
    seed_session,
    sign_in,
)

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")

LONG_WORD = "Kühlmittelverdichterüberdruckabschaltungsfehlermeldung" * 3  # 162 letters, no break


def _seed(url: str) -> dict[str, Any]:
    engine = migrated(url)
    try:
        # the articles' index task runs on this database, not the test process's (seed_session)
        with seed_session(engine) as db:
            acc = f.make_account(db, name="Brauerei Gipfelglück GmbH")
            ticket = tickets.create_ticket(
                db,
                account_id=acc.id,
                subject=f"Alarm {LONG_WORD}",
                description=f"Display shows {LONG_WORD} since 06:00.",
                priority="P2",
                channel="phone",
                actor=None,
            )
            agent = f.make_user(db, role="agent", email="agent@browser.example", password=PASSWORD)
            other = f.make_user(db, role="agent", email="other@browser.example", password=PASSWORD)
            cooler = tickets.create_ticket(
                db,
                account_id=acc.id,
                subject="Cooler alarm",
                description="Cold room 2 beeps.",
                priority="P2",
                channel="phone",
                actor=None,
            )
            # a ticket a visit can be planned for (its machine has a site); another customer's, so
            # the tickets above still have none to choose
            region = f.make_region(db)
            freezer_co = f.make_account(db, region=region, name="Eiskeller Nord KG")
            freezer = f.make_asset(db, f.make_site(db, freezer_co))
            visit_ticket = tickets.create_ticket(
                db,
                account_id=freezer_co.id,
                asset_id=freezer.id,
                subject="Freezer door does not seal",
                priority="P3",
                channel="phone",
                actor=None,
            )
            for title, body in (
                ("UPS reports battery fault", "Replace battery modules older than four years."),
                ("Lift door does not close properly", "Clean the light curtain lenses and the door sill."),
            ):
                articles.create_article(
                    db, values={"title": title, "body": body, "status": "published"}, actor=agent
                )
            db.commit()
            return {
                "ticket_id": ticket.id,
                "agent_email": agent.email,
                "other_email": other.email,
                "cooler_id": cooler.id,
                "visit_ticket_id": visit_ticket.id,
            }
    finally:
        engine.dispose()


@pytest.fixture
def server() -> Iterator[dict[str, Any]]:
    with running_server(_seed) as info:
        yield info


def test_long_subject_wraps_on_a_phone_and_the_description_is_in_the_header(server: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    base = server["base"]
    ticket = f"/desk/tickets/{server['ticket_id']}"
    with (
        sync_api.sync_playwright() as pw,
        phone_page(pw, base, user=server["agent_email"], path=ticket, viewport=TALL_PHONE) as (page, errors),
    ):
        heading = page.get_by_role("heading", level=1)
        sync_api.expect(heading).to_contain_text("Alarm Kühlmittel")
        header = page.locator("section[aria-labelledby='ticket-title']")
        sync_api.expect(header.locator(".description")).to_contain_text("Display shows")
        page.screenshot(path=str(ARTIFACTS / "desk-ticket-long-subject-360.png"), full_page=True)
        box = heading.bounding_box()
        assert box is not None and box["x"] + box["width"] <= 360
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"page is {width}px wide at a 360px viewport"
        assert errors == [], f"browser console errors: {errors}"


def test_unsaved_edits_and_the_knowledge_box_come_back_after_another_form(server: dict[str, Any]) -> None:
    base, ticket_id = server["base"], server["cooler_id"]
    api = f"{base}/api/v1/tickets/{ticket_id}"
    token = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": server["other_email"], "password": PASSWORD}
    ).json()["access_token"]
    other = {"Authorization": f"Bearer {token}"}
    with sync_api.sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            errors = collect_errors(page)
            sign_in(page, base, f"/desk/tickets/{ticket_id}", server["agent_email"])
            edit = page.locator('form[action$="/edit"]')
            opened_version = edit.locator('[name="version"]').input_value()
            page.locator("#edit-title").click()  # "Edit ticket" opens
            page.get_by_label("Subject", exact=True).fill("Cooler alarm E42, cold room 2")
            page.get_by_label("Priority", exact=True).select_option("P1")
            box = page.get_by_label("Describe the problem")
            box.fill("battery fault")
            ups = page.locator("#kb-suggestions li").first
            sync_api.expect(ups.locator("a.title")).to_have_text("UPS reports battery fault", timeout=10000)

            # Meanwhile someone else sets the priority (which the agent changed too) and the category.
            current = httpx.get(api, headers=other)
            changed = httpx.patch(
                api,
                json={"priority": "P4", "category": "cooling"},
                headers={**other, "If-Match": current.headers["ETag"]},
            )
            assert changed.status_code == 200, changed.text

            # "Not helpful" reloads the page: the box and the unsaved changes are back, with the note.
            ups.get_by_role("button", name="Not helpful").click()
            page.wait_for_url(f"{base}/desk/tickets/{ticket_id}?*")
            sync_api.expect(box).to_have_value("battery fault")
            # the suggestions follow the box again (the page drew the subject's: none)
            sync_api.expect(ups.locator("a.title")).to_have_text("UPS reports battery fault", timeout=10000)
            sync_api.expect(ups).to_contain_text("marked not helpful")
            kb_note = page.locator("#kb-panel .draft-note")
            sync_api.expect(kb_note).to_contain_text("Your unsent text is back")
            sync_api.expect(page.get_by_label("Subject", exact=True)).to_be_visible()  # unfolded
            sync_api.expect(page.get_by_label("Subject", exact=True)).to_have_value(
                "Cooler alarm E42, cold room 2"
            )
            sync_api.expect(page.get_by_label("Priority", exact=True)).to_have_value("P1")
            # fields the agent left alone show what is saved now, someone else's change included
            sync_api.expect(page.get_by_label("Category", exact=True)).to_have_value("cooling")
            sync_api.expect(page.locator("#edit-description")).to_have_value("Cold room 2 beeps.")
            edit_note = edit.locator(".draft-note")
            sync_api.expect(edit_note).to_contain_text("Your unsent text is back")
            sync_api.expect(edit_note).to_contain_text("Priority was saved with another value")
            # The hidden "opened with" values: as rendered for the fields nobody else changed; the
            # priority keeps the value it was typed against, and the form the version it was opened
            # with, so the save is checked against what was saved meanwhile.
            hidden = edit.evaluate(
                "f => Object.fromEntries([...f.querySelectorAll('input[type=hidden]')]"
                ".filter(i => i.name !== 'csrf').map(i => [i.name, i.value]))"
            )
            assert hidden["base_subject"] == "Cooler alarm" and hidden["base_category"] == "cooling"
            assert hidden["base_priority"] == "P2" and hidden["version"] == opened_version, hidden

            # Saving shows the clash instead of overwriting P4 unseen; nothing is saved yet.
            page.get_by_role("button", name="Save changes").click()
            sync_api.expect(
                page.get_by_role("heading", name="Someone else changed this ticket")
            ).to_be_visible()
            # drafts.js (deferred) has run: it would have put a note here, and Save below must be
            # heard by its submit listener (else the success page does not know the draft was saved)
            page.wait_for_load_state()
            clash = page.locator("table.stackable tbody tr")
            sync_api.expect(clash).to_have_count(1)
            sync_api.expect(clash).to_contain_text("P4")
            sync_api.expect(clash).to_contain_text("P1")
            saved = httpx.get(api, headers=other).json()
            assert (saved["priority"], saved["category"], saved["subject"]) == (
                "P4",
                "cooling",
                "Cooler alarm",
            )
            # the conflict page holds the input; the draft stays until a save succeeds (it is not
            # put over the input shown)
            draft = f"sessionStorage.getItem('fieldline.draft.ticket-{ticket_id}-edit')"
            assert page.evaluate(draft) is not None
            sync_api.expect(edit.locator(".draft-note")).to_have_count(0)
            page.get_by_role("button", name="Save changes").click()  # the agent keeps P1
            sync_api.expect(page.locator(".flash")).to_contain_text("saved")
            page.wait_for_load_state()  # drafts.js (deferred) has settled what was sent
            assert page.evaluate(draft) is None
            saved = httpx.get(api, headers=other).json()
            assert (saved["priority"], saved["category"], saved["subject"]) == (
                "P1",
                "cooling",
                "Cooler alarm E42, cold room 2",
            )

            # Nothing changed meanwhile: the change comes back quietly, over the same baseline,
            # and "Discard it" puts the saved values back.
            page.locator("#edit-title").click()
            page.locator("#edit-description").fill("Cold room 2 beeps every minute.")
            page.locator("#note-text").fill("Called the customer back.")
            page.get_by_role("button", name="Add note").click()
            page.wait_for_url(f"{base}/desk/tickets/{ticket_id}?*")
            description = page.locator("#edit-description")
            sync_api.expect(description).to_have_value("Cold room 2 beeps every minute.")
            sync_api.expect(edit_note).to_have_text("Your unsent text is back. Discard it")
            version = httpx.get(api, headers=other).json()["version"]
            assert edit.locator('[name="version"]').input_value() == str(version)
            edit_note.get_by_role("button", name="Discard it").click()
            sync_api.expect(description).to_have_value("Cold room 2 beeps.")
            assert page.evaluate(f"sessionStorage.getItem('fieldline.draft.ticket-{ticket_id}-edit')") is None

            # The box's text goes once an article solved the call.
            sync_api.expect(box).to_have_value("battery fault")
            page.once("dialog", lambda d: d.accept())
            page.locator("#kb-suggestions li").filter(has_text="UPS reports battery fault").get_by_role(
                "button", name="This solved it"
            ).click()
            page.wait_for_url(f"{base}/desk/tickets/{ticket_id}?done=kb*")
            sync_api.expect(box).to_have_value("Cooler alarm E42, cold room 2")
            sync_api.expect(page.locator(".draft-note")).to_have_count(0)
            # the conflict page itself answers 409, which the console reports as a failed load
            errors = [e for e in errors if "status of 409" not in e]
            assert errors == [], f"browser console errors: {errors}"
        finally:
            browser.close()


def test_a_refused_work_order_is_kept_until_it_is_created(server: dict[str, Any]) -> None:
    """Every field of the work-order form is kept, and kept over a refusal: the draft goes once
    the work order is created, not when the form is sent."""
    base, ticket_id = server["base"], server["visit_ticket_id"]
    url = f"{base}/desk/tickets/{ticket_id}"
    keys = "Object.keys(sessionStorage).filter(k => k.startsWith('fieldline.draft.'))"
    start = f"{date.today() + timedelta(days=3)}T09:00"
    with sync_api.sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            errors = collect_errors(page)
            sign_in(page, base, f"/desk/tickets/{ticket_id}", server["agent_email"])
            duration, notes = page.locator("#wo-duration"), page.locator("#wo-notes")
            begins, ends = page.locator("#wo-start"), page.locator("#wo-end")
            page.locator("summary", has_text="Create work order").click()  # the section opens
            duration.fill("90")
            begins.fill(start)
            notes.fill("Bring the long ladder.")
            page.get_by_role("button", name="Create work order").click()  # no "until": refused
            sync_api.expect(page.get_by_role("alert")).to_contain_text("give both")
            sync_api.expect(notes).to_have_value("Bring the long ladder.")

            # The ticket opened afresh (a link, the queue and back) has the whole form back.
            page.goto(url)
            sync_api.expect(duration).to_have_value("90")
            sync_api.expect(begins).to_have_value(start)
            sync_api.expect(notes).to_have_value("Bring the long ladder.")
            wo_note = page.locator('form[action$="/work-orders"] .draft-note')
            sync_api.expect(wo_note).to_contain_text("Your unsent text is back")
            # "Discard it" puts back the whole form as the page draws it
            page.locator("summary", has_text="Create work order").click()
            wo_note.get_by_role("button", name="Discard it").click()
            sync_api.expect(duration).to_have_value("60")
            sync_api.expect(begins).to_have_value("")
            sync_api.expect(notes).to_have_value("")
            assert page.evaluate(keys) == []

            # Typed again, with the reply kept aside: created, the form's draft goes, the reply's stays.
            page.locator("#reply-text").fill("We send an engineer.")
            duration.fill("90")
            begins.fill(start)
            ends.fill(f"{date.today() + timedelta(days=3)}T11:00")
            notes.fill("Bring the long ladder.")
            page.reload()
            sync_api.expect(ends).to_have_value(f"{date.today() + timedelta(days=3)}T11:00")
            page.locator("summary", has_text="Create work order").click()
            page.get_by_role("button", name="Create work order").click()
            sync_api.expect(page.locator(".flash")).to_contain_text("Work order created.")
            page.wait_for_load_state()  # drafts.js (deferred) has settled what was sent
            sync_api.expect(duration).to_have_value("60")
            sync_api.expect(begins).to_have_value("")
            sync_api.expect(notes).to_have_value("")
            sync_api.expect(page.locator("#reply-text")).to_have_value("We send an engineer.")
            assert page.evaluate(keys) == [f"fieldline.draft.ticket-{ticket_id}-reply"]
            # the refused form answers 422, which the console reports as a failed load
            errors = [e for e in errors if "status of 422" not in e]
            assert errors == [], f"browser console errors: {errors}"
        finally:
            browser.close()


def test_an_edit_made_before_the_draft_script_ran_is_kept(server: dict[str, Any]) -> None:
    """On a slow phone the agent opens "Edit ticket" and changes the subject before the deferred
    drafts.js has run: no listener heard it, so the script keeps the change when it starts. Here
    drafts.js is held back until after the typing; the ticket opened afresh has the change back."""
    base, ticket_id = server["base"], server["cooler_id"]
    url = f"{base}/desk/tickets/{ticket_id}"
    with sync_api.sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            sign_in(page, base, f"/desk/tickets/{ticket_id}", server["agent_email"])
            with script_held_back(page, "drafts.js"):
                page.locator("#edit-title").click()  # "Edit ticket" opens
                page.get_by_label("Subject", exact=True).fill("Cooler alarm, cold room 2")
                page.get_by_label("Priority", exact=True).select_option("P1")
            page.goto(url)
            sync_api.expect(page.get_by_label("Subject", exact=True)).to_have_value(
                "Cooler alarm, cold room 2"
            )
            sync_api.expect(page.get_by_label("Priority", exact=True)).to_have_value("P1")
            sync_api.expect(page.locator('form[action$="/edit"] .draft-note')).to_have_text(
                "Your unsent text is back. Discard it"
            )
        finally:
            browser.close()
