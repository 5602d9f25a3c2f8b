"""stock_level: reserved <= quantity (units held for planned visits are units on the shelf)

Before this, a service report could book units held for another visit (it books against physical
stock), leaving `reserved > quantity`: the planner then counted negative free stock and the other
visit's pickup failed at the warehouse. The code now cuts such reservations first; this adds the
CHECK constraint that backs it.

Rows that already break it are repaired first, as the code would have done at the time: the
level's `reserved` is clamped to its `quantity`, and the held reservations there are cut by the
excess, the visit planned last first (shrunk, or released when nothing is left), each with an
`audit_log` entry ("released" / "shrunk", reason "stock_level repair (migration 0030)"), so the
next plan of those visits sources the part elsewhere. A level whose `reserved` exceeded the sum of
its reservations (changed by hand) is clamped all the same.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 10:30:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa

from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REASON = "stock_level repair (migration 0030): more units were reserved than in stock"

stock_level = sa.table(
    "stock_level",
    sa.column("id", sa.Integer),
    sa.column("location_id", sa.Integer),
    sa.column("part_id", sa.Integer),
    sa.column("quantity", sa.Integer),
    sa.column("reserved", sa.Integer),
    sa.column("version", sa.Integer),
)
reservation = sa.table(
    "stock_reservation",
    sa.column("id", sa.Integer),
    sa.column("work_order_id", sa.Integer),
    sa.column("location_id", sa.Integer),
    sa.column("part_id", sa.Integer),
    sa.column("quantity", sa.Integer),
    sa.column("status", sa.String),
    sa.column("closed_at", sa.DateTime(timezone=True)),
)
work_order = sa.table(
    "work_order", sa.column("id", sa.Integer), sa.column("planned_start_at", sa.DateTime(timezone=True))
)
audit_log = sa.table(
    "audit_log",
    sa.column("at", sa.DateTime(timezone=True)),
    sa.column("user_id", sa.Integer),
    sa.column("entity", sa.String),
    sa.column("entity_id", sa.Integer),
    sa.column("action", sa.String),
    sa.column("changes", sa.JSON),
)


def _repair(conn: sa.Connection) -> None:
    now = datetime.now(UTC)
    broken = conn.execute(
        sa.select(
            stock_level.c.id,
            stock_level.c.location_id,
            stock_level.c.part_id,
            stock_level.c.quantity,
            stock_level.c.reserved,
        ).where(stock_level.c.reserved > stock_level.c.quantity)
    ).all()
    for level_id, location_id, part_id, quantity, reserved in broken:
        held = conn.execute(
            sa.select(reservation.c.id, reservation.c.work_order_id, reservation.c.quantity)
            .join(work_order, work_order.c.id == reservation.c.work_order_id)
            .where(
                reservation.c.location_id == location_id,
                reservation.c.part_id == part_id,
                reservation.c.status == "held",
            )
            # As the app cuts (`stock.make_room`): the visit planned last has the most time to be
            # re-sourced; an unscheduled one first.
            .order_by(work_order.c.planned_start_at.desc().nulls_first(), reservation.c.id.desc())
        ).all()
        left = sum(q for _, _, q in held) - quantity
        for res_id, wo_id, before in held:
            if left <= 0:
                break
            after = before - min(before, left)
            left -= before - after
            values = {"status": "released", "closed_at": now} if after == 0 else {"quantity": after}
            conn.execute(reservation.update().where(reservation.c.id == res_id).values(**values))
            conn.execute(
                audit_log.insert().values(
                    at=now,
                    user_id=None,
                    entity="stock_reservation",
                    entity_id=res_id,
                    action="released" if after == 0 else "shrunk",
                    changes={
                        "quantity": [before, after],
                        "work_order_id": [None, wo_id],
                        "reason": [None, REASON],
                    },
                )
            )
        conn.execute(
            stock_level.update()
            .where(stock_level.c.id == level_id)
            .values(reserved=quantity, version=stock_level.c.version + 1)
        )
        conn.execute(
            audit_log.insert().values(
                at=now,
                user_id=None,
                entity="stock_level",
                entity_id=level_id,
                action="repair",
                changes={"reserved": [reserved, quantity], "reason": [None, REASON]},
            )
        )


def upgrade() -> None:
    _repair(op.get_bind())
    # batch mode: SQLite adds a check constraint only by copying the table
    with op.batch_alter_table("stock_level", schema=None) as batch_op:
        batch_op.create_check_constraint(
            op.f("ck_stock_level_reserved_within_quantity"), "reserved <= quantity"
        )


def downgrade() -> None:
    with op.batch_alter_table("stock_level", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_stock_level_reserved_within_quantity"), type_="check")
