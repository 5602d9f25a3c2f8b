"""SLA maths: business-hours calendars (breaks, weekends, holidays, DST) and the clock ledger.

The calendar and ledger tests are pure (no database); the last ones run the ledger end to end
through the ticket service and the breach-check task.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.desk.sla import calendar as sla
from app.desk.sla.calendar import Entry
from app.desk.tickets import service as tickets
from app.models import SlaEvent, SlaTarget, Ticket, WebhookDelivery, WebhookSubscription
from app.platform.db import utcnow
from tests import factories as f

BERLIN = ZoneInfo("Europe/Berlin")


OFFICE = {str(d): [["08:00", "12:00"], ["13:00", "17:00"]] for d in range(5)}  # Mon–Fri, break
ALL_DAY = {str(d): [["00:00", "24:00"]] for d in range(7)}


def local(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=BERLIN)


def office(**kw: object) -> sla.Calendar:
    return sla.make_calendar(timezone="Europe/Berlin", hours=OFFICE, **kw)  # type: ignore[arg-type]


H = timedelta(hours=1)
M = timedelta(minutes=1)

# 2026-03-02 is a Monday; 2026-03-29 (spring forward) and 2026-10-25 (fall back) are Sundays.


def test_due_within_a_day_and_across_the_lunch_break() -> None:
    cal = office()
    assert sla.add_covered(cal, local(2026, 3, 3, 9), 2 * H) == local(2026, 3, 3, 11)
    # 11:30 + 1 h: 30 min before the break, 30 min after it
    assert sla.add_covered(cal, local(2026, 3, 3, 11, 30), H) == local(2026, 3, 3, 13, 30)
    # starting inside the break counts from 13:00
    assert sla.add_covered(cal, local(2026, 3, 3, 12, 15), 30 * M) == local(2026, 3, 3, 13, 30)
    assert sla.covered(cal, local(2026, 3, 3, 11), local(2026, 3, 3, 14)) == 2 * H


def test_target_used_up_at_closing_time_is_due_at_closing_not_next_morning() -> None:
    cal = office()
    assert sla.add_covered(cal, local(2026, 3, 3, 16), H) == local(2026, 3, 3, 17)
    assert sla.add_covered(cal, local(2026, 3, 3, 16), H + M) == local(2026, 3, 4, 8, 1)


def test_weekend_and_out_of_hours_start() -> None:
    cal = office()
    # Friday 16:00 + 2 h → Monday 09:00
    assert sla.add_covered(cal, local(2026, 3, 6, 16), 2 * H) == local(2026, 3, 9, 9)
    # opened on Saturday: the clock starts Monday 08:00
    assert sla.add_covered(cal, local(2026, 3, 7, 10), 30 * M) == local(2026, 3, 9, 8, 30)
    assert sla.covered(cal, local(2026, 3, 6, 17), local(2026, 3, 9, 8)) == timedelta(0)


def test_holidays_are_skipped() -> None:
    cal = office(holidays=[date(2026, 3, 9)])  # Monday off
    assert sla.add_covered(cal, local(2026, 3, 6, 16), 2 * H) == local(2026, 3, 10, 9)
    week = sla.covered(cal, local(2026, 3, 9), local(2026, 3, 16))
    assert week == 4 * 8 * H  # five office days minus the holiday


def test_dst_spring_forward_counts_real_time() -> None:
    cal = sla.make_calendar(timezone="Europe/Berlin", hours=ALL_DAY)
    sat_noon = local(2026, 3, 28, 12)
    due = sla.add_covered(cal, sat_noon, 24 * H)
    # the Sunday has 23 hours: 24 real hours later it is 13:00 summer time
    assert due == local(2026, 3, 29, 13)
    assert due.astimezone(UTC) == sat_noon.astimezone(UTC) + 24 * H
    assert sla.covered(cal, local(2026, 3, 29), local(2026, 3, 30)) == 23 * H


def test_dst_fall_back_day_has_25_hours() -> None:
    cal = sla.make_calendar(timezone="Europe/Berlin", hours=ALL_DAY)
    assert sla.covered(cal, local(2026, 10, 25), local(2026, 10, 26)) == 25 * H
    assert sla.add_covered(cal, local(2026, 10, 25), 25 * H) == local(2026, 10, 26)


def test_office_hours_across_the_dst_weekend() -> None:
    cal = office()
    # Friday 16:00 CET + 2 h → Monday 09:00 CEST, which is 07:00 UTC (not 08:00)
    due = sla.add_covered(cal, local(2026, 3, 27, 16), 2 * H)
    assert due == local(2026, 3, 30, 9)
    assert due.astimezone(UTC) == datetime(2026, 3, 30, 7, tzinfo=UTC)
    # a night window through the jump: 01:00 CET to 04:00 CEST is two real hours
    night = sla.make_calendar(timezone="Europe/Berlin", hours={"6": [["01:00", "04:00"]]})
    assert sla.covered(night, local(2026, 3, 29), local(2026, 3, 30)) == 2 * H


def test_always_open_counts_every_instant() -> None:
    cal = sla.make_calendar(
        timezone="Europe/Berlin", hours={}, always_open=True, holidays=[date(2026, 12, 25)]
    )
    start = local(2026, 12, 24, 23)
    assert sla.add_covered(cal, start, 90 * M) == start + 90 * M
    assert sla.covered(cal, start, start + 48 * H) == 48 * H


@pytest.mark.parametrize(
    "hours",
    [
        {"0": [["09:00", "08:00"]]},  # ends before it starts
        {"0": [["08:00", "12:00"], ["11:00", "13:00"]]},  # overlap
        {"7": [["08:00", "12:00"]]},  # no such weekday
        {"0": [["8h", "12:00"]]},  # not HH:MM
        {"0": [["08:00", "24:30"]]},  # beyond midnight
        {"0": [["08:00"]]},  # not a pair
    ],
)
def test_bad_hours_are_refused(hours: dict[str, list[list[str]]]) -> None:
    with pytest.raises(ValueError):
        sla.make_calendar(timezone="Europe/Berlin", hours=hours)


def test_unknown_timezone_naive_datetimes_and_empty_calendars_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        sla.make_calendar(timezone="Mars/Olympus", hours=OFFICE)
    with pytest.raises(ValueError, match="naive"):
        sla.add_covered(office(), datetime(2026, 3, 3, 9), H)
    empty = sla.make_calendar(timezone="Europe/Berlin", hours={})
    with pytest.raises(ValueError, match="no working time"):
        sla.add_covered(empty, local(2026, 3, 3), H)


def test_add_covered_is_the_inverse_of_covered() -> None:
    """For random starts and amounts: exactly `amount` is covered by the due time, and one
    second earlier less is — across breaks, weekends, holidays and both DST changes."""
    rng = random.Random(7)
    cal = office(holidays=[date(2026, 3, 30), date(2026, 10, 26), date(2026, 5, 1)])
    base = local(2026, 1, 1)
    for _ in range(150):
        start = base + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
        amount = timedelta(minutes=rng.randrange(1, 5 * 8 * 60))
        due = sla.add_covered(cal, start, amount)
        assert sla.covered(cal, start, due) == amount
        assert sla.covered(cal, start, due - timedelta(seconds=1)) < amount


# --- ledger replay (pure) ---------------------------------------------------------------------

T0 = local(2026, 3, 3, 9)  # a Tuesday, 09:00


def test_pause_moves_the_due_time_by_the_covered_paused_time() -> None:
    cal = office()
    entries = [Entry(T0, "start"), Entry(T0 + H, "pause"), Entry(T0 + 3 * H + 30 * M, "resume")]
    segments = sla.running_segments(entries)
    assert segments == [(T0, T0 + H), (T0 + 3 * H + 30 * M, None)]
    # 4 h target: 1 h ran before the pause (09–10); paused 10:00–12:30 (of which 2 h covered);
    # the remaining 3 h run 12:30 → 12:00 break ends 13:00 → 16:00
    assert sla.due_at(cal, segments, 4 * H) == local(2026, 3, 3, 16)
    # while paused short of the target there is no due time
    assert sla.due_at(cal, sla.running_segments(entries[:2]), 4 * H) is None
    # but a target reached before the pause keeps its due time
    assert sla.due_at(cal, sla.running_segments(entries[:2]), 30 * M) == T0 + 30 * M


def test_repeated_pauses_and_stop_resume() -> None:
    entries = [
        Entry(T0, "start"),
        Entry(T0 + H, "pause"),
        Entry(T0 + 2 * H, "pause"),
        Entry(T0 + 3 * H, "resume"),
        Entry(T0 + 4 * H, "stop"),
        Entry(T0 + 5 * H, "resume", data={"reopened": True}),
        Entry(T0 + 5 * H, "met", metric="first_response"),
    ]
    assert sla.running_segments(entries) == [(T0, T0 + H), (T0 + 3 * H, T0 + 4 * H), (T0 + 5 * H, None)]
    paused = sla.wall_paused(sla.running_segments(entries), started=T0, until=T0 + 6 * H)
    assert paused == 3 * H


def test_achieved_metric_keeps_its_due_time_when_the_clock_pauses_later() -> None:
    cal = office()
    entries = [Entry(T0, "start"), Entry(T0 + 2 * H, "pause")]
    achieved = T0 + 30 * M
    segs = sla.metric_segments(entries, achieved)
    assert sla.due_at(cal, segs, H) == T0 + H  # unaffected by the pause at 11:00
    # achieved while paused: its clock froze at the pause and continues from the achievement
    late = sla.metric_segments(entries, T0 + 3 * H)
    assert late == [(T0, T0 + 2 * H), (T0 + 3 * H, None)]
    assert sla.elapsed(cal, late, T0 + 3 * H) == 2 * H


def test_retarget_recomputes_from_the_whole_ledger() -> None:
    cal = office()
    entries = [
        Entry(T0, "start", data={"targets": {"resolution": 480}}),
        Entry(T0 + H, "pause"),
        Entry(T0 + 2 * H, "resume"),
        Entry(T0 + 3 * H, "retarget", data={"to": {"targets": {"resolution": 240}}}),
    ]
    assert sla.current_targets(entries)["targets"] == {"resolution": 240}
    segs = sla.running_segments(entries)
    # 4 h target, 1 h paused 10–11: 09–10, 11–12, 13–15 → 15:00
    assert sla.due_at(cal, segs, timedelta(minutes=240)) == local(2026, 3, 3, 15)


# --- ledger end to end ---------------------------------------------------------------------------


def _setup(db: Session, *, always_open: bool = True, **targets: tuple[int, int, int]) -> dict:
    """A customer with an asset under a contract of tier 'sla-test' on the given calendar."""
    for prio, (fr, arr, res) in targets.items():
        db.add(
            SlaTarget(
                tier="sla-test", priority=prio, first_response_min=fr, arrival_min=arr, resolution_min=res
            )
        )
    cal = f.make_calendar(db, always_open=always_open)
    acc = f.make_account(db)
    contract = f.make_contract(db, acc, cal, tier="sla-test")
    asset = f.make_asset(db, f.make_site(db, acc), contract=contract)
    return {
        "account": acc,
        "asset": asset,
        "contact": f.make_contact(db, acc),
        "cal": cal,
        "user": f.make_user(db, role="agent"),
        "contract": contract,
    }


def _open(db: Session, s: dict, *, opened_at: datetime, priority: str = "P3") -> Ticket:
    return tickets.create_ticket(
        db,
        account_id=s["account"].id,
        contact_id=s["contact"].id,
        asset_id=s["asset"].id,
        subject="Compressor trips",
        priority=priority,
        channel="phone",
        actor=s["user"],
        opened_at=opened_at,
    )


def _ledger(db: Session, ticket: Ticket) -> list[tuple[str, str | None]]:
    rows = db.scalars(
        select(SlaEvent).where(SlaEvent.ticket_id == ticket.id).order_by(SlaEvent.at, SlaEvent.id)
    )
    return [(r.kind, r.metric) for r in rows]


def test_waiting_on_customer_pauses_and_resumes_the_clock(db: Session) -> None:
    s = _setup(db, P3=(60, 600, 600))
    t0 = utcnow().replace(microsecond=0) - 4 * H
    t = _open(db, s, opened_at=t0)
    assert t.sla_tier == "sla-test" and t.resolution_due_at == t0 + 10 * H
    tickets.transition(db, ticket_id=t.id, to="open", actor=s["user"], channel="api", at=t0 + 10 * M)
    tickets.add_reply(
        db,
        ticket_id=t.id,
        body="Can you send the error code?",
        actor=s["user"],
        channel="api",
        at=t0 + 20 * M,
    )
    tickets.transition(
        db, ticket_id=t.id, to="waiting_on_customer", actor=s["user"], channel="api", at=t0 + H
    )
    assert t.sla_paused and t.resolution_due_at is None
    assert t.first_response_due_at == t0 + H  # achieved before the pause: stays fixed
    tickets.transition(db, ticket_id=t.id, to="open", actor=s["user"], channel="api", at=t0 + 3 * H)
    assert not t.sla_paused
    assert t.resolution_due_at == t0 + 12 * H  # 10 h target + 2 h paused
    assert _ledger(db, t) == [("start", None), ("met", "first_response"), ("pause", None), ("resume", None)]
    from app.desk.sla import status as sla_status

    state = sla_status.metric_states(db, t, now=t0 + 4 * H)
    assert state["paused_seconds"] == 2 * 3600
    res = next(m for m in state["metrics"] if m["metric"] == "resolution")
    assert res["state"] == "running" and res["elapsed_seconds"] == 2 * 3600
    assert res["remaining_seconds"] == 8 * 3600


def test_priority_change_retargets_without_losing_paused_time(db: Session) -> None:
    s = _setup(db, P4=(480, 2400, 4800), P1=(15, 120, 240))
    t0 = utcnow().replace(microsecond=0) - 3 * H
    t = _open(db, s, opened_at=t0, priority="P4")
    tickets.add_reply(db, ticket_id=t.id, body="On it", actor=s["user"], channel="api", at=t0 + 5 * M)
    tickets.transition(
        db, ticket_id=t.id, to="waiting_on_customer", actor=s["user"], channel="api", at=t0 + H
    )
    tickets.transition(db, ticket_id=t.id, to="open", actor=s["user"], channel="api", at=t0 + 2 * H)
    assert t.resolution_due_at == t0 + 4800 * M + H
    tickets.update_ticket(db, ticket_id=t.id, values={"priority": "P1"}, actor=s["user"], channel="api")
    # P1: 240 min of running time; the hour spent waiting is still excluded
    assert t.resolution_due_at == t0 + 240 * M + H
    assert t.first_response_due_at == t0 + 15 * M  # already met at +5 min
    retarget = db.scalar(select(SlaEvent).where(SlaEvent.ticket_id == t.id, SlaEvent.kind == "retarget"))
    assert retarget is not None
    assert retarget.data["from"]["priority"] == "P4" and retarget.data["to"]["priority"] == "P1"
    assert retarget.data["to"]["targets"]["resolution"] == 240
    assert not t.sla_breached


def test_contract_change_through_the_asset_retargets(db: Session) -> None:
    s = _setup(db, P3=(60, 600, 600))
    t0 = utcnow().replace(microsecond=0) - H
    t = _open(db, s, opened_at=t0)
    other = f.make_asset(db, f.make_site(db, s["account"]))  # no contract → 'standard' tier
    tickets.update_ticket(db, ticket_id=t.id, values={"asset_id": other.id}, actor=s["user"], channel="api")
    assert t.sla_tier == "standard" and t.sla_contract_id is None
    assert _ledger(db, t)[-1] == ("retarget", None)


def test_breach_check_marks_each_metric_once(db: Session) -> None:
    from app.desk.sla.tasks import check_breaches
    from app.platform.worker import run_task

    s = _setup(db, P2=(30, 120, 600))
    sub = WebhookSubscription(url="http://hooks.example/sla", secret="s", events=["ticket.sla_breached"])
    db.add(sub)
    t0 = utcnow().replace(microsecond=0) - 3 * H
    t = _open(db, s, opened_at=t0, priority="P2")
    db.commit()
    assert not t.sla_breached  # nothing has read the clock since the opening
    assert check_breaches() == 1  # first response (no visit yet: arrival is not measured)
    db.expire_all()
    assert t.sla_breached
    breach = db.scalar(select(SlaEvent).where(SlaEvent.ticket_id == t.id, SlaEvent.kind == "breach"))
    assert breach is not None and breach.metric == "first_response"
    assert breach.at == t0 + 30 * M  # the instant the target ran out
    sent = db.scalars(select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id))
    assert [(d.event, d.payload["data"]["metric"]) for d in sent] == [
        ("ticket.sla_breached", "first_response")
    ]
    run_task("fieldline.sla.check_breaches", {})  # registered under its beat name
    assert check_breaches() == 0  # once per metric
    # a visit makes the on-site arrival target count; it ran out at +2 h
    tickets.on_visit_scheduled(db, ticket_id=t.id, at=utcnow(), actor=None)
    db.commit()
    assert _ledger(db, t).count(("breach", "arrival")) == 1
    assert check_breaches() == 0


def test_paused_ticket_is_not_breached_while_waiting(db: Session) -> None:
    from app.desk.sla.tasks import check_breaches

    s = _setup(db, P3=(60, 600, 120))
    t0 = utcnow().replace(microsecond=0) - 5 * H
    t = _open(db, s, opened_at=t0)
    tickets.add_reply(
        db, ticket_id=t.id, body="Please send a photo", actor=s["user"], channel="api", at=t0 + 10 * M
    )
    tickets.transition(
        db, ticket_id=t.id, to="waiting_on_customer", actor=s["user"], channel="api", at=t0 + H
    )
    db.commit()
    assert check_breaches() == 0
    assert not t.sla_breached and t.resolution_due_at is None


def test_late_arrival_is_a_breach_and_on_time_is_met(db: Session) -> None:
    s = _setup(db, P2=(30, 120, 600))
    t0 = utcnow().replace(microsecond=0) - 5 * H
    late = _open(db, s, opened_at=t0, priority="P2")
    tickets.on_visit_scheduled(db, ticket_id=late.id, at=t0 + 10 * M, actor=None)
    tickets.on_visit_arrived(db, ticket_id=late.id, at=t0 + 3 * H, actor=None)
    assert ("breach", "arrival") in _ledger(db, late) and late.sla_breached
    ok = _open(db, s, opened_at=t0, priority="P2")
    # first response is a person's contact (a logged call), never the planner's scheduling
    tickets.log_call(
        db,
        ticket_id=ok.id,
        direction="outbound",
        summary="visit agreed",
        duration_min=3,
        actor=s["user"],
        channel="api",
        at=t0 + 5 * M,
    )
    tickets.on_visit_scheduled(db, ticket_id=ok.id, at=t0 + 10 * M, actor=None)
    tickets.on_visit_arrived(db, ticket_id=ok.id, at=t0 + H, actor=None)
    tickets.on_visit_finished(db, ticket_id=ok.id, at=t0 + 2 * H, fixed=True, actor=None)
    assert _ledger(db, ok) == [
        ("start", None),
        ("met", "first_response"),
        ("met", "arrival"),
        ("met", "resolution"),
        ("stop", None),
    ]
    assert ok.status == "resolved" and not ok.sla_breached


def test_office_calendar_due_times_on_a_real_ticket(db: Session) -> None:
    """Default calendar entitlement: no contract → tier 'standard', 'Standard business hours'."""
    db.add(
        SlaTarget(
            tier="standard", priority="P4", first_response_min=120, arrival_min=960, resolution_min=1440
        )
    )
    acc = f.make_account(db)
    user = f.make_user(db)
    friday_4pm = local(2026, 3, 6, 16).astimezone(UTC)
    t = tickets.create_ticket(
        db, account_id=acc.id, subject="Noise", priority="P4", channel="web", actor=user, opened_at=friday_4pm
    )
    assert t.sla_tier == "standard" and t.sla_contract_id is None
    # standard hours Mon–Fri 08–17: 1 h left on Friday, 1 h on Monday
    assert t.first_response_due_at == local(2026, 3, 9, 9)
    # 24 h = Fri 1 h + Mon 9 h + Tue 9 h + Wed 5 h → Wednesday 13:00
    assert t.resolution_due_at == local(2026, 3, 11, 13)


def test_expired_contract_gives_the_standard_entitlement(db: Session) -> None:
    s = _setup(db, P3=(60, 600, 600))
    s["contract"].ends_on = (utcnow() - 2 * 24 * H).date()
    t = _open(db, s, opened_at=utcnow())
    assert t.sla_tier == "standard" and t.sla_contract_id is None
    # opened while the contract was valid: the contract counts
    back = _open(db, s, opened_at=utcnow() - 5 * 24 * H)
    assert back.sla_tier == "sla-test" and back.sla_contract_id == s["contract"].id


def test_contract_change_retargets_its_open_tickets(db: Session) -> None:
    from app.desk.sla import clock as sla_clock

    s = _setup(db, P3=(60, 600, 600))
    db.add(
        SlaTarget(
            tier="sla-test-plus", priority="P3", first_response_min=30, arrival_min=240, resolution_min=300
        )
    )
    t0 = utcnow().replace(microsecond=0) - H
    t = _open(db, s, opened_at=t0)
    done = _open(db, s, opened_at=t0)
    tickets.transition(db, ticket_id=done.id, to="open", actor=None, channel="web", at=t0)
    tickets.transition(
        db, ticket_id=done.id, to="resolved", reason="reset", actor=None, channel="web", at=t0 + M
    )
    s["contract"].tier = "sla-test-plus"
    assert sla_clock.retarget_contract(db, contract_id=s["contract"].id) == 1
    assert t.sla_tier == "sla-test-plus" and t.resolution_due_at == t0 + 300 * M
    assert done.sla_tier == "sla-test"  # closed work keeps the entitlement it was measured by
    assert sla_clock.retarget_contract(db, contract_id=s["contract"].id) == 0  # nothing new
