"""Knowledge suggestions on the ticket page in Chromium: the agent types a symptom, the right article
appears (debounced GET with the page cookie), "This solved it" (a page form with CSRF) resolves the
ticket with it, and first-contact resolution is shown and stored.

Runs Debian's /usr/bin/chromium through Playwright against a real uvicorn server (see browser.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.knowledge import articles
from app.knowledge.index import process_cache, read_state
from app.models import Asset, KbTicketFeedback, OutboxMessage, Ticket, TicketEvent
from app.platform.db import make_engine
from tests import factories as f
from tests.e2e.browser import (
    ARTIFACTS,
    CHROMIUM,
    PASSWORD,
    collect_errors,
    launch,
    migrated,
    running_server,
    script_held_back,
    seed_session,
    sign_in,
)

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")

RIGHT = "Heat pump shows fault F.75: no heating"
DESKTOP = {"width": 1280, "height": 900}
NARROW = {"width": 390, "height": 844}  # a large phone


def _ticket(db: Session, asset: Asset, subject: str) -> Ticket:
    """A P3 phone ticket about the asset, from its customer, with no description."""
    return tickets.create_ticket(
        db,
        account_id=asset.account_id,
        asset_id=asset.id,
        subject=subject,
        description="",
        priority="P3",
        channel="phone",
        actor=None,
    )


def _seed(url: str) -> dict[str, Any]:
    engine = migrated(url)
    try:
        # the article's index task runs on this database, not the test process's (seed_session)
        with seed_session(engine) as db:
            region = f.make_region(db)
            acc = f.make_account(db, name="Hotel Seeblick", region=region)
            site = f.make_site(db, acc, region=region)
            pm = f.make_product_model(db, code="HP-AROT", name="aroTHERM plus")
            asset = f.make_asset(db, site, product_model=pm)
            ticket = _ticket(db, asset, "Anruf")
            # a ticket whose subject the page's own suggestions answer (drawn before any script ran)
            reply_ticket = _ticket(db, asset, "Display shows F.75, no heating")
            # one for "Not helpful" with the reply and the knowledge box typed before the scripts ran
            noted_ticket = _ticket(db, asset, "Display shows F.75, no heating")
            agent = f.make_user(db, role="agent", email="agent@kb-browser.example", password=PASSWORD)
            for title, body in (
                (RIGHT, "The display shows F.75. Low system pressure: refill to 1.5 bar and vent radiators."),
                ("Lift door does not close properly", "Clean the light curtain lenses and the door sill."),
                ("UPS reports battery fault", "Replace battery modules older than four years."),
            ):
                articles.create_article(
                    db, values={"title": title, "body": body, "status": "published"}, actor=agent
                )
            db.commit()
            return {
                "ticket_id": ticket.id,
                "reply_ticket_id": reply_ticket.id,
                "noted_ticket_id": noted_ticket.id,
                "agent_email": agent.email,
                "url": url,
            }
    finally:
        engine.dispose()


@contextmanager
def _server_db(url: str) -> Iterator[Session]:
    """A session on the SQLite file at `url`: what the seed, or the server on it, stored there."""
    engine = make_engine(url)
    try:
        with Session(engine) as db:
            yield db
    finally:
        engine.dispose()


def test_seeding_runs_the_index_task_on_the_seeds_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The articles' commit sends `fieldline.kb.persist_index` (run inline in tests). Seeded through a
    plain Session on the seed's engine, it ran on this test process's database: "no such table
    kb_index_state" logged during set-up (on PostgreSQL "outbox_message"), the seed's outbox row kept,
    its index never persisted. Now it runs where the articles are."""
    caplog.set_level(logging.WARNING)
    url = f"sqlite:///{tmp_path / 'seed.db'}"
    _seed(url)
    problems = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.WARNING]
    assert problems == []
    with _server_db(url) as db:
        version, token = read_state(db)
        left = db.scalar(select(func.count()).select_from(OutboxMessage))
    assert version == 3 and left == 0  # three articles; the published task's row deleted
    folder = process_cache().directory
    assert folder is not None and list((folder / token).glob(f"v{version}-*/index.zip"))


@contextmanager
def _agent_on(
    server: dict[str, Any],
    path: str,
    viewport: dict[str, int] = DESKTOP,
    ignore: Callable[[str], bool] = lambda url: False,
) -> Iterator[tuple[Any, list[str]]]:
    """The agent signed in on `path` in a Chromium of its own, closed when the block ends, and the
    page's console errors from before the sign-in on (`ignore`d URLs left out: not `open_phone`'s
    errors, as the tests holding scripts back make their failed loads on purpose)."""
    with sync_api.sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_context(viewport=viewport).new_page()
            errors = collect_errors(page, ignore)
            sign_in(page, server["base"], path, server["agent_email"])
            yield page, errors
        finally:
            browser.close()


def _held_back(url: str) -> bool:
    """A page script's URL: the tests holding scripts back make them fail to load on purpose (any
    other console error counts)."""
    return "/static/js/" in url


@pytest.fixture
def server() -> Iterator[dict[str, Any]]:
    # BM25 only (tests/conftest.py): the browser flow is under test, not the re-ranker
    with running_server(_seed) as info:
        yield info


def test_type_a_symptom_see_the_article_mark_it_solved_first_contact(server: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    base, ticket_id = server["base"], server["ticket_id"]
    with _agent_on(server, f"/desk/tickets/{ticket_id}") as (page, errors):
        box = page.get_by_label("Describe the problem")
        box.fill("")
        box.press_sequentially("house is cold, display shows F.75", delay=20)
        first = page.locator("#kb-suggestions li").first
        sync_api.expect(first.locator("a.title")).to_have_text(RIGHT, timeout=10000)
        sync_api.expect(first.locator("mark").first).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "kb-suggestions.png"), full_page=True)

        # another symptom redraws the list
        box.fill("lift door keeps opening")
        sync_api.expect(page.locator("#kb-suggestions li").first.locator("a.title")).to_have_text(
            "Lift door does not close properly", timeout=10000
        )
        box.fill("display shows F.75")
        sync_api.expect(first.locator("a.title")).to_have_text(RIGHT, timeout=10000)

        # The click asks first (it resolves the ticket and e-mails the customer): "Cancel" does
        # nothing, "OK" resolves.
        asked: list[str] = []

        def answer(dialog: Any, accept: bool) -> None:
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        page.once("dialog", lambda d: answer(d, False))
        first.get_by_role("button", name="This solved it").click()
        page.wait_for_timeout(300)
        # the seeded ticket has no contact: the dialog says nothing is mailed, and why
        assert len(asked) == 1 and "No e-mail goes out: the ticket has no contact." in asked[0]
        assert "done=" not in page.url and page.locator("#kb-solved").count() == 0
        page.once("dialog", lambda d: answer(d, True))
        first.get_by_role("button", name="This solved it").click()
        page.wait_for_url(f"{base}/desk/tickets/{ticket_id}?done=kb_fcr*")
        assert len(asked) == 2
        sync_api.expect(page.locator(".flash")).to_contain_text("resolved at first contact")
        sync_api.expect(page.locator("#kb-solved")).to_contain_text("first-contact resolution")
        sync_api.expect(page.locator(".facts")).to_contain_text("Resolved")
        page.screenshot(path=str(ARTIFACTS / "kb-solved.png"), full_page=True)
        assert errors == [], f"browser console errors: {errors}"

    with _server_db(server["url"]) as db:
        ticket = db.get(Ticket, ticket_id)
        assert ticket is not None and ticket.status == "resolved"
        row = db.scalar(select(KbTicketFeedback).where(KbTicketFeedback.ticket_id == ticket_id))
        assert row is not None and row.verdict == "solved" and row.first_contact is True


def test_the_article_list_fits_a_phone_with_readable_titles(server: dict[str, Any]) -> None:
    """At 390 px the five columns squeezed each title to ~50 px, broken mid-word ("Chille / r trips"),
    and the table stood out of its card. Each article is a block there now, its title first."""
    with _agent_on(server, "/kb", NARROW) as (page, errors):
        table = page.locator("#kb-articles")
        title = table.get_by_role("link", name=RIGHT)
        sync_api.expect(title).to_be_visible()
        card, box, link = (
            table.locator("xpath=ancestor::*[contains(@class,'card')][1]").bounding_box(),
            table.bounding_box(),
            title.bounding_box(),
        )
        assert card and box and link
        assert box["x"] + box["width"] <= card["x"] + card["width"] + 0.5, (box, card)
        assert link["width"] >= 200, link  # the title takes the row's width, not a fifth of it
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        status = table.locator("tr", has=page.get_by_role("link", name=RIGHT)).locator("td").nth(1)
        assert status.evaluate("td => getComputedStyle(td, '::before').content") == '"Status: "'
        assert errors == []


def test_a_symptom_typed_before_the_suggestion_script_ran_is_asked_for(server: dict[str, Any]) -> None:
    """On a slow phone the agent types the symptom before the deferred kb-suggest.js has run: that
    typing reached no listener, so the script asks for what the box holds when it starts (the page
    drew the suggestions of the ticket's subject). Here kb-suggest.js is held back until then."""
    ticket_id = server["ticket_id"]
    with _agent_on(server, f"/desk/tickets/{ticket_id}") as (page, _):
        with script_held_back(page, "kb-suggest.js"):
            page.get_by_label("Describe the problem").fill("display shows F.75")
        first = page.locator("#kb-suggestions li").first
        sync_api.expect(first.locator("a.title")).to_have_text(RIGHT, timeout=10000)


def test_a_solved_form_sent_without_the_scripts_dialog_is_asked_on_the_page(server: dict[str, Any]) -> None:
    """A click before the deferred kb-suggest.js ran (a slow phone) or with scripts off sends "This
    solved it" without the dialog's confirmation: the page asks instead (Confirm / Cancel), nothing is
    resolved until Confirm, and Confirm asks nothing more. The symptom typed is kept over the question
    and goes once the ticket is solved (drafts.js: data-draft-done="kb_solved kb_fcr")."""
    base, ticket_id = server["base"], server["ticket_id"]
    with _agent_on(server, f"/desk/tickets/{ticket_id}", NARROW) as (page, errors):
        asked: list[str] = []
        page.on("dialog", lambda d: (asked.append(d.message), d.dismiss()))
        box = page.get_by_label("Describe the problem")
        box.fill("display shows F.75")
        first = page.locator("#kb-suggestions li").first
        sync_api.expect(first.locator("a.title")).to_have_text(RIGHT)
        # form.submit() fires no submit event: the button's form (the reply form) reaches the
        # server at the button's action as if no script had run
        first.get_by_role("button", name="This solved it").evaluate(
            "b => { b.form.action = b.formAction; b.form.submit(); }"
        )
        question = page.locator("#kb-confirm")
        sync_api.expect(question).to_contain_text("No e-mail goes out: the ticket has no contact.")
        sync_api.expect(question).to_be_in_viewport()  # Cancel is focused: the question is shown
        assert (
            page.locator("#kb-solved").count() == 0 and "Resolved" not in page.locator(".facts").inner_text()
        )
        sync_api.expect(box).to_have_value("display shows F.75")  # the draft is back
        page.screenshot(path=str(ARTIFACTS / "kb-solved-confirm.png"))  # what the agent sees

        question.get_by_role("button", name="Confirm").click()
        page.wait_for_url(f"{base}/desk/tickets/{ticket_id}?done=kb_fcr*")
        sync_api.expect(page.locator("#kb-solved")).to_contain_text("first-contact resolution")
        sync_api.expect(box).to_have_value("Anruf")  # solved: the draft went
        sync_api.expect(page.locator(".draft-note")).to_have_count(0)
        assert asked == []  # the page asked, the script did not ask again
        assert errors == [], f"browser console errors: {errors}"


REPLY = "Dear customer,\nplease refill the system to 1.5 bar and vent the radiators."


def test_a_reply_typed_before_the_scripts_ran_survives_this_solved_it(server: dict[str, Any]) -> None:
    """QA: the agent typed a reply, then clicked "This solved it" on a suggestion before the page's
    scripts ran (a slow phone; or scripts off): the server's question page drew the ticket with the
    reply box empty, the reply was lost. The button sends the reply form: the question, its Cancel
    and its Confirm draw the box as typed, and resolving never sends the reply."""
    ticket_id = server["reply_ticket_id"]
    with _agent_on(server, f"/desk/tickets/{ticket_id}", ignore=_held_back) as (page, errors):
        asked: list[str] = []
        page.on("dialog", lambda d: (asked.append(d.message), d.accept()))
        reply = page.locator("#reply-text")
        solved = (
            page.locator("#kb-suggestions li")
            .filter(has_text=RIGHT)
            .get_by_role("button", name="This solved it")
        )
        with script_held_back(page, "drafts.js"), script_held_back(page, "kb-suggest.js"):
            reply.fill(REPLY)
            solved.click()
            question = page.locator("#kb-confirm")
            sync_api.expect(question).to_contain_text("No e-mail goes out: the ticket has no contact.")
            sync_api.expect(reply).to_have_value(REPLY)  # was "": the typed reply was gone
        # the scripts arrive late: drafts.js keeps the reply the page drew (typed before it ran)
        key = f"fieldline.draft.ticket-{ticket_id}-reply"
        page.wait_for_function(f"sessionStorage.getItem('{key}') !== null")

        question.get_by_role("button", name="Cancel").click()  # asks nothing, changes nothing
        sync_api.expect(page.locator("#kb-confirm")).to_have_count(0)
        sync_api.expect(reply).to_have_value(REPLY)
        assert "Resolved" not in page.locator(".facts").inner_text()

        # now with the scripts: the dialog asks; the ticket is resolved, the reply stays unsent
        solved.click()
        sync_api.expect(page.locator(".flash")).to_contain_text(
            "resolved at first contact. Your reply was not sent: it is still in the reply box."
        )
        sync_api.expect(page.locator("#kb-solved")).to_contain_text("first-contact resolution")
        sync_api.expect(reply).to_have_value(REPLY)
        assert len(asked) == 1 and "Resolve this ticket with this article?" in asked[0]
        assert page.evaluate(f"sessionStorage.getItem('{key}')") == REPLY  # kept until sent
        assert errors == [], f"browser console errors: {errors}"

    with _server_db(server["url"]) as db:
        ticket = db.get(Ticket, ticket_id)
        assert ticket is not None and ticket.status == "resolved"
        bodies = db.scalars(select(TicketEvent.body).where(TicketEvent.ticket_id == ticket_id)).all()
        assert not any("refill the system" in body for body in bodies)  # the reply was not sent


LIFT = "Lift door does not close properly"


def _kept(page: Any, key: str) -> str | None:
    """drafts.js's draft under `key`, once the late script has kept it (polled from here: the page's
    CSP refuses the eval that wait_for_function's polling needs)."""
    for _ in range(50):
        value = page.evaluate("key => sessionStorage.getItem(key)", f"fieldline.draft.{key}")
        if value is not None:
            return str(value)
        page.wait_for_timeout(100)
    return None


def test_not_helpful_keeps_the_reply_and_the_symptom_typed_before_the_scripts_ran(
    server: dict[str, Any],
) -> None:
    """QA: a reply and a symptom typed, then "Not helpful" clicked before the page's scripts ran (or
    with scripts off): the verdict redirected, both boxes came back as the page starts them. Both are
    fields of the reply form now, whose button "Not helpful" is: the page answering draws them as
    typed (the suggestions those of the symptom), and drafts.js, arriving late, keeps them."""
    base, ticket_id = server["base"], server["noted_ticket_id"]
    with _agent_on(server, f"/desk/tickets/{ticket_id}", ignore=_held_back) as (page, errors):
        reply, box = page.locator("#reply-text"), page.locator("#kb-symptom")
        items = page.locator("#kb-suggestions li")
        with script_held_back(page, "drafts.js"), script_held_back(page, "kb-suggest.js"):
            reply.fill(REPLY)
            box.fill("lift door does not close")
            # Enter in the box (a field of the reply form) presses none of its buttons
            page.evaluate("window.stayed = true")
            box.press("Enter")
            page.wait_for_timeout(500)
            assert page.evaluate("window.stayed === true")
            sync_api.expect(page.locator("#kb-confirm")).to_have_count(0)
            items.filter(has_text=RIGHT).get_by_role("button", name="Not helpful").click()
            sync_api.expect(page.locator(".flash")).to_contain_text(
                "Noted: the article did not help. Your reply was not sent: it is still in the reply box."
            )
            sync_api.expect(reply).to_have_value(REPLY)  # was "": gone with the redirect
            sync_api.expect(box).to_have_value("lift door does not close")  # was the subject
            sync_api.expect(items.first.locator("a.title")).to_have_text(LIFT)
        # the scripts arrive late: drafts.js keeps what the page drew (typed before it ran)
        assert _kept(page, f"ticket-{ticket_id}-reply") == REPLY
        assert _kept(page, f"ticket-{ticket_id}-kb-symptom") == "lift door does not close"

        # with the scripts: the same button, the same page answering
        items.filter(has_text=LIFT).get_by_role("button", name="Not helpful").click()
        sync_api.expect(items.filter(has_text=LIFT)).to_contain_text("marked not helpful")
        sync_api.expect(reply).to_have_value(REPLY)
        sync_api.expect(box).to_have_value("lift door does not close")
        # the ticket opened again (the page starts the boxes empty and with the subject): the
        # drafts put both back
        page.goto(f"{base}/desk/tickets/{ticket_id}")
        sync_api.expect(reply).to_have_value(REPLY)
        sync_api.expect(box).to_have_value("lift door does not close")
        assert errors == [], f"browser console errors: {errors}"

    with _server_db(server["url"]) as db:
        verdicts = db.scalars(
            select(KbTicketFeedback.verdict).where(KbTicketFeedback.ticket_id == ticket_id)
        ).all()
        assert verdicts == ["not_helpful", "not_helpful"]
        bodies = db.scalars(select(TicketEvent.body).where(TicketEvent.ticket_id == ticket_id)).all()
        assert not any("refill the system" in body for body in bodies)  # the reply was not sent
