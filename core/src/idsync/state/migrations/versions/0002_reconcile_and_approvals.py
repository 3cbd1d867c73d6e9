"""orphan exclusions; the run that carried out an approval

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exclusions",
        sa.Column("target", sa.String(length=100), nullable=False),
        sa.Column("reference", sa.String(length=500), nullable=False),
        sa.Column("label", sa.String(length=500), nullable=True),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("target", "reference"),
    )
    with op.batch_alter_table("held", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decided_run", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("held", schema=None) as batch_op:
        batch_op.drop_column("decided_run")
    op.drop_table("exclusions")
