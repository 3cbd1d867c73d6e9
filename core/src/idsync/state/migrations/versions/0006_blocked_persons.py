"""the persons the last run blocked, with the reason

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blocked",
        sa.Column("pipeline", sa.String(length=200), nullable=False),
        sa.Column("person", sa.String(length=200), nullable=False),
        sa.Column("field", sa.String(length=500), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pipeline", "person", "field"),
    )


def downgrade() -> None:
    op.drop_table("blocked")
