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
from app.planning import keys as plan_keys
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
    then", or "no capable engineer can reach it inside its time window", whatever the visit's
    windows); the dispatcher needs to read why, and so do the API, the explanation and exports,
    which read the stored reason: it is said here, once, not added where it is shown."""
    u = binding(loaded, job, found) if job is not None else found
    if u.reason == "window_unreachable" and job is not None:
        return _no_time(loaded, job, u, names)
    detail = readable(u.detail, names)
    if u.reason == "no_part":
        detail = in_the_region(detail)
    elif u.reason == "off_shift":
        named = {int(m.group(1)) for m in ENGINE_KEY.finditer(u.detail)}
        for eid in sorted(named & set(loaded.absences)):
            who = names.get(eid, f"engineer {eid}")
            detail += f" ({who} is {absent_words(loaded, eid)})"
    elif u.reason == "no_capacity" and job is not None:
        # their day is full because the absence made it short: say so
        for eid in absent_capable(loaded, job):
            who = names.get(eid, f"engineer {eid}")
            detail += f" ({who} is {absent_words(loaded, eid)})"
    return dispatch.Unassigned(u.job_id, u.reason, detail)


def _no_time(
    loaded: Loaded, job: dispatch.Job, found: dispatch.Unassigned, names: dict[int, str]
) -> dispatch.Unassigned:
    """`window_unreachable` in words that fit the visit: the engine says it for any visit that no
    capable engineer can travel to, do and get home from inside their shift, with its windows or
    without (then its window is the whole day: the binding limit is the end of the shift, or the
    visit's duration). An absence that cut the shift is named; when it is every capable
    engineer's, the visit is off shift as for an engineer absent for the rest of the day."""
    capable = _capable(loaded, job)
    away = absent_capable(loaded, job)
    said = [
        f"{names.get(eid, f'engineer {eid}')} has the skills but is {absent_words(loaded, eid)}"
        for eid in away
    ]
    others = [e for e in capable if plan_keys.key_id(e.id) not in away]
    if away and not others:
        return dispatch.Unassigned(found.job_id, "off_shift", "; ".join(said))
    who = "no other capable engineer" if away else "no capable engineer"
    if job.windows:
        said.append(f"{who} can reach it inside its time window and still finish the shift")
    else:
        left = max((_time_left(loaded, e) for e in others), default=0)
        if others and job.duration_s > left:
            said.append(
                f"it takes {duration_words(job.duration_s)}, more than is left of the shift of any "
                f"capable engineer{' besides' if away else ''} ({duration_words(left)} at most)"
            )
        else:
            said.append(
                f"{who} can get there, do its {duration_words(job.duration_s)} and get back "
                "before the end of the shift"
            )
    return dispatch.Unassigned(found.job_id, found.reason, "; ".join(said))


def _capable(loaded: Loaded, job: dispatch.Job) -> list[dispatch.Engineer]:
    """The engine's engineers (and on-call covers) who may take the job: skills, pin, cover."""
    if loaded.problem is None:
        return []
    return [
        e
        for e in loaded.problem.engineers
        if job.skills <= e.skills
        and job.pinned_engineer in (None, e.id)
        and (job.on_call_ok or not e.on_call)
    ]


def absent_capable(loaded: Loaded, job: dispatch.Job) -> list[int]:
    """Engineers who may take the job and are absent for part of the day at a time it could have
    been done (any time, for a visit without a window): the absence is what keeps them from it."""
    out: set[int] = set()
    for e in _capable(loaded, job):
        eid = plan_keys.key_id(e.id)
        if eid in loaded.absences and absence_binds(loaded, job, eid):
            out.add(eid)
    return sorted(out)


def absence_binds(loaded: Loaded, job: dispatch.Job, engineer_id: int) -> bool:
    """Whether the engineer's part-day absence takes time the visit could have had: it overlaps
    one of its windows (plus its duration), or the visit has none."""
    if engineer_id not in loaded.absences:
        return False
    if not job.windows:
        return True
    a, b = (plan_keys.to_s(loaded.ref, at) for at in loaded.absences[engineer_id])
    return any(a < end + job.duration_s and b > start for start, end in job.windows)


def _time_left(loaded: Loaded, e: dispatch.Engineer) -> int:
    overtime = e.overtime_s if loaded.problem is not None and loaded.problem.settings.overtime_allowed else 0
    return max(0, e.shift[1] + overtime - e.shift[0])


def duration_words(seconds: int) -> str:
    """'45 min', '2 h', '1 h 30 min'."""
    hours, minutes = divmod(max(0, seconds) // 60, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h" + (f" {minutes} min" if minutes else "")


def candidate(loaded: Loaded, job: dispatch.Job, found: dispatch.Candidate) -> tuple[str, str]:
    """(constraint, note) of the engine's finding for one engineer of a visit left out, worded as
    `left_out` words the visit's reason: an absence that cut their shift is named (the engine
    saw only a shorter shift: "cannot reach it inside its time window", or "could do it, but the
    day is full"), and a visit without a window is not said to have one."""
    eid = plan_keys.key_id(found.engineer_id)
    if found.code in ("off_shift", "window") and absence_binds(loaded, job, eid):
        # off shift then, as for an engineer absent for the rest of the day (candidates_off_duty)
        return "off_shift", f"has the skills but is {absent_words(loaded, eid)}"
    if found.code == "day_full" and absence_binds(loaded, job, eid):
        return found.code, (
            f"could do it, but is {absent_words(loaded, eid)} and the time left is full of more valuable work"
        )
    if found.code == "window" and not job.windows:
        eng = (
            next((e for e in loaded.problem.engineers if e.id == found.engineer_id), None)
            if loaded.problem
            else None
        )
        left = _time_left(loaded, eng) if eng is not None else None
        if left is not None and job.duration_s > left:
            return found.code, (
                f"it takes {duration_words(job.duration_s)}, more than is left of the shift "
                f"({duration_words(left)})"
            )
        return found.code, (
            f"cannot get there, do its {duration_words(job.duration_s)} and get back "
            "before the end of the shift"
        )
    if found.code == "part":
        return found.code, in_the_region(found.note)
    return found.code, found.note


def in_the_region(detail: str) -> str:
    """The engine's "any warehouse" is any it was given: the plan loads the region's warehouses
    only (`service.load`), and one in another region may hold the part. Said so, a dispatcher
    knows where else to look (a transfer) instead of believing it is nowhere."""
    return re.sub(r"\bany warehouse\b(?! in the region)", "any warehouse in the region", detail)


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
            # gone for the rest of the day by then: since when (as the stored reason says it)
            out.append((eid, name, "off_shift", _off_duty(loaded, eid)))
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
