"""`fieldline deactivate-user`: the rules of the accounts page and API (app/accounts/service.py), in
their words, exit 1 when refused, and audited like the API."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.accounts.service import LAST_ADMIN
from app.models import AuditLog, Engineer
from tests import factories as f

runner = CliRunner()


def _said(output: str) -> str:
    return " ".join(output.split())


def test_the_last_active_admin_is_not_deactivated(db: Session) -> None:
    """QA: the command deactivated the only admin (exit 0): nobody could manage accounts any more."""
    from app.cli import cli

    admin = f.make_user(db, role="admin", email="only-admin@cli.example")
    db.commit()
    result = runner.invoke(cli, ["deactivate-user", "only-admin@cli.example"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert LAST_ADMIN in _said(result.output)
    db.expire_all()
    assert admin.is_active

    f.make_user(db, role="admin", email="second-admin@cli.example")
    db.commit()
    result = runner.invoke(cli, ["deactivate-user", "only-admin@cli.example"])
    assert result.exit_code == 0 and "is deactivated" in result.output, result.output
    db.expire_all()
    assert not admin.is_active


def test_an_engineer_with_open_visits_is_not_deactivated(db: Session) -> None:
    """QA: deactivating an engineer with open visits succeeded and left Engineer.active true."""
    from app.cli import cli

    region = f.make_region(db)
    account_of = f.make_user(db, role="engineer", email="engineer-cli@cli.example")
    engineer = f.make_engineer(db, region, user=account_of, name="Ida Iversen")
    customer = f.make_account(db, region=region)
    site = f.make_site(db, customer, region=region)
    visit = f.make_work_order(db, f.open_ticket(db, customer, asset=f.make_asset(db, site)))
    visit.engineer_id, visit.status = engineer.id, "scheduled"
    db.commit()

    result = runner.invoke(cli, ["deactivate-user", "engineer-cli@cli.example"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert f"Ida Iversen still has 1 open visit ({visit.number})" in _said(result.output)
    db.expire_all()
    assert account_of.is_active and engineer.active

    visit.status = "cancelled"  # moved away: now the account may stop, and planning follows it
    db.commit()
    result = runner.invoke(cli, ["deactivate-user", "engineer-cli@cli.example"])
    assert result.exit_code == 0, result.output
    db.expire_all()
    assert not account_of.is_active and not engineer.active
    logged = db.scalar(select(AuditLog).where(AuditLog.entity == "user", AuditLog.entity_id == account_of.id))
    assert logged is not None and logged.action == "updated" and logged.user_id is None
    assert logged.changes == {"is_active": [True, False]}
    assert db.scalar(select(Engineer.active).where(Engineer.id == engineer.id)) is False

    again = runner.invoke(cli, ["deactivate-user", "engineer-cli@cli.example"])
    assert again.exit_code == 0 and "deactivated already" in again.output, again.output
    missing = runner.invoke(cli, ["deactivate-user", "nobody@cli.example"])
    assert missing.exit_code == 1 and "no user" in missing.output


def test_a_desk_agent_deactivated_here_hands_back_open_tickets_and_says_so(db: Session) -> None:
    """As on the accounts page and the API: the open tickets go back to the unassigned queue, and the
    command says which, and which customers the account still owns."""
    from app.cli import cli
    from app.models import Ticket

    agent = f.make_user(db, role="agent", email="agent-cli@cli.example", name="Anna Brunner")
    customer = f.make_account(db, name="Gasthof Kellner")
    customer.owner_user_id = agent.id
    ticket = f.open_ticket(db, customer, subject="Cold room too warm")
    ticket.assignee_id = agent.id
    db.commit()
    result = runner.invoke(cli, ["deactivate-user", "agent-cli@cli.example"])
    assert result.exit_code == 0, result.output
    said = _said(result.output)
    assert f"1 open ticket of Anna Brunner went back to the unassigned queue ({ticket.number})" in said
    assert "Anna Brunner still owns 1 customer account" in said
    db.expire_all()
    assert db.get_one(Ticket, ticket.id).assignee_id is None
