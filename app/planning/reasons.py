"""The binding constraint of a visit left out, as a dispatcher would name it.

The engine sees only the engineers who work that day (their shift or on-call cover); the bridge
knows who was left out and why (no shift that weekday, absent, shift over). So an engineer with
the skill who is off shift makes a visit "off shift", never "nobody has the skill".
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

import dispatch
from app.models import Engineer
from app.planning.service import Loaded

ENGINE_KEY = re.compile(r"\bE(\d+)(~oc\d+\.\d+)?\b")

OFF_DUTY = {
    "no shift that weekday": "off shift that day (no shift on that weekday)",
    "absent": "absent that day",
    "shift over": "the shift is over for today",
}


def off_duty(why: str) -> str:
    return OFF_DUTY.get(why, f"not working that day ({why})")


def absent_words(loaded: Loaded, engineer_id: int) -> str:
    """'absent from 13:00 to 17:00' (the region's clock; to: the end of the shift it cuts, or the
    time the engineer is back: a late start, a gap)."""
    start, end = loaded.absences[engineer_id]
    tz = ZoneInfo(loaded.tz)
    return f"absent from {start.astimezone(tz):%H:%M} to {end.astimezone(tz):%H:%M}"


def binding(loaded: Loaded, job: dispatch.Job, found: dispatch.Unassigned) -> dispatch.Unassigned:
    """The engine's reason, corrected where an engineer it never saw had the skills."""
    if found.reason != "no_skill" or job.pinned_engineer is not None:
        return found
    capable = [
        (name, _off_duty(loaded, eid))
        for eid, (name, skills) in sorted(loaded.skipped_skills.items())
        if job.skills <= skills
    ]
    if not capable:
        return found
    detail = "; ".join(f"{name} has the skills but is {why}" for name, why in capable)
    return dispatch.Unassigned(found.job_id, "off_shift", detail)


def _off_duty(loaded: Loaded, engineer_id: int) -> str:
    # gone for the rest of the day by the re-plan's moment: say since when, not "that day"
    if engineer_id in loaded.absences:
        return absent_words(loaded, engineer_id)
    return off_duty(loaded.skipped_engineers[engineer_id])


def left_out(
    loaded: Loaded, job: dispatch.Job | None, found: dispatch.Unassigned, names: dict[int, str]
) -> dispatch.Unassigned:
    """The reason a visit is left out as it is stored (plan_unassigned) and previewed: the
    binding constraint, engineers by name, and the part-day absence when it is what left the
    visit out. The engine only sees a shorter shift ("E12 has the skills but no shift or cover
    then"); the dispatcher needs to read why, and so do the API, the explanation and exports,
    which read the stored reason: it is said here, once, not added where it is shown."""
    u = binding(loaded, job, found) if job is not None else found
    detail = readable(u.detail, names)
    if u.reason == "off_shift":
        named = {int(m.group(1)) for m in ENGINE_KEY.finditer(u.detail)}
        for eid in sorted(named & set(loaded.absences)):
            who = names.get(eid, f"engineer {eid}")
            detail += f" ({who} is {absent_words(loaded, eid)})"
    return dispatch.Unassigned(u.job_id, u.reason, detail)


def nobody_works(loaded: Loaded) -> dispatch.Unassigned:
    """A day without anyone to plan for: say who is off and why."""
    who = "; ".join(
        f"{name}: {off_duty(loaded.skipped_engineers[eid])}"
        for eid, (name, _) in sorted(loaded.skipped_skills.items())
    )
    return dispatch.Unassigned("", "off_shift", "nobody works that day" + (f" ({who})" if who else ""))


def candidates_off_duty(loaded: Loaded, skills: frozenset[str]) -> list[tuple[int, str, str, str]]:
    """(engineer id, name, code, note) for each engineer the engine never saw that day."""
    out = []
    for eid, (name, has) in sorted(loaded.skipped_skills.items()):
        missing = sorted(skills - has)
        if missing:
            note = f"lacks the skill{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
            out.append((eid, name, "skill", note))
        else:
            out.append((eid, name, "off_shift", off_duty(loaded.skipped_engineers[eid])))
    return out


def engineer_names(session: Session, region_id: int) -> dict[int, str]:
    return dict(
        session.execute(select(Engineer.id, Engineer.name).where(Engineer.region_id == region_id)).all()
    )


def readable(detail: str, names: dict[int, str]) -> str:
    """Engine keys in a reason (E12, E12~oc5.0) as the names a dispatcher knows."""

    def name(m: re.Match[str]) -> str:
        who = names.get(int(m.group(1)), m.group(0))
        return f"{who} (on call)" if m.group(2) else who

    return ENGINE_KEY.sub(name, detail)
