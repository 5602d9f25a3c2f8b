"""Pages explain a refused form with the labels a person sees, not the API's field names."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.desk.tickets import service as tickets
from app.models import Ticket, User
from app.platform.errors import Unprocessable
from app.web.messages import field_label, page_error
from tests import factories as f
from tests.web.conftest import csrf_of

INTERNAL_NAME = re.compile(r"\b[a-z]+_[a-z_]+\b")  # duration_min, ticket_id, appointment_end_at …


@pytest.fixture
def ticket(db: Session) -> Ticket:
    acc = f.make_account(db, name="Labels GmbH")
    t = tickets.create_ticket(
        db, account_id=acc.id, subject="Noise", priority="P3", channel="phone", actor=None
    )
    db.commit()
    return t


def _refused_work_order(client: TestClient, ticket: Ticket, **form: str) -> str:
    """Post the ticket page's work-order form; it must be refused. Returns the page's error message."""
    token = csrf_of(client.get(f"/desk/tickets/{ticket.id}").text)
    r = client.post(f"/desk/tickets/{ticket.id}/work-orders", data={"csrf": token, **form})
    assert r.status_code == 422
    match = re.search(r'<p class="alert" role="alert">(.*?)</p>', r.text, re.S)
    assert match, "no error message on the page"
    return match.group(1)


def test_work_order_form_errors_name_the_labels(
    client: TestClient, sign_in: Callable[..., User], ticket: Ticket
) -> None:
    sign_in("agent")
    alert = _refused_work_order(client, ticket, duration_min="1", appointment_start="tomorrow")
    assert "Duration (minutes): between 5 and 1440 minutes" in alert
    assert "Appointment from: not a date and time" in alert
    assert not INTERNAL_NAME.search(alert), alert
    assert "duration min" not in alert
    # a superscript two is a digit to str.isdigit but no number to int(): refused by name, no 500
    alert = _refused_work_order(client, ticket, duration_min="²")
    assert "Duration (minutes): between 5 and 1440 minutes" in alert


def test_service_errors_on_pages_name_the_labels(
    client: TestClient, sign_in: Callable[..., User], ticket: Ticket
) -> None:
    sign_in("agent")
    alert = _refused_work_order(
        client,
        ticket,
        duration_min="60",
        appointment_start="2030-05-06T12:00",
        appointment_end="2030-05-06T10:00",
    )
    # the service names ticket_id and appointment_end_at; the page says Ticket and Appointment until
    assert alert.startswith("The work order was not saved: "), alert
    assert f"Ticket: ticket {ticket.number} has no asset or site to visit" in alert, alert
    assert "Appointment until: must be after “Appointment from”" in alert
    assert not INTERNAL_NAME.search(alert), alert
    # and under the field itself (it read "must be after appointment_start_at")
    token = csrf_of(client.get(f"/desk/tickets/{ticket.id}").text)
    page = client.post(
        f"/desk/tickets/{ticket.id}/work-orders",
        data={
            "csrf": token,
            "duration_min": "60",
            "appointment_start": "2030-05-06T12:00",
            "appointment_end": "2030-05-06T10:00",
        },
    ).text
    assert "must be after appointment_start_at" not in page and "must be after “Appointment from”" in page


@pytest.mark.parametrize(
    ("field", "label"),
    [
        ("ticket_id", "Ticket"),
        ("duration_min", "Duration (minutes)"),
        ("required_parts.0.quantity", "Parts needed 1: quantity"),
        ("travel_km", "Travel (km)"),
        ("subject", "Subject"),
    ],
)
def test_field_labels(field: str, label: str) -> None:
    assert field_label(field) == label


def test_page_error_rewrites_a_field_list_but_keeps_prose() -> None:
    exc = Unprocessable(
        "ticket_id: the ticket is closed; duration_min: at most 1440",
        errors=[
            {"field": "ticket_id", "message": "the ticket is closed"},
            {"field": "duration_min", "message": "at most 1440"},
        ],
    )
    assert page_error(exc) == "Ticket: the ticket is closed; Duration (minutes): at most 1440"
    prose = Unprocessable("Close the open work orders first.", errors=[{"field": "status", "message": "x"}])
    assert page_error(prose) == "Close the open work orders first."
