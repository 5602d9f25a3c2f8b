"""Removing an absence or on-call cover re-plans, as recording it does (`app/planning/triggers.py`).

An absence recorded by mistake (or an engineer back early) had sent their visits to colleagues;
removing it left them with an empty day. Removed cover left a plan counting on an engineer no
longer on call. Now a removal is an event too: `absence_removed` re-plans that day, and
`on_call_removed` each planned day the cover touched from today on, only where a published plan
exists and never for the past (a day gone, or cover over already). Each removal is its own event,
so add -> remove -> add is three runs when each re-plan has run before the next change; while a
re-plan is still queued it absorbs the later events (it loads the newest state when it starts)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.engineers import service as engineers
from app.models import Absence, Engineer, OnCallShift, PlanDay, PlanRun, PlanStop
from app.planning import keys as plan_keys
from app.planning import runs as plan_runs
from app.platform.db import utcnow
from tests.planning import world as pw

SMALL = {"time_limit_s": 2.0, "solution_limit": 30}
TZ = ZoneInfo("Europe/Berlin")  # the world's region


def _plan(db: Session, w: pw.World, day: date) -> PlanRun:
    run = plan_runs.create_run(db, region_id=w.region.id, day=day, kind="plan", send=False, **SMALL)  # type: ignore[arg-type]
    db.commit()
    plan_runs.execute(run.id)
    db.expire_all()
    got = db.get_one(PlanRun, run.id)
    assert got.status == "published", (got.status, got.error)
    return got


def _published_unsolved(db: Session, w: pw.World, day: date) -> None:
    """A published plan of a day the solver is not asked about (a past day): its rows only."""
    run = PlanRun(region_id=w.region.id, day=day, kind="plan", trigger="api", status="published")
    db.add(run)
    db.flush()
    db.add(PlanDay(region_id=w.region.id, day=day, current_run_id=run.id, published_at=utcnow()))
    db.commit()


def _last_run_id(db: Session) -> int:
    return db.scalar(select(PlanRun.id).order_by(PlanRun.id.desc()).limit(1)) or 0


def _runs_after(db: Session, after: int) -> list[tuple[str, str, int, date]]:
    db.expire_all()
    runs = db.scalars(select(PlanRun).where(PlanRun.id > after).order_by(PlanRun.id))
    return [(r.kind, r.trigger, r.region_id, r.day) for r in runs]


def _absent(db: Session, engineer: Engineer, day: date) -> Absence:
    absence = engineers.add_absence(db, engineer=engineer, day=day, reason="sickness", actor=None)
    db.commit()
    return absence


def _remove_absence(db: Session, engineer: Engineer, day: date) -> None:
    """As the page and the API do: load the row, remove it through the service, commit."""
    absence_id = db.scalar(select(Absence.id).where(Absence.engineer_id == engineer.id, Absence.day == day))
    assert absence_id is not None
    engineers.remove_absence(db, engineer=engineer, absence_id=absence_id, actor=None)


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=TZ)


def _visits_of(db: Session, run_id: int, engineer_id: int) -> set[int | None]:
    stops = db.scalars(
        select(PlanStop).where(
            PlanStop.plan_run_id == run_id, PlanStop.kind == "job", PlanStop.engineer_id == engineer_id
        )
    )
    return {s.work_order_id for s in stops}


def _current(db: Session, w: pw.World, day: date) -> int:
    db.expire_all()
    run_id = db.scalar(
        select(PlanDay.current_run_id).where(PlanDay.region_id == w.region.id, PlanDay.day == day)
    )
    assert run_id is not None
    return run_id


# ------------------------------------------------------------------------------------- absences
def test_removing_an_absence_through_the_api_replans_that_day_once_and_gives_the_visits_back(
    client: TestClient, db: Session, login: Any
) -> None:
    w = pw.build(db, jobs=3)
    day = pw.next_weekday(1)
    back = w.engineers[1]
    elec = pw.add_visit(db, w, skill="ELEC", lat=48.15, lon=11.6)  # only `back` has ELEC
    _plan(db, w, day)
    assert elec.id in _visits_of(db, _current(db, w, day), back.id)
    _absent(db, back, day)  # recorded by mistake: the visits go to colleagues (or nobody)
    sick_run = db.get_one(PlanRun, _current(db, w, day))
    assert (sick_run.kind, sick_run.trigger) == ("replan", "sickness")
    assert _visits_of(db, sick_run.id, back.id) == set()
    absence_id = db.scalar(select(Absence.id).where(Absence.engineer_id == back.id))
    after = _last_run_id(db)

    url = f"/api/v1/engineers/{back.id}/absences/{absence_id}"
    dispatcher = login("dispatcher")
    r = client.delete(
        url, headers=dispatcher | {"If-Match": client.get(url, headers=dispatcher).headers["ETag"]}
    )

    assert r.status_code == 204, r.text
    assert _runs_after(db, after) == [("replan", "absence_removed", w.region.id, day)]
    current = db.get_one(PlanRun, _current(db, w, day))
    assert current.id > after and current.status == "published"
    assert elec.id in _visits_of(db, current.id, back.id)  # their day is no longer empty


def test_only_removed_absences_of_planned_days_from_today_on_replan(db: Session) -> None:
    """Three absences removed in one commit: the planned day re-plans; a day without a published
    plan and a past day (published) do not."""
    w = pw.build(db, jobs=2)
    planned, unplanned = pw.next_weekday(1), pw.next_weekday(2)
    yesterday = plan_keys.local_day(utcnow(), w.region.timezone) - timedelta(days=1)
    _plan(db, w, planned)
    _published_unsolved(db, w, yesterday)
    back = w.engineers[0]
    for day in (planned, unplanned):
        _absent(db, back, day)
    db.add(Absence(engineer_id=back.id, day=yesterday, reason="sickness"))  # past: asks for nothing
    db.commit()
    after = _last_run_id(db)

    for day in (planned, unplanned, yesterday):
        _remove_absence(db, back, day)
    db.commit()

    assert _runs_after(db, after) == [("replan", "absence_removed", w.region.id, planned)]


def test_add_remove_add_is_three_events_while_a_queued_replan_absorbs_them(db: Session) -> None:
    """Each re-plan runs (inline, in tests) before the next change: three runs. The same three
    changes in one transaction: the first event's re-plan is still queued and serves the others."""
    w = pw.build(db, jobs=2)
    day = pw.next_weekday(1)
    _plan(db, w, day)
    engineer = w.engineers[1]
    after = _last_run_id(db)
    for _ in range(2):  # on SQLite the second absence even gets the first one's id
        _absent(db, engineer, day)
        _remove_absence(db, engineer, day)
        db.commit()
    _absent(db, engineer, day)
    assert [trigger for _, trigger, _, _ in _runs_after(db, after)] == [
        "sickness",
        "absence_removed",
        "sickness",
        "absence_removed",
        "sickness",
    ]

    after = _last_run_id(db)
    _remove_absence(db, engineer, day)
    db.flush()
    engineers.add_absence(db, engineer=engineer, day=day, reason="training", actor=None)
    db.flush()
    _remove_absence(db, engineer, day)
    db.commit()
    assert _runs_after(db, after) == [("replan", "absence_removed", w.region.id, day)]


# ---------------------------------------------------------------------------------- on-call cover
def test_removing_on_call_cover_replans_each_covered_planned_day(db: Session) -> None:
    w = pw.build(db, jobs=2)
    tuesday = pw.next_weekday(1)
    wednesday, thursday = tuesday + timedelta(days=1), tuesday + timedelta(days=2)
    for day in (tuesday, thursday):  # Wednesday has no published plan
        _plan(db, w, day)
    engineer = w.engineers[0]
    cover = engineers.add_on_call(
        db,
        engineer=engineer,
        starts_at=_at(tuesday, 17),
        ends_at=_at(thursday, 8),
        note="",
        actor=None,
    )
    db.commit()
    assert sorted(day for _, trigger, _, day in _runs_after(db, 0) if trigger == "on_call") == [
        tuesday,
        thursday,
    ]
    after = _last_run_id(db)

    engineers.remove_on_call(db, engineer=engineer, on_call_id=cover.id, actor=None)
    db.commit()

    assert sorted(_runs_after(db, after), key=lambda r: r[3]) == [
        ("replan", "on_call_removed", w.region.id, tuesday),
        ("replan", "on_call_removed", w.region.id, thursday),
    ]
    # the same hours covered again (SQLite: the same id) are asked for again, and so is their removal
    again = engineers.add_on_call(
        db, engineer=engineer, starts_at=_at(tuesday, 17), ends_at=_at(wednesday, 8), note="", actor=None
    )
    db.commit()
    engineers.remove_on_call(db, engineer=engineer, on_call_id=again.id, actor=None)
    db.commit()
    assert [(trigger, day) for _, trigger, _, day in _runs_after(db, after)][2:] == [
        ("on_call", tuesday),
        ("on_call_removed", tuesday),
    ]


def test_removing_cover_that_is_over_replans_nothing(db: Session) -> None:
    """Cover over already (ended an hour ago: today's published plan, and yesterday's, stay) is
    removed with cover still to come: only the latter's planned day re-plans."""
    w = pw.build(db, jobs=2)
    today = plan_keys.local_day(utcnow(), w.region.timezone)
    later = pw.next_weekday(1)
    engineer, now = w.engineers[0], utcnow()
    over = OnCallShift(
        engineer_id=engineer.id, starts_at=now - timedelta(hours=26), ends_at=now - timedelta(hours=1)
    )
    coming = OnCallShift(engineer_id=engineer.id, starts_at=_at(later, 17), ends_at=_at(later, 22))
    db.add_all([over, coming])
    db.commit()  # before the plans: adding them asks for nothing
    _published_unsolved(db, w, today - timedelta(days=1))
    _published_unsolved(db, w, today)
    _plan(db, w, later)
    after = _last_run_id(db)

    for row in (over, coming):
        engineers.remove_on_call(db, engineer=engineer, on_call_id=row.id, actor=None)
    db.commit()

    assert _runs_after(db, after) == [("replan", "on_call_removed", w.region.id, later)]
