"""the web console: users, who decided held work, names to search, indexes for its pages

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04 23:30:00.000000
"""

from __future__ import annotations

import json
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
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index("ix_runs_pipeline", ["pipeline", "id"], unique=False)
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
    _fill_folded_names()
    _fill_folded_values()


def _fill_folded_names() -> None:
    """Give the persons already stored their folded name (new snapshots write it)."""
    conn = op.get_bind()
    persons = sa.table(
        "persons",
        sa.column("source", sa.String),
        sa.column("external_id", sa.String),
        sa.column("data", sa.JSON),
        sa.column("folded_name", sa.String),
    )
    rows = conn.execute(sa.select(persons.c.source, persons.c.external_id, persons.c.data)).all()
    update = (
        persons.update()
        .where(
            (persons.c.source == sa.bindparam("w_source"))
            & (persons.c.external_id == sa.bindparam("w_id"))
        )
        .values(folded_name=sa.bindparam("w_name"))
    )
    values: list[dict[str, Any]] = []
    for source, external_id, data in rows:
        if isinstance(data, str):  # a driver that hands JSON back as text
            data = json.loads(data)
        name = data.get("display_name") if isinstance(data, dict) else None
        values.append({"w_source": source, "w_id": external_id, "w_name": fold(name or "")})
    for i in range(0, len(values), _CHUNK):
        conn.execute(update, values[i : i + _CHUNK])


def _fill_folded_values() -> None:
    """Give the accounts already stored their folded values (new writes keep them)."""
    conn = op.get_bind()
    accounts = sa.table(
        "accounts",
        sa.column("target", sa.String),
        sa.column("person", sa.String),
        sa.column("data", sa.JSON),
        sa.column("folded_values", sa.String),
    )
    rows = conn.execute(sa.select(accounts.c.target, accounts.c.person, accounts.c.data)).all()
    update = (
        accounts.update()
        .where(
            (accounts.c.target == sa.bindparam("w_target"))
            & (accounts.c.person == sa.bindparam("w_person"))
        )
        .values(folded_values=sa.bindparam("w_values"))
    )
    values = [
        {
            "w_target": target,
            "w_person": person,
            "w_values": folded_values(json.loads(data) if isinstance(data, str) else data),
        }
        for target, person, data in rows
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
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_pipeline")
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
