"""Customer notifications: a visit was planned, its ETA moved by more than the margin, or it
was taken off the plan.

`on_published` runs inside the publishing transaction and writes at most one
`CustomerNotification` per visit and plan run (a unique key), so a redelivered publish tells
nobody twice; delivery is enqueued after the commit. A dispatcher's schedule by hand
(`on_scheduled`, from the session hook in app.planning.triggers) is told the same way, decided by
the same rule, with no plan run.

A change of a time the customer was told (`eta_changed`, `unplanned`: `HELD_KINDS`) waits `HOLD`
before it goes (the beat's `due_ids` sends it then): a check-in that re-planned the day
(out of order, on another day) and its undo a minute later re-plan twice within seconds, and the
customer must not get "new time 14:40" and then "new time 13:00". Each plan decides against what
the customer was actually told (sent or being sent) and supersedes a notice still held (status
`skipped`), so only the latest goes, and only if it differs from the last one sent. A first
notice (`planned`) and a `cancelled` go at once: nothing told before is contradicted.

Delivery goes through a pluggable `Sender`
(e-mail through app.platform.mail, or one a test installs). Sending is at-least-once: a worker
lost between the send and the bookkeeping sends again after the claim expires (e-mail has no
exactly-once).
The same changes also go out as `workorder.scheduled` webhooks (app.platform.events) from the publish.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

from app.models import (
    Account,
    Contact,
    CustomerNotification,
    NotificationStatus,
    Region,
    Site,
    Ticket,
    WorkOrder,
)
from app.platform import i18n
from app.platform.config import get_settings
from app.platform.db import utcnow
from app.platform.mail import get_mailer, new_message
from app.platform.outbox import enqueue

if TYPE_CHECKING:
    from app.planning.publish import Moved

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
CLAIM_TTL = timedelta(minutes=10)
# Long enough for a wrong check-in to be undone (the engineer sees the wrong customer at once) and
# both re-plans to publish; short against the 30 min margin a changed time must move to be told.
HOLD = timedelta(minutes=2)
HELD_KINDS = ("eta_changed", "unplanned")
# A notice that goes at once is enqueued after its commit; one still pending and never tried after
# this long lost that delivery (the process that committed it exited first): the beat sends it.
ENQUEUE_GRACE = timedelta(minutes=2)
TOLD = (NotificationStatus.sending.value, NotificationStatus.sent.value)


@dataclass(frozen=True)
class Notice:
    notification_id: int
    work_order_id: int
    number: str
    kind: str  # planned | eta_changed | unplanned | cancelled
    to: str
    customer: str  # the account (company)
    address: str
    eta_at: datetime | None
    eta_local: str  # e.g. "Tue 24 Nov, 10:40 (Europe/Berlin)", in the notice's language
    previous_eta_local: str
    contact: str = ""  # the ticket's contact person, greeted by name when known
    language: str = i18n.DEFAULT  # the account's (app.platform.i18n)

    @property
    def greeting(self) -> str:
        return i18n.text(self.language, "notice.greeting", name=self.contact or self.customer)

    @property
    def subject(self) -> str:
        return i18n.text(self.language, f"notice.subject.{self.kind}", number=self.number, eta=self.eta_local)

    @property
    def text(self) -> str:
        body = i18n.text(
            self.language,
            f"notice.body.{self.kind}",
            number=self.number,
            address=self.address,
            eta=self.eta_local,
            previous=self.previous_eta_local,
        )
        return f"{self.greeting}\n\n{body}\n"


class Sender(Protocol):
    def send(self, notice: Notice) -> None:
        """Deliver or raise; a raise is retried later."""
        ...


class MailSender:
    """The notice as an e-mail through the product's mail transport (app.platform.mail: SMTP
    when configured, else the log)."""

    def send(self, notice: Notice) -> None:
        msg = new_message(to=notice.to, subject=notice.subject)
        msg.set_content(notice.text)
        get_mailer().send(msg)


_sender: Sender | None = None


def set_sender(sender: Sender | None) -> None:
    """Install a sender (tests, integrations); None goes back to e-mail."""
    global _sender
    _sender = sender


def get_sender() -> Sender:
    return _sender if _sender is not None else MailSender()


# ------------------------------------------------------------------------------------- deciding
def _last(
    session: Session, work_order_ids: list[int], statuses: Iterable[str]
) -> dict[int, CustomerNotification]:
    out: dict[int, CustomerNotification] = {}
    rows = session.scalars(
        select(CustomerNotification)
        .where(
            CustomerNotification.work_order_id.in_(work_order_ids),
            CustomerNotification.status.in_(tuple(statuses)),
        )
        .order_by(CustomerNotification.id)
    )
    for n in rows:
        out[n.work_order_id] = n
    return out


def _told(session: Session, work_order_ids: list[int]) -> dict[int, CustomerNotification]:
    """Per visit, the last notice the customer got (or is getting), after superseding the notices
    still waiting: a later plan speaks for them. A notice a worker claimed meanwhile was told."""
    waiting = session.scalars(
        select(CustomerNotification.id).where(
            CustomerNotification.work_order_id.in_(work_order_ids),
            CustomerNotification.status == NotificationStatus.pending.value,
        )
    ).all()
    if waiting:
        # Guarded: a notice claimed by a worker since we looked stays as it is (it is being told).
        session.execute(
            update(CustomerNotification)
            .where(
                CustomerNotification.id.in_(waiting),
                CustomerNotification.status == NotificationStatus.pending.value,
            )
            .values(
                status=NotificationStatus.skipped.value,
                error="superseded by a later plan before it was sent",
            )
            .execution_options(synchronize_session=False)
        )
        for n in session.identity_map.values():
            if isinstance(n, CustomerNotification) and n.id in waiting:
                session.expire(n)
    return _last(session, work_order_ids, TOLD)


def decide(last: CustomerNotification | None, new_eta: datetime | None, margin: timedelta) -> str | None:
    """What to tell the customer, if anything, given what they were told last."""
    told = last is not None and last.kind not in ("unplanned", "cancelled")
    if new_eta is None:
        return "unplanned" if told else None
    if not told:
        return "planned"
    assert last is not None and last.eta_at is not None
    return "eta_changed" if abs(new_eta - last.eta_at) > margin else None


def on_published(session: Session, *, run_id: int, moved: Iterable[Moved]) -> int:
    """Queue a notification for every visit planned, moved past the margin, or unplanned."""
    moved = list(moved)
    if not moved:
        return 0
    ids = [m.work_order_id for m in moved]
    replayed = set(
        session.scalars(
            select(CustomerNotification.work_order_id).where(
                CustomerNotification.work_order_id.in_(ids), CustomerNotification.plan_run_id == run_id
            )
        )
    )
    moved = [m for m in moved if m.work_order_id not in replayed]  # a redelivered publish
    return _tell(session, run_id=run_id, moved=moved)


def on_scheduled(
    session: Session, *, work_order_id: int, old_eta: datetime | None, new_eta: datetime | None
) -> int:
    """A dispatcher scheduled or moved the visit by hand: told as a plan's move is (`planned` at
    once, `eta_changed` past the margin and held, so a quick correction or the next plan
    supersedes it). No plan run: the (visit, run) key never matches, and a later plan decides
    against what this told."""
    from app.planning.publish import Moved  # publish imports this module

    return _tell(session, run_id=None, moved=[Moved(work_order_id, old_eta, new_eta)])


def on_restored(session: Session, *, moved: Iterable[Moved]) -> int:
    """An undone check-in put its re-plan's moves back (app.planning.undo): the re-plan's notices
    still held are superseded, and a visit is told only if it now differs from what its customer
    was told (a time back where it was announced: nothing). No plan run: the restored plan may
    have told these visits already, under its own (visit, run) key."""
    return _tell(session, run_id=None, moved=list(moved))


def _tell(session: Session, *, run_id: int | None, moved: list[Moved]) -> int:
    if not moved:
        return 0
    margin = timedelta(minutes=get_settings().eta_notify_margin_min)
    last = _told(session, [m.work_order_id for m in moved])
    created = []
    for m in moved:
        kind = decide(last.get(m.work_order_id), m.new_eta, margin)
        if kind is None:
            continue
        prev = last.get(m.work_order_id)
        n = CustomerNotification(
            work_order_id=m.work_order_id,
            plan_run_id=run_id,
            kind=kind,
            eta_at=m.new_eta,
            previous_eta_at=prev.eta_at if prev else m.old_eta,
            recipient=_recipient(session, m.work_order_id),
        )
        session.add(n)
        created.append(n)
    session.flush()
    for n in created:
        if n.kind not in HELD_KINDS:  # held ones go with the beat once HOLD is over (`due_ids`)
            enqueue(session, "fieldline.notify.deliver", notification_id=n.id)
    return len(created)


def on_cancelled(session: Session, *, work_order_id: int) -> CustomerNotification | None:
    """A visit was cancelled: tell the customer if they had been told it would happen (the last
    notice announced a time); delivered after the commit like every notice."""
    last = _told(session, [work_order_id]).get(work_order_id)
    if last is None or last.kind in ("unplanned", "cancelled"):
        return None
    n = CustomerNotification(
        work_order_id=work_order_id,
        plan_run_id=None,
        kind="cancelled",
        eta_at=None,
        previous_eta_at=last.eta_at,
        recipient=_recipient(session, work_order_id),
    )
    session.add(n)
    session.flush()
    enqueue(session, "fieldline.notify.deliver", notification_id=n.id)
    return n


LEFT = "the ticket's contact has left the customer"


def _recipient(session: Session, work_order_id: int) -> str:
    return _contact(session, work_order_id)[0]


def _contact(session: Session, work_order_id: int) -> tuple[str, str]:
    """The ticket's contact: (e-mail, name), empty when there is none or they left the customer
    (deactivated: `_left`). No fallback to another person, as for a contact without e-mail."""
    row = session.execute(
        select(Contact.email, Contact.name)
        .select_from(WorkOrder)
        .join(Ticket, Ticket.id == WorkOrder.ticket_id)
        .join(Contact, Contact.id == Ticket.contact_id)
        .where(WorkOrder.id == work_order_id, Contact.active.is_(True))
    ).first()
    return ((row[0] or ""), (row[1] or "")) if row else ("", "")


def _left(session: Session, work_order_id: int) -> bool:
    """The ticket's contact was deactivated: checked when the notice goes, since they may have left
    after it was written."""
    active = session.scalar(
        select(Contact.active)
        .select_from(WorkOrder)
        .join(Ticket, Ticket.id == WorkOrder.ticket_id)
        .join(Contact, Contact.id == Ticket.contact_id)
        .where(WorkOrder.id == work_order_id)
    )
    return active is False


# ------------------------------------------------------------------------------------ delivering
def _held(now: datetime) -> ColumnElement[bool]:
    """A notice of a changed time still within its HOLD (a later plan may supersede it)."""
    return CustomerNotification.kind.in_(HELD_KINDS) & (CustomerNotification.created_at > now - HOLD)


def claim(session: Session, notification_id: int, now: datetime | None = None) -> Notice | None:
    """Take a due notification (pending and not held, or a claim left by a lost worker); None:
    nothing to do."""
    now = now or utcnow()
    got = session.execute(
        update(CustomerNotification)
        .where(
            CustomerNotification.id == notification_id,
            ((CustomerNotification.status == NotificationStatus.pending.value) & ~_held(now))
            | (
                (CustomerNotification.status == NotificationStatus.sending.value)
                & (CustomerNotification.claimed_at < now - CLAIM_TTL)
            ),
        )
        .values(
            status=NotificationStatus.sending.value,
            claimed_at=now,
            attempts=CustomerNotification.attempts + 1,
        )
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if got != 1:
        return None
    n = session.get(CustomerNotification, notification_id, populate_existing=True)
    assert n is not None
    if _left(session, n.work_order_id):
        n.status, n.error = NotificationStatus.skipped.value, LEFT
        return None
    if not n.recipient:
        n.status, n.error = NotificationStatus.skipped.value, "the ticket has no contact e-mail"
        return None
    wo = session.get(WorkOrder, n.work_order_id)
    assert wo is not None
    site = session.get(Site, wo.site_id)
    account = session.get(Account, wo.account_id)
    region = session.get(Region, wo.region_id)
    tz = region.timezone if region else get_settings().time_zone
    language = account.language if account else i18n.DEFAULT
    return Notice(
        notification_id=n.id,
        work_order_id=wo.id,
        number=wo.number or f"#{wo.id}",
        kind=n.kind,
        to=n.recipient,
        customer=account.name if account else "",
        address=site.address if site else "",
        eta_at=n.eta_at,
        eta_local=local_time(n.eta_at, tz, language),
        previous_eta_local=local_time(n.previous_eta_at, tz, language),
        contact=_contact(session, wo.id)[1],
        language=language,
    )


def local_time(at: datetime | None, tz: str, language: str = i18n.DEFAULT) -> str:
    """ "Tue 24 Nov, 10:40 (Europe/Berlin)" / "Dienstag, 24. November 2026, 10:40 Uhr"."""
    if at is None:
        return "—"
    when = i18n.format_datetime(language, at.astimezone(ZoneInfo(tz)))
    return i18n.text(language, "notice.when", when=when, zone=tz)


def record(session: Session, notification_id: int, error: str | None) -> str:
    n = session.get(CustomerNotification, notification_id, populate_existing=True)
    assert n is not None
    if error is None:
        n.status, n.sent_at, n.error = NotificationStatus.sent.value, utcnow(), None
    else:
        n.error = error[:2000]
        n.status = (
            NotificationStatus.failed.value
            if n.attempts >= MAX_ATTEMPTS
            else NotificationStatus.pending.value
        )
    return n.status


def due_ids(session: Session, limit: int = 100, now: datetime | None = None) -> list[int]:
    """Pending retries, held notices whose HOLD is over, notices never tried whose delivery was
    lost (`ENQUEUE_GRACE`), and claims left by a lost worker."""
    now = now or utcnow()
    return list(
        session.scalars(
            select(CustomerNotification.id)
            .where(
                (
                    (CustomerNotification.status == NotificationStatus.pending.value)
                    & (
                        (CustomerNotification.attempts > 0)
                        | CustomerNotification.kind.in_(HELD_KINDS)
                        | (CustomerNotification.created_at <= now - ENQUEUE_GRACE)
                    )
                    & ~_held(now)
                )
                | (
                    (CustomerNotification.status == NotificationStatus.sending.value)
                    & (CustomerNotification.claimed_at < now - CLAIM_TTL)
                )
            )
            .order_by(CustomerNotification.id)
            .limit(limit)
        )
    )
