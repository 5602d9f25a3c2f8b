"""The reason a run stores for a visit an absence left out names that absence (who, from–to on the
region's clock): the engine only sees a shorter shift. Everything reads that stored reason — the
board, the explanation (API), the what-if preview says it the same way — and nothing adds to it
where it is shown, so rows stored before still read as they were stored."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

import dispatch
from app.models import Absence, PlanUnassigned, WorkOrderWindow
from app.planning import board as plan_board
from app.planning import explain, reasons, whatif
from app.planning.service import Loaded
from tests.planning import world as pw
from tests.planning.test_planning import run_plan

TZ = "Europe/Berlin"


def _loaded(absences: dict[int, tuple[datetime, datetime]], skipped: dict[int, str] | None = None) -> Loaded:
    day = date(2026, 12, 15)
    return Loaded(
        region_id=1,
        day=day,
        tz=TZ,
        ref=datetime(2026, 12, 14, 23, tzinfo=UTC),
        as_of=None,
        problem=None,
        versions={},
        part_ids={},
        van_location={},
        warehouse_location={},
        skipped_engineers=skipped or {},
        skipped_skills={k: ("Ada Field", frozenset({"ELEC"})) for k in skipped or {}},
        absences=absences,
    )


def _local(hour: int) -> datetime:
    return datetime.combine(date(2026, 12, 15), time(hour), ZoneInfo(TZ))


def test_a_reason_naming_an_engineer_absent_from_a_time_says_so_once() -> None:
    names = {12: "Ada Field", 13: "Bo Lind"}
    loaded = _loaded({12: (_local(13), _local(17))})
    job = dispatch.Job(id="WO7", location=(48.1, 11.5), duration_s=3600, skills=frozenset({"ELEC"}))
    off = dispatch.Unassigned("WO7", "off_shift", "E12 has the skills but no shift or cover then")
    said = reasons.left_out(loaded, job, off, names)
    assert (said.reason, said.detail) == (
        "off_shift",
        "Ada Field has the skills but no shift or cover then (Ada Field is absent from 13:00 to 17:00)",
    )
    # her on-call cover is her too; another engineer's reason, or another constraint, says nothing of it
    cover = dispatch.Unassigned(
        "WO7", "off_shift", "E12~oc5.0, E13 have the skills but no shift or cover then"
    )
    assert reasons.left_out(loaded, job, cover, names).detail == (
        "Ada Field (on call), Bo Lind have the skills but no shift or cover then "
        "(Ada Field is absent from 13:00 to 17:00)"
    )
    other = dispatch.Unassigned("WO7", "off_shift", "E13 has the skills but no shift or cover then")
    assert (
        reasons.left_out(loaded, job, other, names).detail
        == "Bo Lind has the skills but no shift or cover then"
    )
    parts = dispatch.Unassigned(
        "WO7", "no_part", "not enough P-1 (needs 1) in any capable engineer's van or any warehouse"
    )
    # the plan searched the region's warehouses only: one in another region may hold the part
    assert reasons.left_out(loaded, job, parts, names).detail == (
        "not enough P-1 (needs 1) in any capable engineer's van or any warehouse in the region"
    )
    short = dispatch.Candidate("E12", "part", "P-1 neither in the van nor in any warehouse")
    assert reasons.candidate(loaded, job, short) == (
        "part",
        "P-1 neither in the van nor in any warehouse in the region",
    )
    assert reasons.left_out(_loaded({}), job, off, names).detail == (
        "Ada Field has the skills but no shift or cover then"
    )
    # gone for the rest of the day when the day is re-planned (the engine never saw her): since when
    gone = _loaded({12: (_local(13), _local(17))}, skipped={12: "absent"})
    nobody = dispatch.Unassigned("WO7", "no_skill", "no engineer has all of the required skills (ELEC)")
    assert reasons.left_out(gone, job, nobody, names).detail == (
        "Ada Field has the skills but is absent from 13:00 to 17:00"
    )
    assert reasons.left_out(_loaded({}, skipped={12: "absent"}), job, nobody, names).detail == (
        "Ada Field has the skills but is absent that day"
    )


def test_the_stored_reason_names_the_absence_and_the_board_and_explanation_show_it_as_stored(
    db: Session,
) -> None:
    w = pw.build(db, jobs=0)
    elec = w.engineers[1]  # the only ELEC engineer; shift 08:00–17:00
    day = pw.next_weekday(1)
    tz = ZoneInfo(w.region.timezone)
    afternoon = pw.add_visit(db, w, skill="ELEC")
    window = (datetime.combine(day, time(14), tz), datetime.combine(day, time(16), tz))
    db.add(WorkOrderWindow(work_order_id=afternoon.id, starts_at=window[0], ends_at=window[1]))
    db.commit()
    # the what-if preview of the absence says it as the publish will store it
    preview = whatif.preview(
        db,
        region_id=w.region.id,
        day=day,
        absent_engineer_id=elec.id,
        absent_from=datetime.combine(day, time(13), tz),
    )
    expected = (
        f"{elec.name} has the skills but no shift or cover then ({elec.name} is absent from 13:00 to 17:00)"
    )
    assert preview["reasons"][afternoon.number] == expected
    db.rollback()
    db.add(Absence(engineer_id=elec.id, day=day, reason="sickness", from_time=time(13)))
    db.commit()
    run = run_plan(db, w, day)
    stored = db.scalar(
        select(PlanUnassigned).where(
            PlanUnassigned.plan_run_id == run.id, PlanUnassigned.work_order_id == afternoon.id
        )
    )
    assert stored is not None and (stored.reason, stored.detail) == ("off_shift", expected)
    left = next(u for u in plan_board.board(db, region_id=w.region.id, day=day)["unassigned"])
    assert left["detail"] == expected
    assert explain.explain(db, afternoon).reason.endswith(f"({expected})")

    # a row stored before reasons named the absence reads as stored: nothing added where shown
    old = f"{elec.name} has the skills but no shift or cover then"
    stored.detail = old
    db.commit()
    left = next(u for u in plan_board.board(db, region_id=w.region.id, day=day)["unassigned"])
    assert left["detail"] == old
    assert [g["label"] for g in left["choices"]][-1] == "Absent at its time"  # still named: still last
    assert explain.explain(db, afternoon).reason.endswith(f"({old})")
    # and one stored before reasons named engineers (the engine's key) reads with the name
    stored.detail = f"E{elec.id} has the skills but no shift or cover then"
    db.commit()
    left = next(u for u in plan_board.board(db, region_id=w.region.id, day=day)["unassigned"])
    assert left["detail"] == old
