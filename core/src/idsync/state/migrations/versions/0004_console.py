"""the web console: users, who decided held work, names to search, indexes for its pages

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 23:30:00.000000
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op
from idsync.state.search import fold, folded_values

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_CHUNK = 1000


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password", sa.String(length=500), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("held", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decided_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("comment", sa.Text(), nullable=True))
        batch_op.create_index("ix_held_pipeline_status", ["pipeline", "status"], unique=False)
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor", sa.String(length=200), nullable=True))
        batch_op.create_index("ix_audit_run_status", ["run_id", "status"], unique=False)
        batch_op.create_index("ix_audit_kind", ["kind"], unique=False)
        batch_op.create_index("ix_audit_status", ["status"], unique=False)
        batch_op.create_index("ix_audit_actor", ["actor"], unique=False)
        batch_op.create_index("ix_audit_at", ["at"], unique=False)
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.add_column(sa.Column("folded_name", sa.String(length=500), nullable=True))
        batch_op.create_index("ix_persons_external_id", ["external_id"], unique=False)
        batch_op.create_index(
            "ix_persons_folded_name", ["folded_name", "external_id"], unique=False
        )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("folded_values", sa.String(length=1000), nullable=True))
        batch_op.create_index("ix_accounts_person", ["person"], unique=False)
        batch_op.create_index(
            "ix_accounts_folded_values", ["folded_values", "person", "target"], unique=False
        )
    with op.batch_alter_table("permissions", schema=None) as batch_op:
        batch_op.create_index("ix_permissions_person", ["person"], unique=False)
    _fill("persons", ("source", "external_id"), "folded_name", _display_name)
    _fill("accounts", ("target", "person"), "folded_values", folded_values)


def _display_name(data: Any) -> str:
    return fold(str(data.get("display_name") or "")) if isinstance(data, dict) else ""


def _fill(table: str, keys: tuple[str, str], column: str, compute: Callable[[Any], str]) -> None:
    """Fill ``column`` of the rows already stored from their ``data`` (new writes keep it)."""
    conn = op.get_bind()
    rows_of = sa.table(
        table,
        *(sa.column(k, sa.String) for k in keys),
        sa.column("data", sa.JSON),
        sa.column(column, sa.String),
    )
    c = rows_of.c
    rows = conn.execute(sa.select(c[keys[0]], c[keys[1]], c.data)).all()
    update = (
        rows_of.update()
        .where((c[keys[0]] == sa.bindparam("w_a")) & (c[keys[1]] == sa.bindparam("w_b")))
        .values({column: sa.bindparam("w_value")})
    )
    values = [
        {
            "w_a": a,
            "w_b": b,
            # a driver may hand JSON back as text
            "w_value": compute(json.loads(data) if isinstance(data, str) else data),
        }
        for a, b, data in rows
    ]
    for i in range(0, len(values), _CHUNK):
        conn.execute(update, values[i : i + _CHUNK])


def downgrade() -> None:
    with op.batch_alter_table("persons", schema=None) as batch_op:
        batch_op.drop_index("ix_persons_folded_name")
        batch_op.drop_index("ix_persons_external_id")
        batch_op.drop_column("folded_name")
    with op.batch_alter_table("permissions", schema=None) as batch_op:
        batch_op.drop_index("ix_permissions_person")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_accounts_folded_values")
        batch_op.drop_index("ix_accounts_person")
        batch_op.drop_column("folded_values")
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_at")
        batch_op.drop_index("ix_audit_actor")
        batch_op.drop_index("ix_audit_status")
        batch_op.drop_index("ix_audit_kind")
        batch_op.drop_index("ix_audit_run_status")
        batch_op.drop_column("actor")
    with op.batch_alter_table("held", schema=None) as batch_op:
        batch_op.drop_index("ix_held_pipeline_status")
        batch_op.drop_column("comment")
        batch_op.drop_column("decided_by")
    op.drop_table("users")
