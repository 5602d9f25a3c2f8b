"""The day the board's browser tests plan: a region where it is about noon now, with afternoon
visits only one engineer (the ELEC one) can do (tests/planning/test_out_of_order_check_in.py's day)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.planning import keys as plan_keys
from app.platform.auth import hash_password
from tests.e2e.browser import PASSWORD, migrated
from tests.planning import world as pw


def elec_afternoon(url: str, *, visits: int, dispatcher: str, engineer: str | None = None) -> dict[str, Any]:
    """Migrate and fill the SQLite file at `url`: `visits` visits wanted today 13:00–19:00 that only
    the ELEC engineer can do, not planned yet. Everyone signs in with PASSWORD: a dispatcher as
    `dispatcher`, the ELEC engineer as `engineer` when given. The facts a test needs: the region's
    zone, id and today, the ELEC engineer's id and the visits' ids."""
    engine = migrated(url)
    try:
        with Session(engine) as db:
            tz = pw.midday_zone()
            w = pw.build(db, jobs=0, tz=tz, shift=(6, 20), all_week=True)
            today = datetime.now(ZoneInfo(tz)).date()
            added = [
                pw.add_visit(
                    db,
                    w,
                    skill="ELEC",
                    lat=48.12 + 0.02 * i,
                    lon=11.55,
                    appointment_start_at=plan_keys.local_at(today, time(13), tz),
                    appointment_end_at=plan_keys.local_at(today, time(19), tz),
                )
                for i in range(visits)
            ]
            for user in w.users:
                user.password_hash = hash_password(PASSWORD)
            if engineer is not None:
                w.users[1].email = engineer  # the ELEC engineer's login
            pw.f.make_user(db, role="dispatcher", email=dispatcher, password=PASSWORD)
            db.commit()
            return {
                "tz": tz,
                "region_id": w.region.id,
                "today": today.isoformat(),
                "engineer": w.engineers[1].id,  # ELEC
                "visits": [wo.id for wo in added],
            }
    finally:
        engine.dispose()
