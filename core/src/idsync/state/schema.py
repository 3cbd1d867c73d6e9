"""The state store's tables (SQLAlchemy Core). Changes go through a migration in ``migrations``."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("pipeline", sa.String(200), nullable=False, index=True),
    sa.Column("command", sa.String(20), nullable=False),
    sa.Column("started", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished", sa.DateTime(timezone=True)),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False, default=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("exit_code", sa.Integer),
    sa.Column("counts", sa.JSON),
)

snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, nullable=False, index=True),
    sa.Column("source", sa.String(100), nullable=False),
    sa.Column("taken", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("persons", sa.Integer, nullable=False),
    sa.Column("blocked", sa.Integer, nullable=False, default=0),
    sa.Column("added", sa.Integer, nullable=False, default=0),
    sa.Column("removed", sa.Integer, nullable=False, default=0),
    sa.Column("changed", sa.Integer, nullable=False, default=0),
    sa.Column("emptied", sa.Integer, nullable=False, default=0),
)

persons = sa.Table(
    "persons",
    metadata,
    sa.Column("source", sa.String(100), primary_key=True),
    sa.Column("external_id", sa.String(200), primary_key=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    sa.Column("missing_since", sa.Date),
    sa.Column("missing_imports", sa.Integer, nullable=False, server_default="0"),
    sa.Column("missing_last", sa.Date),
    sa.Column("folded_name", sa.String(500)),
    sa.Index("ix_persons_external_id", "external_id"),
    sa.Index("ix_persons_folded_name", "folded_name", "external_id"),
)
"""A source's last accepted snapshot; a person missing from the latest imports keeps their row
(since when, on how many days' imports, the last of those days) until the source's grace for
missing persons is over. ``folded_name``: the display name folded for search (lower case, no
diacritics)."""

departments = sa.Table(
    "departments",
    metadata,
    sa.Column("source", sa.String(100), primary_key=True),
    sa.Column("external_id", sa.String(200), primary_key=True),
    sa.Column("data", sa.JSON, nullable=False),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("target", sa.String(100), primary_key=True),
    sa.Column("person", sa.String(200), primary_key=True),
    sa.Column("reference", sa.String(500)),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("unique_base", sa.JSON),
    sa.Column("enabled", sa.Boolean, nullable=False, default=False),
    sa.Column("disabled_on", sa.Date),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
    sa.Column("folded_values", sa.String(1000)),
    sa.Index("ix_accounts_person", "person"),
    sa.Index("ix_accounts_folded_values", "folded_values", "person", "target"),
)
"""``folded_values``: the account's text attribute values folded, to find a person by user name."""

permissions = sa.Table(
    "permissions",
    metadata,
    sa.Column("target", sa.String(100), primary_key=True),
    sa.Column("person", sa.String(200), primary_key=True),
    sa.Column("key", sa.String(500), primary_key=True),
    sa.Column("reference", sa.String(500)),
    sa.Column("granted", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_permissions_person", "person"),
)

resources = sa.Table(
    "resources",
    metadata,
    sa.Column("target", sa.String(100), primary_key=True),
    sa.Column("key", sa.String(500), primary_key=True),
    sa.Column("reference", sa.String(500)),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
)

plans = sa.Table(
    "plans",
    metadata,
    sa.Column("run_id", sa.Integer, primary_key=True),
    sa.Column("data", sa.JSON, nullable=False),
)

held = sa.Table(
    "held",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, nullable=False, index=True),
    sa.Column("pipeline", sa.String(200), nullable=False),
    sa.Column("system", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided", sa.DateTime(timezone=True)),
    sa.Column("detail", sa.JSON),
    sa.Column("decided_run", sa.Integer),  # the run that carried out an approval
    sa.Column("decided_by", sa.String(200)),  # who approved or rejected it
    sa.Column("comment", sa.Text),  # what they said when they decided
    sa.Index("ix_held_pipeline_status", "pipeline", "status"),
)

audit = sa.Table(
    "audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, nullable=False, index=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("target", sa.String(100), nullable=False),
    sa.Column("person", sa.String(200), index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("key", sa.String(500)),
    sa.Column("reference", sa.String(500)),
    sa.Column("changes", sa.JSON),
    sa.Column("messages", sa.JSON),
    sa.Column("dry_run", sa.Boolean, nullable=False, default=False),
    sa.Column("actor", sa.String(200)),  # who decided (approvals and rejections); None for runs
    sa.Index("ix_audit_run_status", "run_id", "status"),
    sa.Index("ix_audit_kind", "kind"),
    sa.Index("ix_audit_status", "status"),
    sa.Index("ix_audit_actor", "actor"),
    sa.Index("ix_audit_at", "at"),
)

locks = sa.Table(
    "locks",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("owner", sa.String(200), nullable=False),
    sa.Column("acquired", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
    sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
)
"""Named leases (a pipeline's: ``pipeline:<label>``). A released or expired row stays with an
empty owner or a past ``expires``; ``generation`` rises with every taking (the fencing token)."""

schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("pipeline", sa.String(200), primary_key=True),
    sa.Column("path", sa.String(1000), nullable=False),
    sa.Column("env_file", sa.String(1000)),
    sa.Column("every_seconds", sa.Integer),
    sa.Column("cron", sa.String(200)),
    sa.Column("queue", sa.String(100), nullable=False),
    sa.Column("added", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_start", sa.DateTime(timezone=True)),
    sa.Column("last_finish", sa.DateTime(timezone=True)),
    sa.Column("last_status", sa.String(20)),
    sa.Column("last_error", sa.String(2000)),
)
"""The fleet's pipelines (in the fleet's PostgreSQL store): where each pipeline file and its
environment file are, when it runs, on which queue, and how its last run went. Paths only:
secrets stay in the files."""

exclusions = sa.Table(
    "exclusions",
    metadata,
    sa.Column("target", sa.String(100), primary_key=True),
    sa.Column("reference", sa.String(500), primary_key=True),
    sa.Column("label", sa.String(500)),
    sa.Column("until", sa.Date, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
)
"""Accounts in a target that no person owns but that are known and allowed until a date."""

blocked_actions = sa.Table(
    "blocked_actions",
    metadata,
    sa.Column("target", sa.String(100), primary_key=True),
    sa.Column("person", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("key", sa.String(500), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("since", sa.Date, nullable=False),
    sa.Column("run_id", sa.Integer, nullable=False),
)
"""Actions a plugin reported blocked (waiting for someone outside idsync), not tried again
until what they would write (``fingerprint``) changes."""

intents = sa.Table(
    "intents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("target", sa.String(100), nullable=False),
    sa.Column("person", sa.String(200)),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("key", sa.String(500)),
    sa.Column("reference", sa.String(500)),
    sa.Column("started", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished", sa.DateTime(timezone=True)),
    sa.Column("status", sa.String(20), nullable=False, index=True),
)
"""The action journal: an action that calls a target is *started* here before the call and
*finished* with its audit record after; one still started after its run ended is in doubt."""

checked_leavers = sa.Table(
    "checked_leavers",
    metadata,
    sa.Column("target", sa.String(100), primary_key=True),
    sa.Column("person", sa.String(200), primary_key=True),
    sa.Column("value", sa.String(64), nullable=False),
    sa.Column("checked", sa.Date, nullable=False),
)
"""Leavers a plan looked up in a target without finding an account (the value's hash): not
looked up again until that value changes."""
users = sa.Table(
    "users",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("password", sa.String(500), nullable=False),  # an argon2 hash, never the password
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
)
"""The console's local users: a password hash and a role (viewer or approver)."""

blocked = sa.Table(
    "blocked",
    metadata,
    sa.Column("pipeline", sa.String(200), primary_key=True),
    sa.Column("person", sa.String(200), primary_key=True),
    sa.Column("field", sa.String(500), primary_key=True),
    sa.Column("source", sa.String(100)),
    sa.Column("problem", sa.Text, nullable=False),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("since", sa.DateTime(timezone=True), nullable=False),
)
"""The persons the last run of a pipeline blocked (a source row it could not read, a rule that
failed for them), with the reason and since when: what ``idsync person`` shows."""
