"""A span of minutes as people say it: "45 min", "9 h 6 min", "3 d 21 h" ("5574 min" read badly)."""

from __future__ import annotations


def span_text(minutes: int) -> str:
    minutes = abs(int(minutes))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, rest = divmod(minutes, 1440)
    hours = rest // 60
    return f"{days} d {hours} h" if hours else f"{days} d"
