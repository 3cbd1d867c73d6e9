"""the action journal (intents before calls); leavers already looked up in a target

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("person", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=True),
        sa.Column("reference", sa.String(length=500), nullable=True),
        sa.Column("started", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_intents_status", "intents", ["status"])
    op.create_table(
        "checked_leavers",
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("person", sa.String(length=200), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("checked", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("target", "person"),
    )


def downgrade() -> None:
    op.drop_table("checked_leavers")
    op.drop_index("ix_intents_status", table_name="intents")
    op.drop_table("intents")
