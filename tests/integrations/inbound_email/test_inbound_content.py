"""What an inbound mail shows the agent: its attachments named on the timeline (the files are not
kept) and an HTML-only mail as readable, safe text."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.integrations.inbound_email.html_text import html_to_text
from app.integrations.inbound_email.mime import MAX_ATTACHMENTS_LISTED
from app.models import TicketEvent
from app.platform.auth import issue_token
from app.platform.deps import SESSION_COOKIE
from tests import factories as f
from tests.integrations.inbound_email.test_inbound_email import post


def _photo_mail(*, extra_files: int = 0) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Anna Berg <anna.berg@kunde.example>"
    msg["Subject"] = "Foto anbei"
    msg["Message-ID"] = "<photo@kunde.example>"
    msg.set_content("See the photo and the log.")
    msg.add_attachment(
        b"\xff\xd8" + b"\x00" * 1_199_998, maintype="image", subtype="jpeg", filename="foto.jpg"
    )
    msg.add_attachment(b"E17 at 10:02\n", maintype="text", subtype="plain", filename="log.txt")
    forwarded = EmailMessage()
    forwarded["Subject"] = "the original order"
    forwarded.set_content("Order 4711")
    msg.add_attachment(forwarded)
    for i in range(extra_files):
        msg.add_attachment(b"%d" % i, maintype="application", subtype="octet-stream", filename=f"f{i}.bin")
    return bytes(msg)


def _event(db: Session, event_id: int) -> TicketEvent:
    event = db.get(TicketEvent, event_id)
    assert event is not None
    return event


def _page(client: TestClient, db: Session, ticket_id: int) -> str:
    user = f.make_user(db, role="agent")
    db.commit()
    client.cookies.set(SESSION_COOKIE, issue_token(user))
    r = client.get(f"/desk/tickets/{ticket_id}")
    assert r.status_code == 200, r.text[:300]
    return r.text


def test_attachments_are_named_on_the_timeline_and_the_page(
    client: TestClient, db: Session, people: dict[str, Any]
) -> None:
    r = post(client, _photo_mail())
    assert r.status_code == 201, r.text
    event = _event(db, r.json()["event_id"])
    assert event.body == "See the photo and the log."
    assert event.data["attachments"] == [
        {"filename": "foto.jpg", "content_type": "image/jpeg", "size": 1_200_000},
        {"filename": "log.txt", "content_type": "text/plain", "size": 13},
        {"filename": "attached message", "content_type": "message/rfc822", "size": None},
    ]
    page = _page(client, db, r.json()["ticket_id"])
    assert "Attachment not kept: foto.jpg (image/jpeg, 1.2 MB)" in page
    assert "Attachment not kept: log.txt (text/plain, 13 bytes)" in page
    assert "Attachment not kept: attached message (message/rfc822, size unknown)" in page


def test_many_attachments_are_listed_up_to_a_cap_and_counted(
    client: TestClient, db: Session, people: dict[str, Any]
) -> None:
    r = post(client, _photo_mail(extra_files=60))
    assert r.status_code == 201, r.text
    data = _event(db, r.json()["event_id"]).data
    assert len(data["attachments"]) == MAX_ATTACHMENTS_LISTED
    assert data["attachments_not_listed"] == 63 - MAX_ATTACHMENTS_LISTED
    assert f"and {63 - MAX_ATTACHMENTS_LISTED} more attachments, not listed" in _page(
        client, db, r.json()["ticket_id"]
    )


HTML = """<!DOCTYPE html><html><head><title>Newsletter title</title>
<style>p { color: red }</style><script>alert("head")</script></head>
<body><div>Guten Tag,</div><div>the <b>pump</b>&nbsp;&amp; the&#32;valve fail:</div>
<ul><li>hall 2</li><li>hall 3</li></ul>
<table><tr><td>Code</td><td>E17</td></tr><tr><td>Since</td><td>Monday</td></tr></table>
<p>First line<br>second line</p><p>&lt;script&gt;alert(1)&lt;/script&gt;</p>
<script>alert(2)</script><!-- a comment --><img src=x onerror=alert(3)>Regards</body></html>"""


def test_an_html_only_mail_becomes_readable_text(
    client: TestClient, db: Session, people: dict[str, Any]
) -> None:
    msg = EmailMessage()
    msg["From"] = "anna.berg@kunde.example"
    msg["Subject"] = "HTML only"
    msg["Message-ID"] = "<html@kunde.example>"
    msg.set_content(HTML, subtype="html")

    r = post(client, bytes(msg))

    assert r.status_code == 201, r.text
    body = _event(db, r.json()["event_id"]).body
    assert body == (
        "Guten Tag,\nthe pump & the valve fail:\n\n- hall 2\n- hall 3\n\nCode E17\nSince Monday\n\n"
        "First line\nsecond line\n\n<script>alert(1)</script>\n\nRegards"
    )
    page = _page(client, db, r.json()["ticket_id"])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as text, escaped
    assert "alert(1)</script>" not in page and "alert(2)" not in page and "Newsletter title" not in page


def test_html_text_edge_cases() -> None:
    assert html_to_text("<head><style>x{}</style><p>no body tag</p>") == "no body tag"
    assert html_to_text("a<br><br>b<br/>c") == "a\n\nb\nc"
    assert html_to_text("<pre>  indented\n  code</pre>") == "indented\n  code"
    assert html_to_text("1 < 2 and <3 <<b>ok</b>") == "1 < 2 and <3 <ok"
    # unclosed tags are text, read in one pass (html.parser took minutes for 100 KB of these)
    assert html_to_text("<a " * 2000) == ("<a " * 2000).strip()
    assert html_to_text("<!-- never closed <p>hidden") == ""
    assert html_to_text("<script>never closed <p>hidden") == ""
