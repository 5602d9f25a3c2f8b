"""The public form behind the mail's links: scanner GETs record nothing, one POST records,
replays change nothing, tampered and expired links get readable pages, unsubscribe opts out."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from itsdangerous import TimestampSigner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.feedback import sending, tokens
from app.models import Contact, Region, SurveyAnswer, SurveyRecovery, Ticket, WebhookDelivery
from app.platform.db import utcnow
from tests import factories as f
from tests.feedback.world import Case, Outbox, customer, later, survey_of, visit

LINK = re.compile(r"http://[^\s]+/survey/([^\s?/]+)\?csat=(\d)")
UNSUB = re.compile(r"http://[^\s]+(/survey/unsubscribe/[^\s]+)")


@pytest.fixture
def mailed(db: Session, outbox: Outbox) -> Iterator[tuple[Case, str, str]]:
    """A finished visit whose survey went out: (case, answer path without rating, unsubscribe path)."""
    case = customer(db, tier="gold")
    visit(db, case, late_min=45)
    db.commit()
    assert sending.send_due(now=later(hours=3)) == {"send": 1}
    text = outbox.sent[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    links = LINK.findall(text)
    assert [int(n) for _, n in links] == [1, 2, 3, 4, 5]  # the CSAT scale, one link per rating
    assert len({t for t, _ in links}) == 1
    unsub = UNSUB.search(text)
    assert unsub is not None
    yield case, f"/survey/{links[0][0]}", unsub.group(1)


def answers(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(SurveyAnswer)) or 0)


def test_opening_a_rating_link_records_nothing_and_preselects_it(
    client: TestClient, db: Session, mailed: tuple[Case, str, str]
) -> None:
    case, path, _ = mailed
    for _ in range(3):  # a mail scanner, a preview pane, the customer
        r = client.get(path, params={"csat": "2"})
        assert r.status_code == 200
    assert 'id="csat-2" name="csat" value="2" checked' in r.text
    assert 'id="csat-4" name="csat" value="4" required>' in r.text  # the others are not
    assert answers(db) == 0
    assert survey_of(db, work_order_id=case.work_order.id).answered_at is None  # type: ignore[union-attr]


def test_the_form_has_a_label_for_every_input(client: TestClient, mailed: tuple[Case, str, str]) -> None:
    _, path, _ = mailed
    html = client.get(path).text
    ids = re.findall(r'<(?:input|textarea)[^>]* id="([^"]+)"', html)
    assert len(ids) >= 5 + 11 + 2 + 5 + 1  # CSAT, NPS, solved, reasons, comment (gold: with NPS)
    for i in ids:
        assert f'for="{i}"' in html, f"input {i} has no label"
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html


def test_a_post_records_once_with_context_and_a_replay_changes_nothing(
    client: TestClient, db: Session, mailed: tuple[Case, str, str]
) -> None:
    case, path, _ = mailed
    form = {"csat": "4", "nps": "9", "solved": "yes", "reasons": ["late"], "comment": "Came late, fixed it."}
    r = client.post(path, data=form)
    assert r.status_code == 200 and "Thank you" in r.text
    [row] = db.scalars(select(SurveyAnswer)).all()
    wo = case.work_order
    assert wo is not None
    assert (row.csat, row.nps, row.solved, row.reasons, row.comment) == (
        4,
        9,
        True,
        ["late"],
        "Came late, fixed it.",
    )
    assert (row.ticket_id, row.work_order_id, row.engineer_id, row.account_id) == (
        case.ticket.id,
        wo.id,
        case.engineer.id,
        case.account.id,
    )
    assert (row.site_id, row.region_id, row.asset_id) == (wo.site_id, wo.region_id, case.asset.id)
    assert row.product_model_id == case.asset.product_model_id
    # The visit facts: it arrived about 45 minutes after the promised window.
    assert row.late is True and row.minutes_late is not None and 44 <= row.minutes_late <= 47
    assert row.repeat_visit is False and row.part_missing is False and row.sla_breach is False
    assert row.is_detractor is False

    again = client.post(path, data={"csat": "1", "solved": "no"})
    assert again.status_code == 200 and "Already answered" in again.text
    db.expire_all()
    [same] = db.scalars(select(SurveyAnswer)).all()
    assert (same.id, same.csat, same.solved) == (row.id, 4, True)
    assert "Already answered" in client.get(path, params={"csat": "1"}).text


def test_an_invalid_answer_names_the_field_and_records_nothing(
    client: TestClient, db: Session, mailed: tuple[Case, str, str]
) -> None:
    _, path, _ = mailed
    r = client.post(path, data={"csat": "9", "comment": "x"})
    assert r.status_code == 422
    assert "Rating must be a whole number from 1 to 5" in r.text
    assert 'href="#q-csat"' in r.text
    assert answers(db) == 0


def test_a_tampered_link_gets_a_readable_page(
    client: TestClient, db: Session, mailed: tuple[Case, str, str]
) -> None:
    _, path, _ = mailed
    token = path.rsplit("/", 1)[1]
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    for bad in (flipped, "nonsense", token + "x"):
        r = client.get(f"/survey/{bad}", params={"csat": "5"})
        assert r.status_code == 404 and "This link does not work" in r.text
        r = client.post(f"/survey/{bad}", data={"csat": "5"})
        assert r.status_code == 404 and "This link does not work" in r.text
    other = tokens.make(10**9, "answer")  # signed, but for no survey
    assert client.get(f"/survey/{other}").status_code == 404
    unsub_as_answer = tokens.make(survey_of(db, ticket_id=mailed[0].ticket.id).id, "unsubscribe")
    assert client.post(f"/survey/{unsub_as_answer}", data={"csat": "5"}).status_code == 404
    assert answers(db) == 0


def test_an_expired_link_gets_a_readable_page(
    client: TestClient, db: Session, mailed: tuple[Case, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    case, _, _ = mailed
    survey = survey_of(db, ticket_id=case.ticket.id)
    fifteen_days_ago = int((utcnow() - timedelta(days=15)).timestamp())
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: fifteen_days_ago)
    old = tokens.make(survey.id, "answer")
    monkeypatch.undo()
    r = client.post(f"/survey/{old}", data={"csat": "5"})
    assert r.status_code == 410 and "This survey has closed" in r.text
    assert client.get(f"/survey/{old}").status_code == 410
    # A fresh token for a survey sent too long ago is refused as well.
    survey.sent_at = utcnow() - timedelta(days=15)
    db.commit()
    assert client.post(f"/survey/{tokens.make(survey.id, 'answer')}", data={"csat": "5"}).status_code == 410
    assert answers(db) == 0


def test_unsubscribe_link_asks_then_opts_the_contact_out(
    client: TestClient,
    db: Session,
    mailed: tuple[Case, str, str],
    login,  # type: ignore[no-untyped-def]
) -> None:
    case, _, unsub = mailed
    r = client.get(unsub)
    assert r.status_code == 200 and "Stop survey e-mails" in r.text
    db.expire_all()
    assert db.get(Contact, case.contact.id).survey_opt_out is False  # type: ignore[union-attr]
    r = client.post(unsub)
    assert r.status_code == 200 and "no more surveys" in r.text
    db.expire_all()
    assert db.get(Contact, case.contact.id).survey_opt_out is True  # type: ignore[union-attr]
    view = client.get(f"/api/v1/customers/{case.account.id}/360", headers=login("agent")).json()
    assert [c["survey_opt_out"] for c in view["contacts"]] == [True]  # the desk sees it


def test_a_detractor_opens_a_recovery_ticket_for_the_owner_and_emits_an_event(
    client: TestClient, db: Session, mailed: tuple[Case, str, str]
) -> None:
    case, path, _ = mailed
    owner = f.make_user(db, role="agent")
    case.account.owner_user_id = owner.id
    sub = f.make_webhook_subscription(db, "http://127.0.0.1:9/hook", events=["survey.detractor"])
    db.commit()
    r = client.post(
        path, data={"csat": "2", "reasons": ["late", "part_missing"], "comment": "Waited all morning"}
    )
    assert r.status_code == 200
    db.expire_all()
    [rec] = db.scalars(select(SurveyRecovery)).all()
    ticket = db.get(Ticket, rec.ticket_id)
    assert ticket is not None
    assert (ticket.account_id, ticket.assignee_id, ticket.category) == (case.account.id, owner.id, "recovery")
    assert (rec.owner_user_id, rec.queue) == (owner.id, "owner")
    assert "satisfaction 2/5" in ticket.description and "Waited all morning" in ticket.description
    assert "min after the promised window" in ticket.description
    assert rec.facts["late"] is True
    [event] = db.scalars(select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)).all()
    assert event.event == "survey.detractor"
    assert event.payload["data"]["recovery_ticket_id"] == ticket.id
    assert event.payload["data"]["csat"] == 2


def test_a_promoter_opens_no_recovery(client: TestClient, db: Session, mailed: tuple[Case, str, str]) -> None:
    _, path, _ = mailed
    assert client.post(path, data={"csat": "5", "nps": "10", "solved": "yes"}).status_code == 200
    assert db.scalar(select(func.count()).select_from(SurveyRecovery)) == 0


def test_a_recorded_answer_redirects_to_its_thank_you_page(
    client: TestClient, db: Session, mailed: tuple[Case, str, str]
) -> None:
    """Post-redirect-get: the thank-you page was the POST's own answer, so Reload or Back asked
    to send the form again."""
    _, path, _ = mailed
    r = client.post(path, data={"csat": "4", "solved": "yes"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"{path}/thanks"
    assert r.headers["Referrer-Policy"] == "no-referrer"
    thanks = client.get(f"{path}/thanks")
    assert thanks.status_code == 200 and "Thank you!" in thanks.text and "Already answered" not in thanks.text
    assert client.get(f"{path}/thanks").status_code == 200  # a reload: the same page, nothing sent
    assert answers(db) == 1
    token = path.rsplit("/", 1)[1]
    bad = client.get(f"/survey/{token[:-4]}abcd/thanks")
    assert bad.status_code == 404 and "Thank you" not in bad.text


def test_the_thank_you_page_of_a_survey_not_yet_answered_is_its_form(
    client: TestClient, mailed: tuple[Case, str, str]
) -> None:
    _, path, _ = mailed
    r = client.get(f"{path}/thanks", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == path


def test_the_form_and_the_thanks_say_which_visit_they_are_about(
    client: TestClient, db: Session, mailed: tuple[Case, str, str]
) -> None:
    case, path, _ = mailed
    wo = case.work_order
    assert wo is not None and wo.checked_out_at is not None
    other = customer(db)  # another customer's case must not show
    other.ticket.subject = "Other customer's secret boiler"
    db.commit()
    region = db.get(Region, wo.region_id)
    day = wo.checked_out_at.astimezone(ZoneInfo(region.timezone)).strftime("%a %d %b %Y")
    about = f"About the visit on {day} ({wo.number}): “{case.ticket.subject}”"
    form = client.get(path).text
    assert about in html.unescape(form) and "secret boiler" not in form
    thanks = client.post(path, data={"csat": "5", "solved": "yes"}).text
    assert about in html.unescape(thanks) and "secret boiler" not in thanks


def test_a_field_sent_twice_is_refused_and_the_other_answers_kept(
    client: TestClient, db: Session, mailed: tuple[Case, str, str]
) -> None:
    """csat=3&csat=5 was accepted and stored 5."""
    _, path, _ = mailed
    body = "csat=3&csat=5&nps=9&solved=yes&reasons=late&reasons=not_fixed&comment=Kept+this"
    r = client.post(path, content=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 422
    assert "Rating was sent 2 times (3, 5): please choose one" in r.text
    assert answers(db) == 0
    assert 'name="nps" value="9" checked' in r.text and 'value="yes" checked' in r.text
    assert 'value="late" checked' in r.text and 'value="not_fixed" checked' in r.text  # chips take many
    assert "Kept this</textarea>" in r.text
    assert 'name="csat" value="5" checked' not in r.text and 'name="csat" value="3" checked' not in r.text
    ok = client.post(
        path,
        content=body.replace("csat=3&", ""),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert ok.status_code == 200 and answers(db) == 1
