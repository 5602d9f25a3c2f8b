"""The ticket page: SLA and timeline shown, reply/note/status/edit forms, 409 on a stale edit."""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.models import Ticket, TicketEvent, User, WorkOrder
from app.platform.errors import InvalidTransition
from tests import factories as f
from tests.web.conftest import csrf_of


@pytest.fixture
def world(db: Session) -> dict[str, Any]:
    region = f.make_region(db)
    acc = f.make_account(db, region=region, name="Brauhaus Nord GmbH")
    site = f.make_site(db, acc, name="Sudhaus")
    cal = f.make_calendar(db, always_open=True)
    contract = f.make_contract(db, acc, cal, tier="gold")
    contact = f.make_contact(db, acc, name="Jana Weber", phone="+49 89 1234-56")
    asset = f.make_asset(db, site, contract=contract, serial="SN-BRAU-1")
    ticket = tickets.create_ticket(
        db,
        account_id=acc.id,
        contact_id=contact.id,
        asset_id=asset.id,
        subject="Chiller alarm E42",
        description="Unit 3 shows E42 since this morning.",
        priority="P2",
        channel="phone",
        actor=None,
    )
    db.commit()
    return {"account": acc, "site": site, "contact": contact, "asset": asset, "ticket": ticket}


def _page(client: TestClient, ticket: Ticket) -> str:
    r = client.get(f"/desk/tickets/{ticket.id}")
    assert r.status_code == 200, r.text
    return r.text


def test_ticket_page_shows_header_sla_timeline_and_allowed_moves(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any]
) -> None:
    sign_in("agent")
    html = _page(client, world["ticket"])
    t = world["ticket"]
    assert t.number in html and "Chiller alarm E42" in html and "Brauhaus Nord GmbH" in html
    assert 'href="tel:+4989123456"' in html  # click-to-call from the contact
    assert "First response" in html and "Resolution" in html  # SLA rows with due times
    assert t.resolution_due_at is not None
    assert "Ticket opened (P2, gold SLA)" in html and "SLA clock started" in html
    # buttons exactly for the allowed transitions of a new ticket
    for to in tickets.manual_next(t, at=t.opened_at):
        assert f'name="to" value="{to}"' in html
    for to in ("scheduled", "in_progress"):  # these follow the work orders
        assert f'name="to" value="{to}"' not in html
    assert 'name="to" value="resolved"' not in html  # new → resolved is not allowed
    assert f'name="version" value="{t.version}"' in html


def test_reply_and_note_from_the_page(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    agent = sign_in("agent", name="Agent Alma")
    t = world["ticket"]
    token = csrf_of(_page(client, t))
    r = client.post(f"/desk/tickets/{t.id}/reply", data={"text": "We are on it.", "csrf": token})
    assert r.status_code == 200 and "Reply recorded; the timeline shows its e-mail to the customer." in r.text
    assert "We are on it." in r.text and "Agent Alma" in r.text
    r = client.post(f"/desk/tickets/{t.id}/note", data={"text": "Customer sounded <angry>", "csrf": token})
    assert "Internal note added." in r.text
    assert "Customer sounded &lt;angry&gt;" in r.text  # escaped, not markup
    db.expire_all()
    kinds = db.scalars(
        select(TicketEvent.kind).where(TicketEvent.ticket_id == t.id, TicketEvent.actor_id == agent.id)
    ).all()
    assert sorted(kinds) == ["note", "reply", "status"]  # the reply opened the ticket
    assert db.get_one(Ticket, t.id).status == "open"


def test_form_without_csrf_is_refused_and_nothing_is_stored(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("agent")
    t = world["ticket"]
    before = db.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == t.id))
    for path, data in (
        ("reply", {"text": "hello"}),
        ("note", {"text": "hello", "csrf": "0" * 64}),
        ("status", {"to": "open", "version": str(t.version)}),
        ("edit", {"subject": "forged", "priority": "P1", "version": str(t.version)}),
    ):
        r = client.post(f"/desk/tickets/{t.id}/{path}", data=data)
        assert r.status_code == 403, path
        assert r.headers["content-type"].startswith("text/html")
        assert "did not come from Fieldline" in r.text
    db.expire_all()
    after = db.scalar(select(func.count()).select_from(TicketEvent).where(TicketEvent.ticket_id == t.id))
    assert after == before
    assert db.get_one(Ticket, t.id).subject == "Chiller alarm E42"


def test_status_buttons_move_the_ticket_and_illegal_moves_are_readable(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("agent")
    t = world["ticket"]
    html = _page(client, t)
    token = csrf_of(html)
    r = client.post(
        f"/desk/tickets/{t.id}/status",
        data={"to": "open", "reason": "called back", "version": str(t.version), "csrf": token},
    )
    assert r.status_code == 200 and "Status changed." in r.text
    db.expire_all()
    current = db.get_one(Ticket, t.id)
    assert current.status == "open"
    r = client.post(
        f"/desk/tickets/{t.id}/status",
        data={"to": "closed", "reason": "done?", "version": str(current.version), "csrf": token},
    )
    assert r.status_code == 409
    assert "cannot move to Closed" in r.text and 'value="done?"' in r.text
    db.expire_all()
    assert db.get_one(Ticket, t.id).status == "open"


def test_reply_refused_on_a_closed_ticket_keeps_the_text(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("agent")
    t = world["ticket"]
    tickets.transition(db, ticket_id=t.id, to="closed", reason="duplicate", actor=None, channel="api")
    db.commit()
    token = csrf_of(_page(client, t))
    r = client.post(
        f"/desk/tickets/{t.id}/reply", data={"text": "Long answer, typed with care.", "csrf": token}
    )
    assert r.status_code == 409
    assert "is closed; reopen it before replying" in r.text
    assert ">Long answer, typed with care.</textarea>" in r.text


def test_stale_edit_gets_409_keeps_input_and_overwrites_nothing(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("agent")
    t = world["ticket"]
    token = csrf_of(_page(client, t))
    seen_version = t.version
    # a colleague changes the ticket after the agent opened the page
    tickets.update_ticket(
        db, ticket_id=t.id, values={"subject": "Chiller alarm E42 (unit 3)"}, actor=None, channel="api"
    )
    db.commit()
    mine = {
        "subject": "My better subject",
        "description": "My long description that must not be lost.",
        "category": "cooling",
        "priority": "P1",
        "contact_id": str(world["contact"].id),
        "asset_id": str(world["asset"].id),
        "assignee_id": "",
        "version": str(seen_version),
        "csrf": token,
    }
    r = client.post(f"/desk/tickets/{t.id}/edit", data=mine)
    assert r.status_code == 409
    assert r.headers["content-type"].startswith("text/html")
    assert "Someone else changed this ticket" in r.text and "your text is kept" in r.text
    assert 'value="My better subject"' in r.text
    assert ">My long description that must not be lost.</textarea>" in r.text
    assert "Chiller alarm E42 (unit 3)" in r.text  # the current version is shown
    db.expire_all()
    current = db.get_one(Ticket, t.id)
    assert current.subject == "Chiller alarm E42 (unit 3)" and current.priority == "P2"
    # the re-rendered form carries the current version: saving again is deliberate and works
    assert f'name="version" value="{current.version}"' in r.text
    r = client.post(f"/desk/tickets/{t.id}/edit", data={**mine, "version": str(current.version)})
    assert r.status_code == 200 and "Ticket saved." in r.text
    db.expire_all()
    saved = db.get_one(Ticket, t.id)
    assert (saved.subject, saved.priority, saved.category) == ("My better subject", "P1", "cooling")


def test_edit_with_a_foreign_contact_is_refused_with_input_kept(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("agent")
    t = world["ticket"]
    stranger = f.make_contact(db, f.make_account(db))
    db.commit()
    token = csrf_of(_page(client, t))
    data = {
        "subject": "New subject",
        "description": "kept",
        "priority": "P3",
        "contact_id": str(stranger.id),
        "version": str(t.version),
        "csrf": token,
    }
    r = client.post(f"/desk/tickets/{t.id}/edit", data=data)
    assert r.status_code == 422
    assert "is not a contact of this customer" in r.text and 'value="New subject"' in r.text
    db.expire_all()
    assert db.get_one(Ticket, t.id).subject == "Chiller alarm E42"


def test_create_work_order_from_the_ticket_page(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("dispatcher")
    t = world["ticket"]
    token = csrf_of(_page(client, t))
    bad = client.post(
        f"/desk/tickets/{t.id}/work-orders",
        data={
            "duration_min": "90",
            "appointment_start": "2030-05-06T10:00",
            "appointment_end": "2030-05-06T09:00",
            "notes": "Bring the E42 sensor",
            "csrf": token,
        },
    )
    assert bad.status_code == 422 and "must be after “Appointment from”" in bad.text
    assert ">Bring the E42 sensor</textarea>" in bad.text
    r = client.post(
        f"/desk/tickets/{t.id}/work-orders",
        data={
            "duration_min": "90",
            "appointment_start": "2030-05-06T09:00",
            "appointment_end": "2030-05-06T11:00",
            "notes": "Bring the E42 sensor",
            "csrf": token,
        },
    )
    assert r.status_code == 200 and "Work order created." in r.text
    wo = db.scalars(select(WorkOrder).where(WorkOrder.ticket_id == t.id)).one()
    assert wo.duration_min == 90 and wo.notes == "Bring the E42 sensor"
    assert wo.appointment_start_at is not None
    assert wo.appointment_start_at.isoformat() == "2030-05-06T07:00:00+00:00"  # 09:00 Berlin summer time
    assert wo.number in r.text


def test_unknown_ticket_is_a_readable_404(client: TestClient, sign_in: Callable[..., User]) -> None:
    sign_in("agent")
    r = client.get("/desk/tickets/999999")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html") and "Ticket 999999 does not exist." in r.text


def test_header_shows_the_description_and_long_words_can_break(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("agent")
    t = world["ticket"]
    t.description = "Unit 3 shows E42 since this morning.\nCustomer <asks> for a call back."
    db.commit()
    html = _page(client, t)
    header = html[html.index('aria-labelledby="ticket-title"') : html.index("</section>")]
    # in the header, line breaks kept and markup escaped, not only in the history further down
    assert "Unit 3 shows E42 since this morning.<br>Customer &lt;asks&gt; for a call back." in header
    css = client.get("/static/css/app.css").text
    rule = next(line for line in css.splitlines() if line.startswith("h1,") and "overflow-wrap" in line)
    assert ".description" in rule and "overflow-wrap: anywhere" in rule


def test_edit_with_an_id_beyond_int4_is_refused_readably(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("agent")
    t = world["ticket"]
    data = {
        "subject": "New subject",
        "description": "kept",
        "priority": "P3",
        "contact_id": str(2**31),
        "version": str(t.version),
        "csrf": csrf_of(_page(client, t)),
    }
    r = client.post(f"/desk/tickets/{t.id}/edit", data=data)
    assert r.status_code == 422 and "choose one from the list" in r.text
    gone = client.get(f"/desk/tickets/{2**63}")  # the path guard, as a page: no such ticket page
    assert gone.status_code == 404 and "There is no page at" in gone.text


def test_a_far_off_appointment_on_the_page_is_a_readable_error(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("dispatcher")
    t = world["ticket"]
    token = csrf_of(_page(client, t))
    for start in ("0001-01-01T00:30", "9999-12-31T23:30"):
        r = client.post(
            f"/desk/tickets/{t.id}/work-orders",
            data={"duration_min": "60", "appointment_start": start, "appointment_end": "", "csrf": token},
        )
        assert r.status_code == 422 and "not a date and time" in r.text
    assert db.scalars(select(WorkOrder).where(WorkOrder.ticket_id == t.id)).first() is None


class _FormReader(HTMLParser):
    """What a browser would post from the form with the given action (inputs, textareas, selects)."""

    def __init__(self, action: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action, self.inside = action, False
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("action") == self.action
        elif not self.inside:
            return
        elif tag == "input" and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields[a["name"]] = ""
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._textarea:
            self.fields[self._textarea] += data


def _edit_form(html: str, ticket: Ticket) -> dict[str, str]:
    reader = _FormReader(f"/desk/tickets/{ticket.id}/edit")
    reader.feed(html)
    assert reader.fields, "no edit form on the page"
    return dict(reader.fields)


def _conflict_rows(html: str) -> list[str]:
    start = html.index('id="conflict-title"')
    block = html[start : html.index("</section>", start)]
    return re.findall(r'<td data-label="Field">([^<]*)</td>', block)


def test_stale_edit_keeps_their_changes_to_the_fields_i_did_not_touch(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("agent")
    t = world["ticket"]
    form_a = _edit_form(_page(client, t), t)  # agents A and B open "Edit ticket" at the same time
    form_b = _edit_form(_page(client, t), t)
    r = client.post(
        f"/desk/tickets/{t.id}/edit",
        data={**form_a, "priority": "P1", "description": "Unit 3 and unit 4 show E42.\nCall first."},
    )
    assert r.status_code == 200 and "Ticket saved." in r.text
    r = client.post(f"/desk/tickets/{t.id}/edit", data={**form_b, "subject": "Chiller alarm E42 on unit 3"})
    # B touched only the subject, which nobody else changed: saved at once, A's changes kept (a
    # second Save of the merged form asked B for nothing)
    assert r.status_code == 200 and "your changes and theirs are both in" in r.text
    db.expire_all()
    saved = db.get_one(Ticket, t.id)
    assert saved.subject == "Chiller alarm E42 on unit 3"
    assert saved.priority == "P1"
    assert saved.description.replace("\r\n", "\n") == "Unit 3 and unit 4 show E42.\nCall first."


def test_stale_edit_lists_a_field_both_changed_and_keeps_mine_in_the_form(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("agent")
    t = world["ticket"]
    form_a = _edit_form(_page(client, t), t)
    form_b = _edit_form(_page(client, t), t)
    r = client.post(f"/desk/tickets/{t.id}/edit", data={**form_a, "subject": "Theirs", "priority": "P3"})
    assert r.status_code == 200
    r = client.post(f"/desk/tickets/{t.id}/edit", data={**form_b, "subject": "Mine", "category": "cooling"})
    assert r.status_code == 409
    assert _conflict_rows(r.text) == ["Subject"]  # only the real clash; not priority, not category
    start = r.text.index('id="conflict-title"')
    row = r.text[start : r.text.index("</section>", start)]
    assert ">Theirs</td>" in row and ">Mine</td>" in row
    kept = _edit_form(r.text, t)
    assert (kept["subject"], kept["category"], kept["priority"]) == ("Mine", "cooling", "P3")
    r = client.post(f"/desk/tickets/{t.id}/edit", data=kept)  # B decided: mine
    assert r.status_code == 200 and "Ticket saved." in r.text
    db.expire_all()
    saved = db.get_one(Ticket, t.id)
    assert (saved.subject, saved.category, saved.priority) == ("Mine", "cooling", "P3")


def test_a_refused_edit_keeps_the_values_it_was_opened_with(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("agent")
    t = world["ticket"]
    stranger = f.make_contact(db, f.make_account(db))
    db.commit()
    form_b = _edit_form(_page(client, t), t)
    r = client.post(
        f"/desk/tickets/{t.id}/edit",
        data={**form_b, "subject": "Mine", "contact_id": str(stranger.id)},
    )
    assert r.status_code == 422
    form_b = _edit_form(r.text, t)  # B fixes the contact later; meanwhile A changes the priority
    tickets.update_ticket(db, ticket_id=t.id, values={"priority": "P4"}, actor=None, channel="api")
    db.commit()
    r = client.post(f"/desk/tickets/{t.id}/edit", data={**form_b, "contact_id": str(world["contact"].id)})
    # the refused form kept its base, so A's priority is not taken for B's change: no clash, saved
    assert r.status_code == 200 and "your changes and theirs are both in" in r.text
    db.expire_all()
    saved = db.get_one(Ticket, t.id)
    assert (saved.subject, saved.priority) == ("Mine", "P4")


def test_a_breach_before_a_retarget_is_not_shown_as_breached_and_due_later(
    client: TestClient, sign_in: Callable[..., User], db: Session
) -> None:
    """ "Resolution Breached – due Tue 07:55 (in 35 h)" read as a contradiction: the breach stands
    (the earlier due time was missed), the page says so beside the new due time."""
    from datetime import timedelta

    from app.desk.sla.tasks import check_breaches
    from app.models import SlaTarget
    from app.platform.db import utcnow

    for prio, (fr, arr, res) in {"P1": (10, 60, 60), "P4": (10, 600, 6000)}.items():
        db.add(
            SlaTarget(
                tier="retarget", priority=prio, first_response_min=fr, arrival_min=arr, resolution_min=res
            )
        )
    acc = f.make_account(db)
    contract = f.make_contract(db, acc, f.make_calendar(db, always_open=True), tier="retarget")
    asset = f.make_asset(db, f.make_site(db, acc), contract=contract)
    ticket = tickets.create_ticket(
        db,
        account_id=acc.id,
        asset_id=asset.id,
        subject="Compressor trips",
        priority="P1",
        channel="phone",
        actor=None,
        opened_at=utcnow() - timedelta(hours=2),
    )
    db.commit()
    check_breaches()  # resolution (60 min) ran out an hour ago (its own session)
    db.expire_all()
    tickets.update_ticket(db, ticket_id=ticket.id, values={"priority": "P4"}, actor=None, channel="api")
    db.commit()
    sign_in("agent")
    page = _page(client, ticket)
    sla = page[page.index("Resolution") :][:600]
    assert "missed an earlier due time; now due" in sla, sla


@pytest.mark.parametrize("version", ["abc", "", " ", "1e3", "9" * 40])
def test_a_status_change_without_a_readable_version_is_refused(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session, version: str
) -> None:
    """QA: version=abc skipped the edit-conflict check (the service reads None as "do not check").
    Missing or not a number: refused like a stale form, the reason kept, nothing changed."""
    sign_in("agent")
    t = world["ticket"]
    token = csrf_of(_page(client, t))
    r = client.post(
        f"/desk/tickets/{t.id}/status",
        data={"to": "open", "reason": "called back", "version": version, "csrf": token},
    )
    assert r.status_code == 409
    assert "does not say which version of the ticket" in r.text and 'value="called back"' in r.text
    db.expire_all()
    assert db.get_one(Ticket, t.id).status == "new"
    assert not db.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == t.id, TicketEvent.kind == "status")
    ).all()


def test_a_status_change_without_the_version_field_is_refused(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("agent")
    t = world["ticket"]
    token = csrf_of(_page(client, t))
    r = client.post(f"/desk/tickets/{t.id}/status", data={"to": "open", "csrf": token})
    assert r.status_code == 409 and "does not say which version" in r.text
    db.expire_all()
    assert db.get_one(Ticket, t.id).status == "new"


def test_an_edit_or_asset_without_a_readable_version_saves_nothing(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    sign_in("agent")
    t = world["ticket"]
    html = _page(client, t)
    form = {**_edit_form(html, t), "subject": "Mine", "version": "abc"}
    r = client.post(f"/desk/tickets/{t.id}/edit", data=form)
    assert r.status_code == 409 and "does not say which version" in r.text
    # the 409 form now carries the current version: saving it again is an ordinary, checked save
    assert _edit_form(r.text, t)["version"] == str(t.version) and 'value="Mine"' in r.text
    r = client.post(
        f"/desk/tickets/{t.id}/asset",
        data={"asset_id": str(world["asset"].id), "version": "x", "csrf": csrf_of(html)},
    )
    assert r.status_code == 409 and "does not say which version" in r.text
    db.expire_all()
    saved = db.get_one(Ticket, t.id)
    assert saved.subject == "Chiller alarm E42" and saved.version == t.version


def test_status_refusals_name_the_allowed_states_as_the_page_does(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    """QA: "allowed now: open, waiting_on_customer, closed"; the page says the states' labels."""
    sign_in("agent")
    t = world["ticket"]
    token = csrf_of(_page(client, t))
    r = client.post(
        f"/desk/tickets/{t.id}/status", data={"to": "scheduled", "version": str(t.version), "csrf": token}
    )
    assert r.status_code == 409 and "follows the work orders" in r.text
    alert = re.search(r'<p class="alert" role="alert">(.*?)</p>', r.text, re.S)
    assert alert and alert.group(1).endswith("allowed now: Open, Waiting on customer, Closed.")
    db.expire_all()
    assert db.get_one(Ticket, t.id).status == "new"
    with pytest.raises(InvalidTransition) as refused:  # programs still get the codes
        tickets.transition(db, ticket_id=t.id, to="scheduled", actor=None, channel="api")
    assert refused.value.extra["allowed"] == ["open", "waiting_on_customer", "closed"]
    assert refused.value.detail.endswith(
        "allowed now: Open, Waiting on customer, Closed."
    )  # the API's words too


def test_resolving_does_not_promise_a_mail_that_is_never_sent(
    client: TestClient, sign_in: Callable[..., User], world: dict[str, Any], db: Session
) -> None:
    """No mail goes out on resolution (docs/tickets.md: sending is not built): the form's hint, the
    refusal and the timeline say where the resolution is kept, not that it was sent."""
    sign_in("agent")
    t = world["ticket"]
    html = _page(client, t)
    token = csrf_of(html)
    assert "sent to the customer" not in html and "kept on the ticket’s timeline" in html
    r = client.post(
        f"/desk/tickets/{t.id}/status", data={"to": "open", "version": str(t.version), "csrf": token}
    )
    assert r.status_code == 200, r.text
    db.expire_all()
    version = str(db.get_one(Ticket, t.id).version)
    form = {"to": "resolved", "version": version, "csrf": token}
    r = client.post(f"/desk/tickets/{t.id}/status", data=form)
    assert r.status_code == 422
    assert "it is kept on the ticket, in its timeline" in r.text and "sent to the customer" not in r.text
    r = client.post(
        f"/desk/tickets/{t.id}/status",
        data={"to": "resolved", "reason": "Reset the chiller.", "version": version, "csrf": token},
    )
    assert r.status_code == 200, r.text
    assert "Resolution recorded for the customer" in r.text and "sent to the customer" not in r.text
