"""the pipeline lock becomes a lease with a fencing token; the fleet's schedules

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 03:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("locks") as batch:
        batch.add_column(sa.Column("generation", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "schedules",
        sa.Column("pipeline", sa.String(length=200), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("env_file", sa.String(length=1000), nullable=True),
        sa.Column("every_seconds", sa.Integer(), nullable=True),
        sa.Column("cron", sa.String(length=200), nullable=True),
        sa.Column("queue", sa.String(length=100), nullable=False),
        sa.Column("added", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_finish", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.String(length=20), nullable=True),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("pipeline"),
    )


def downgrade() -> None:
    op.drop_table("schedules")
    with op.batch_alter_table("locks") as batch:
        batch.drop_column("generation")
