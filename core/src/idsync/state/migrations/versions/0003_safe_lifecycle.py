"""persons missing from a source; actions a plugin reported blocked

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("missing_since", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("missing_imports", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("missing_last", sa.Date(), nullable=True))
    op.create_table(
        "blocked_actions",
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("person", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("target", "person", "kind", "key"),
    )
    op.create_index("ix_runs_pipeline", "runs", ["pipeline"])


def downgrade() -> None:
    op.drop_index("ix_runs_pipeline", table_name="runs")
    op.drop_table("blocked_actions")
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_column("missing_last")
        batch_op.drop_column("missing_imports")
        batch_op.drop_column("missing_since")
