"""The public survey form on a phone, in a real browser: open the mail's rating link, change the
rating with the keyboard, tick a reason, write a comment, send; a second visit says "already
answered". Debian's /usr/bin/chromium through Playwright at 360 × 740 against a real uvicorn
server on a temporary SQLite file. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.feedback import tokens
from app.models import Survey, SurveyAnswer
from app.platform.db import utcnow
from tests.e2e.browser import ARTIFACTS, CHROMIUM, PHONE, migrated, phone_page, running_server
from tests.feedback.world import customer, visit

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    pytest.skip("/usr/bin/chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")

SECRET = "e2e-survey-secret"


def _seed(url: str) -> dict[str, Any]:
    """A gold customer whose visit's survey has just been mailed; a platinum one's, with the 0–10
    recommendation scale."""
    engine = migrated(url)
    try:
        with Session(engine) as db:
            ids = []
            for tier, name in (("gold", "Bäckerei Sonnenschein KG"), ("platinum", "Klinikum Nord")):
                wo = visit(db, customer(db, tier=tier, name=name), late_min=30)
                db.commit()  # the session hook creates the survey
                survey = db.scalars(select(Survey).where(Survey.work_order_id == wo.id)).one()
                survey.status, survey.sent_at = "sent", utcnow()
                db.commit()
                ids.append(survey.id)
            return {"url": url, "survey_id": ids[0], "nps_survey_id": ids[1]}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def server(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    from app.platform.config import get_settings

    # Links are signed with the server's secret: sign them here with the same one.
    monkeypatch_module.setattr(get_settings(), "secret_key", SECRET)
    with running_server(_seed, env_extra={"SECRET_KEY": SECRET}) as info:
        info["token"] = tokens.make(info["survey_id"], "answer")
        info["nps_token"] = tokens.make(info["nps_survey_id"], "answer")
        yield info


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def _answers(url: str) -> list[SurveyAnswer]:
    engine = migrated(url)
    try:
        with Session(engine) as db:
            return list(db.scalars(select(SurveyAnswer)))
    finally:
        engine.dispose()


def test_customer_answers_the_survey_on_a_phone_with_the_keyboard(server: dict[str, Any]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    link = f"{server['base']}/survey/{server['token']}"
    with sync_api.sync_playwright() as p, phone_page(p, server["base"]) as (page, errors):  # the customer's
        page.goto(f"{link}?csat=2")  # the "2" button in the mail
        sync_api.expect(page.get_by_role("heading", name="How was our visit?")).to_be_visible()
        assert page.locator("#csat-2").is_checked()
        assert _answers(server["url"]) == []  # opening the link recorded nothing
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"page is {width}px wide at a 360px viewport"

        # Keyboard only: the rating group takes the arrow keys, the reasons Space, the rest typing.
        page.locator("#csat-2").focus()
        page.keyboard.press("ArrowRight")
        assert page.locator("#csat-3").is_checked() and not page.locator("#csat-2").is_checked()
        focused_label = page.evaluate(
            "getComputedStyle(document.querySelector('label[for=csat-3]')).outlineStyle"
        )
        assert focused_label == "solid"  # the focus ring is drawn on the label
        page.get_by_label("The engineer came late").focus()
        page.keyboard.press("Space")
        assert page.get_by_label("The engineer came late").is_checked()
        page.get_by_label("Anything else you would like to tell us?").fill("Half an hour late, but friendly.")
        page.screenshot(path=str(ARTIFACTS / "survey-phone.png"), full_page=True)
        page.get_by_role("button", name="Send answer").focus()
        page.keyboard.press("Enter")
        sync_api.expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()

        [answer] = _answers(server["url"])
        assert (answer.csat, answer.reasons, answer.comment) == (
            3,
            ["late"],
            "Half an hour late, but friendly.",
        )
        assert answer.late is True

        page.goto(f"{link}?csat=5")
        sync_api.expect(page.get_by_role("heading", name="Already answered")).to_be_visible()
        assert errors == []
        page.goto(f"{server['base']}/survey/{server['token'][:-4]}abcd")  # a 404, on purpose
        sync_api.expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()


@pytest.mark.parametrize("width", [320, 360, 480])
def test_the_0_to_10_scale_keeps_24px_targets_from_320px_and_one_row_from_360px(
    server: dict[str, Any], width: int
) -> None:
    """WCAG 2.5.8: each answer at least 24 × 24 px. At 360 px and wider the eleven buttons stay on
    one row (10 above "Extremely likely"); at 320 px one row would make them 21 px wide, so they
    wrap to two (6 + 5), as wide as the 5-point scale's."""
    with (
        sync_api.sync_playwright() as p,
        phone_page(p, server["base"], viewport={**PHONE, "width": width}) as (page, _),
    ):
        page.goto(f"{server['base']}/survey/{server['nps_token']}")
        boxes = [page.locator(f"label[for=nps-{n}]").bounding_box() for n in range(11)]
        assert all(b is not None for b in boxes), "the 0-10 scale is not on the page"
        small = [
            (n, b["width"], b["height"])
            for n, b in enumerate(boxes)
            if b and min(b["width"], b["height"]) < 24
        ]
        assert small == [], f"targets under 24 px at {width} px"
        rows = len({round(b["y"]) for b in boxes if b})
        assert rows == (2 if width < 360 else 1), f"{rows} rows at {width} px"
        assert page.evaluate("document.documentElement.scrollWidth") <= width
