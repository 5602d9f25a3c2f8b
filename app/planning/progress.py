"""A started visit where it happened: the times the board draws it at and the words it says.

The plan's stop keeps the times the engine gave (08:44-09:24); once the engineer is on the way or
has checked in, those are no longer where the visit is. The board drew a visit checked in at 01:35
and finished at 01:36 at its planned 08:44-09:24 ("ETA 08:44, done") while the engineer's route and
the ticket said "01:35 - 01:36 Done". Pure: the board reads the columns in its one query of stops.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from app.models import WorkOrderStatus

# A visit drawn where it happened: checked in (on site, finished) or on the way.
ON_SITE_OR_AFTER = (
    WorkOrderStatus.on_site.value,
    WorkOrderStatus.done.value,
    WorkOrderStatus.needs_follow_up.value,
)


@dataclass(frozen=True)
class Progress:
    start: datetime  # arrived (checked in), or the ETA the engineer gave on the way
    end: datetime  # left (checked out), else the start plus the visit's planned length
    arrived: bool  # checked in: there is no travel left to draw before it
    words: str  # "arrived 01:35, done 01:36"


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def progress(
    status: str,
    eta_at: datetime | None,
    checked_in_at: datetime | None,
    checked_out_at: datetime | None,
    length: timedelta,
    tz: tzinfo,
) -> Progress | None:
    """Where a started visit stands (`length`: how long it was planned to take on site); None for
    one not started (scheduled), or with nothing recorded to draw it by (done without a check-in)."""

    def hhmm(value: datetime) -> str:
        return value.astimezone(tz).strftime("%H:%M")

    if status == WorkOrderStatus.en_route.value:
        if eta_at is None:
            return None
        eta = _aware(eta_at)
        return Progress(eta, eta + length, False, f"on the way, ETA {hhmm(eta)}")
    if status not in ON_SITE_OR_AFTER or checked_in_at is None:
        return None
    arrived = _aware(checked_in_at)
    left = _aware(checked_out_at) if checked_out_at is not None else None
    end = max(left, arrived) if left is not None else arrived + length
    said = f"arrived {hhmm(arrived)}"
    if status == WorkOrderStatus.on_site.value:
        # checked out, report not filed yet: gone from the site, the visit not finished
        said += f", left {hhmm(left)}, report not filed" if left is not None else ", on site"
    elif status == WorkOrderStatus.done.value:
        said += f", done {hhmm(left)}" if left is not None else ", done"
    else:
        said += f", left {hhmm(left)}, needs follow-up" if left is not None else ", needs follow-up"
    return Progress(arrived, end, True, said)
