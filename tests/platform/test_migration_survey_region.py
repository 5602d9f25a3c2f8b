"""Migration 0023 on surveys made before it: a desk-resolution survey of a ticket at a site in a
region, for an account without one, takes the site's region (its answer too), and the aggregates
are emptied for a rebuild; a visit's survey keeps the visit's region."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.desk.tickets import status as ticket_status
from app.models import Survey
from app.platform.db import utcnow
from tests import factories as f
from tests.feedback.world import customer, survey_of, visit

MIGRATION = Path(__file__).parents[2] / "alembic" / "versions" / "2026-12-06_survey_region_from_site.py"


def _upgrade(db: Session) -> None:
    spec = importlib.util.spec_from_file_location("migration_0023", MIGRATION)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with Operations.context(MigrationContext.configure(db.connection())):
        module.upgrade()


def test_0023_gives_desk_resolution_surveys_their_sites_region(db: Session) -> None:
    case = customer(db)
    site_region = f.make_region(db)
    site = f.make_site(db, case.account, region=site_region)
    ticket = f.open_ticket(db, case.account, asset=f.make_asset(db, site), contact_id=case.contact.id)
    now = utcnow()
    ticket_status.change_status(db, ticket, "open", actor=None, channel="phone", at=now)
    ticket_status.change_status(db, ticket, "resolved", actor=None, channel="phone", at=now)
    wo = visit(db, customer(db))
    db.flush()
    desk, on_site = survey_of(db, ticket_id=ticket.id), survey_of(db, work_order_id=wo.id)
    desk.region_id = None  # as made before the fix: the account's region, here none
    visit_region = on_site.region_id
    db.execute(
        text("INSERT INTO kpi_refresh (id, built_from, refreshed_at) VALUES (1, :d, :at)"),
        {"d": now.date(), "at": now},
    )
    db.flush()

    _upgrade(db)
    db.expire_all()
    assert db.get(Survey, desk.id).region_id == site_region.id  # type: ignore[union-attr]
    assert db.get(Survey, on_site.id).region_id == visit_region  # type: ignore[union-attr]
    assert db.scalar(select(text("count(*)")).select_from(text("kpi_refresh"))) == 0
