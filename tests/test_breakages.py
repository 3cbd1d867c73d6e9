"""Sixty-odd ways an operator breaks ``examples/afas-helloid.yaml``, each caught before a run.

Every case is a copy of the example with one realistic mistake: YAML, keys, types,
environment variables, plugins, expressions, thresholds, permissions, the state store,
credentials and reachability. ``idsync check`` must end with the exact exit code and name the
key path of the problem with a precise message, as ``file: key.path: problem``; the mistakes
only a connection can find end ``idsync check --connect`` with exit 1 and a line for the key
of the system (or the state store) that a run could not use. Nothing is ever planned from a
broken file: a typo in a rule no longer revokes every admin's group in silence.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from idsync.cli import app
from support import AFAS_TOKEN, HELLOID_KEY, HELLOID_SECRET, ROOT, Org
from typer.testing import CliRunner

EXAMPLE = (ROOT.parent / "examples" / "afas-helloid.yaml").read_text(encoding="utf-8")
OFFLINE_ENV = {
    "AFAS_BASE_URL": "https://12345.rest.afas.online/profitrestservices",
    "AFAS_TOKEN": AFAS_TOKEN,
    "HELLOID_BASE_URL": "https://enyoi.helloid.com/api/v1",
    "HELLOID_API_KEY": HELLOID_KEY,
    "HELLOID_API_SECRET": HELLOID_SECRET,
}


@dataclass
class Breakage:
    """One mistake: text replacements in the example, environment changes, and what must be
    reported."""

    edits: list[tuple[str, str]]
    key: str
    message: str
    env: dict[str, str | None] = field(default_factory=dict)
    code: int = 2
    prepare: Callable[[Path], None] | None = None


def _b(old: str, new: str, key: str, message: str, **kw: Any) -> Breakage:
    return Breakage([(old, new)], key, message, **kw)


HELLOID_ACCOUNT = "    account:\n      # Externals"
LIFECYCLE = "        enable_days_before_start: 3\n"

OFFLINE: dict[str, Breakage] = {
    # --- YAML -------------------------------------------------------------------------
    "tab indentation": _b(
        "    plugin: afas\n    settings:",
        "    plugin: afas\n\tsettings:",
        "(top)",
        "not valid YAML: line 15",
    ),
    "unclosed quote": _b(
        'token: "${AFAS_TOKEN}"', 'token: "${AFAS_TOKEN}', "(top)", "not valid YAML"
    ),
    "two helloid targets": _b(
        "\n  afas:\n    plugin: afas\n",
        "\n  helloid:\n    plugin: afas\n",
        "targets.helloid",
        "the key 'helloid' appears twice in one mapping (lines 23 and 58)",
    ),
    "a rule written twice": _b(
        "      correlate: {person: external_id",
        "      when: \"contract.department.code != 'X'\"\n      correlate: {person: external_id",
        "targets.helloid.account.when",
        "appears twice in one mapping",
    ),
    "two hr sources": _b(
        "targets:\n",
        "  hr:\n    plugin: afas\ntargets:\n",
        "sources.hr",
        "the key 'hr' appears twice",
    ),
    "a list, not a mapping": _b(
        "name: afas-helloid\n", "- name: afas-helloid\n", "(top)", "not valid YAML"
    ),
    # --- keys -------------------------------------------------------------------------
    "target for targets": _b(
        "\ntargets:\n", "\ntarget:\n", "target", "Extra inputs are not permitted"
    ),
    "sources missing": _b("\nsources:\n  hr:", "\nsourcez:\n  hr:", "sources", "Field required"),
    "mappings for mapping": _b(
        "      mapping:\n        firstName",
        "      mappings:\n        firstName",
        "targets.helloid.account.mappings",
        "Extra inputs are not permitted",
    ),
    "a lifecycle key misspelt": _b(
        "        enable_days_before_start: 3",
        "        enable_days_before_starts: 3",
        "targets.helloid.account.lifecycle.enable_days_before_starts",
        "Extra inputs are not permitted",
    ),
    "setting for settings": _b(
        "    plugin: helloid\n    settings:",
        "    plugin: helloid\n    setting:",
        "targets.helloid.setting",
        "Extra inputs are not permitted",
    ),
    "grant and dynamic together": _b(
        '{when: "contract.title.code == \'ICT-ADM\'", grant: "group:ICT Admins"}',
        '{grant: "group:ICT Admins", dynamic: "group:x_{{ contract.department.code }}"}',
        "targets.helloid.permissions.0",
        "give exactly one of 'grant' or 'dynamic'",
    ),
    "a permission rule with neither": _b(
        '{when: "(contract.fte or 0) >= 0.8", grant: "product:Laptop"}',
        '{when: "(contract.fte or 0) >= 0.8"}',
        "targets.helloid.permissions.2",
        "give exactly one of 'grant' or 'dynamic'",
    ),
    "a source and a target named alike": _b(
        "\n  afas:\n    plugin: afas\n",
        "\n  hr:\n    plugin: afas\n",
        "(top)",
        "names used for a source and a target: ['hr']",
    ),
    # --- types ------------------------------------------------------------------------
    "days in words": _b(
        "        create_days_before_start: 14\n        enable",
        "        create_days_before_start: fourteen\n        enable",
        "targets.helloid.account.lifecycle.create_days_before_start",
        "valid integer",
    ),
    "no concurrency": _b(
        HELLOID_ACCOUNT,
        "    concurrency: 0\n" + HELLOID_ACCOUNT,
        "targets.helloid.concurrency",
        "greater than or equal to 1",
    ),
    "enabled before created": _b(
        "        create_days_before_start: 14\n        enable_days_before_start: 3",
        "        create_days_before_start: 2\n        enable_days_before_start: 3",
        "targets.helloid.account.lifecycle",
        "create_days_before_start must be at least enable_days_before_start",
    ),
    "enabled: maybe": _b(
        HELLOID_ACCOUNT,
        "    enabled: maybe\n" + HELLOID_ACCOUNT,
        "targets.helloid.enabled",
        "valid boolean",
    ),
    "a negative grace period": _b(
        "        delete_days_after_disable: 30",
        "        delete_days_after_disable: -1",
        "targets.helloid.account.lifecycle.delete_days_after_disable",
        "greater than or equal to 0",
    ),
    "a page size of nothing": _b(
        '      api_secret: "${HELLOID_API_SECRET}"',
        '      api_secret: "${HELLOID_API_SECRET}"\n      page_size: 0',
        "targets.helloid.settings.page_size",
        "greater than or equal to 1",
    ),
    # --- environment variables ----------------------------------------------------------
    "the secret not set": Breakage(
        [],
        "targets.helloid.settings.api_secret",
        "environment variable HELLOID_API_SECRET is not set",
        env={"HELLOID_API_SECRET": None},
    ),
    "a variable name misspelt": _b(
        "${HELLOID_API_SECRET}",
        "${HELLOID_API_SECERT}",
        "targets.helloid.settings.api_secret",
        "environment variable HELLOID_API_SECERT is not set",
    ),
    "a secret in the file": _b(
        'api_secret: "${HELLOID_API_SECRET}"',
        'api_secret: "Pr0duct1on-S3cret"',
        "targets.helloid.settings.api_secret",
        "a secret must come from the environment: write ${VARIABLE}",
    ),
    "a token that is no token": Breakage(
        [],
        "sources.hr.settings.token",
        "must be the whole token XML",
        env={"AFAS_TOKEN": "just-a-token-0123456789"},
    ),
    "a base URL not set": Breakage(
        [],
        "sources.hr.settings.base_url",
        "environment variable AFAS_BASE_URL is not set",
        env={"AFAS_BASE_URL": None},
    ),
    # --- plugins ------------------------------------------------------------------------
    "a plugin name misspelt": _b(
        "    plugin: helloid",
        "    plugin: helloidd",
        "targets.helloid.plugin",
        "no plugin named 'helloidd' (installed: ",
    ),
    "a target plugin as source": _b(
        "  hr:\n    plugin: afas",
        "  hr:\n    plugin: helloid",
        "sources.hr.plugin",
        "plugin 'helloid' is not a source (target)",
    ),
    "a setting misspelt": _b(
        '      base_url: "${HELLOID_BASE_URL}"',
        '      base_uri: "${HELLOID_BASE_URL}"',
        "targets.helloid.settings.base_uri",
        "Extra inputs are not permitted",
    ),
    "a base URL without scheme": Breakage(
        [],
        "targets.helloid.settings.base_url",
        "is not an http(s) URL",
        env={"HELLOID_BASE_URL": "enyoi.helloid.com/api/v1"},
    ),
    # --- expressions --------------------------------------------------------------------
    "titel for title": _b(
        "contract.title.code == 'ICT-ADM'",
        "contract.titel.code == 'ICT-ADM'",
        "targets.helloid.permissions.0.when",
        "reads contract.titel, but a contract has no attribute 'titel'; did you mean contract.title?",
    ),
    "frist for first": _b(
        'firstName: "{{ person.name.first }}"',
        'firstName: "{{ person.name.frist }}"',
        "targets.helloid.account.mapping.firstName",
        "did you mean person.name.first?",
    ),
    "a typo in correlate": _b(
        "correlate: {person: external_id,",
        "correlate: {person: externl_id,",
        "targets.helloid.account.correlate.person",
        "did you mean person.external_id?",
    ),
    "an unclosed template": _b(
        'lastName: "{{ person.name.full_family }}"',
        'lastName: "{{ person.name.full_family }"',
        "targets.helloid.account.mapping.lastName",
        "does not compile",
    ),
    "a rule cut short": _b(
        "(contract.fte or 0) >= 0.8",
        "(contract.fte or 0) >=",
        "targets.helloid.permissions.2.when",
        "does not compile",
    ),
    "an unknown filter": _b(
        "{{ person.name.first | slug }}",
        "{{ person.name.first | slugify }}",
        "targets.helloid.account.unique.userName.1",
        "No filter named 'slugify'",
    ),
    "another target's key misspelt": _b(
        "{{ accounts.helloid.userName }}",
        "{{ accounts.helloid.username }}",
        "targets.afas.account.mapping.UPN",
        "did you mean accounts.helloid.userName?",
    ),
    "another target misspelt": _b(
        "{{ accounts.helloid.userName }}",
        "{{ accounts.hellid.userName }}",
        "targets.afas.account.mapping.UPN",
        "there is no target 'hellid' (targets: helloid, afas); did you mean accounts.helloid?",
    ),
    "a resource reads a missing field": _b(
        '"group:department_{{ department.code }}"\n    thresholds',
        '"group:department_{{ department.cod }}"\n    thresholds',
        "targets.helloid.resources.0",
        "did you mean department.code?",
    ),
    "an unknown variable": _b(
        "when: \"contract.department.code != 'EXT' and contract.type.code != 'EXT'\"\n      correlate: {person: external_id",
        "when: \"contrat.department.code != 'EXT'\"\n      correlate: {person: external_id",
        "targets.helloid.account.when",
        "reads contrat, but no such name is defined here; did you mean contract?",
    ),
    "a sandbox escape": _b(
        'contactEmail: "{{ person.contact.email }}"',
        'contactEmail: "{{ person.__class__ }}"',
        "targets.helloid.account.mapping.contactEmail",
        "a person has no attribute '__class__'",
    ),
    "a dynamic permission typo": _b(
        'group:department_{{ contract.department.code }}"}',
        'group:department_{{ contract.department.cdoe }}"}',
        "targets.helloid.permissions.1.dynamic",
        "did you mean contract.department.code?",
    ),
    # --- thresholds ---------------------------------------------------------------------
    "a threshold in words": _b(
        '      token: "${AFAS_TOKEN}"\n    # Safe',
        '      token: "${AFAS_TOKEN}"\n    thresholds: {removed: "5 percent"}\n    # Safe',
        "sources.hr.thresholds.removed",
        "is neither a count (10) nor a percentage ('5%')",
    ),
    "more than all": _b(
        "revoke: {percent: 20,",
        "revoke: {percent: 120,",
        "targets.helloid.thresholds.revoke.percent",
        "less than or equal to 100",
    ),
    "a negative count": _b(
        "revoke: {percent: 20, floor: 10}",
        "revoke: -1",
        "targets.helloid.thresholds.revoke.count",
        "greater than or equal to 0",
    ),
    "a threshold of yes": _b(
        "revoke: {percent: 20, floor: 10}",
        "revoke: true",
        "targets.helloid.thresholds.revoke",
        "a threshold is a count (10), a percentage ('5%') or off",
    ),
    "a threshold for no action": _b(
        "revoke: {percent",
        "revokes: {percent",
        "targets.helloid.thresholds.revokes",
        "Input should be",
    ),
    "a floor without a percentage": _b(
        "revoke: {percent: 20, floor: 10}",
        "revoke: {count: 20, floor: 10}",
        "targets.helloid.thresholds.revoke",
        "a floor applies to a percentage: give percent too",
    ),
    # --- permissions and attributes -----------------------------------------------------
    "a kind the target lacks": _b(
        'grant: "group:ICT Admins"',
        'grant: "role:ICT Admins"',
        "targets.helloid.permissions.0.grant",
        "the helloid target has no permission kind 'role' (it has: group, product)",
    ),
    "a grant without a kind": _b(
        'grant: "group:ICT Admins"',
        'grant: "ICT Admins"',
        "targets.helloid.permissions.0",
        "is not of the form 'kind:name'",
    ),
    "a dynamic kind misspelt": _b(
        '{dynamic: "group:department_',
        '{dynamic: "groep:department_',
        "targets.helloid.permissions.1.dynamic",
        "no permission kind 'groep' (it has: group, product); did you mean 'group'?",
    ),
    "a resource the target cannot make": _b(
        '      - "group:department_{{ department.code }}"',
        '      - "product:kit_{{ department.code }}"',
        "targets.helloid.resources.0",
        "the helloid target has no resource kind 'product' (it has: group)",
    ),
    "permissions on a target that cannot grant": _b(
        "never deleted\n",
        'never deleted\n    permissions:\n      - {grant: "group:Everyone"}\n',
        "targets.afas.permissions",
        "the afas target cannot grant permissions",
    ),
    "a mapping key the target lacks": _b(
        "        firstName:",
        "        firstNme:",
        "targets.helloid.account.mapping.firstNme",
        "the helloid target has no account attribute 'firstNme'; did you mean 'firstName'?",
    ),
    "a key the target sets itself": _b(
        '        contactEmail: "{{ person.contact.email }}"',
        '        contactEmail: "{{ person.contact.email }}"\n        isEnabled: true',
        "targets.helloid.account.mapping.isEnabled",
        "the helloid target sets 'isEnabled' itself",
    ),
    "a correlation field the target lacks": _b(
        "account: userAttributes.employeeId}",
        "account: usrName}",
        "targets.helloid.account.correlate.account",
        "has no account attribute 'usrName'; did you mean 'userName'?",
    ),
    "a write-back field misspelt": _b(
        "        UPN:",
        "        UPM:",
        "targets.afas.account.mapping.UPM",
        "the afas target has no account attribute 'UPM'; did you mean 'UPN'?",
    ),
    "a custom attribute cased wrong": _b(
        "        userAttributes.title:",
        "        userattributes.title:",
        "targets.helloid.account.mapping.userattributes.title",
        "did you mean 'userAttributes.title'?",
    ),
    # --- the state store ----------------------------------------------------------------
    "no database URL": _b(
        "state: sqlite:///idsync.db",
        "state: idsync.db",
        "state",
        "'idsync.db' is not a database URL",
    ),
    "a directory that is not there": _b(
        "state: sqlite:///idsync.db",
        "state: sqlite:////nonexistent/idsync/idsync.db",
        "state",
        "the directory /nonexistent/idsync does not exist",
    ),
    "a driver that is not installed": _b(
        "state: sqlite:///idsync.db",
        "state: mysql://idsync@db/idsync",
        "state",
        "the driver is not installed",
    ),
    "a password in the file": _b(
        "state: sqlite:///idsync.db",
        "state: postgresql+psycopg://idsync:Hunter2-db@db.example.org/idsync",
        "state",
        "a password must come from the environment: write ${VARIABLE}",
    ),
    "a whole state URL from a variable": _b(
        "state: sqlite:///idsync.db",
        "state: ${IDSYNC_STATE}",
        "state",
        "mysql://idsync:***@db.example.org/idsync: the driver is not installed",
        env={"IDSYNC_STATE": "mysql://idsync:Hunter2-db@db.example.org/idsync"},
    ),
    "a password in a base URL": Breakage(
        [],
        "targets.helloid.settings.base_url",
        "'ftp://admin:***@enyoi.helloid.com/api/v1' is not an http(s) URL",
        env={"HELLOID_BASE_URL": "ftp://admin:Hunter2-url@enyoi.helloid.com/api/v1"},
    ),
}


def _write(tmp_path: Path, case: Breakage) -> Path:
    text = EXAMPLE
    for old, new in case.edits:
        assert text.count(old) >= 1, f"{old!r} is not in the example"
        text = text.replace(old, new, 1)
    path = tmp_path / "pipeline.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _env(base: dict[str, str], case: Breakage) -> dict[str, str | None]:
    env: dict[str, str | None] = {**base, "COLUMNS": "60"}
    env.update(case.env)
    return env


def _problems(stderr: str, path: Path) -> dict[str, str]:
    prefix = f"  {path}: "
    out = {}
    for line in stderr.splitlines()[1:]:
        assert line.startswith(prefix), line
        key, _, message = line.removeprefix(prefix).partition(": ")
        out[key] = message
    return out


def test_the_example_itself_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    result = CliRunner().invoke(app, ["check", str(path)], env=OFFLINE_ENV)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"ok {path}: 1 source(s), 2 target(s)\n"


@pytest.mark.parametrize("name", list(OFFLINE))
def test_each_breakage_is_reported_with_its_key_path(tmp_path: Path, name: str) -> None:
    case = OFFLINE[name]
    path = _write(tmp_path, case)
    result = CliRunner().invoke(app, ["check", str(path)], env=_env(OFFLINE_ENV, case))
    assert result.exit_code == case.code, result.stdout + result.stderr
    assert result.stdout == ""
    problems = _problems(result.stderr, path)
    assert case.key in problems, problems
    assert case.message in problems[case.key], problems[case.key]
    for secret in (HELLOID_SECRET, "Pr0duct1on-S3cret", "Hunter2-db", "Hunter2-url"):
        assert secret not in result.stderr
    # What `check` refuses, `plan` refuses the same way: nothing is planned from it.
    planned = CliRunner().invoke(app, ["plan", str(path)], env=_env(OFFLINE_ENV, case))
    assert planned.exit_code == 2
    assert planned.stdout == ""


# --- what only a connection finds --------------------------------------------------------


def _closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = int(probe.getsockname()[1])
    probe.close()
    return port


def _zero_bytes(db: Path) -> None:
    db.write_bytes(b"")


def _no_audit_table(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE runs (id INTEGER)")
    conn.close()


CONNECT: dict[str, Breakage] = {
    "a wrong HelloID secret": Breakage(
        [],
        "targets.helloid",
        "HelloID refused the API key and secret (HTTP 401)",
        env={"HELLOID_API_SECRET": "wrong-secret-0123456789abcdef"},
        code=1,
    ),
    "a wrong AFAS token": Breakage(
        [],
        "sources.hr",
        "",
        env={"AFAS_TOKEN": "<token><version>1</version><data>WRONG0123456789</data></token>"},
        code=1,
    ),
    "HelloID down": Breakage(
        [],
        "targets.helloid",
        "could not be reached",
        env={"HELLOID_BASE_URL": "__CLOSED__"},
        code=1,
    ),
    "AFAS down": Breakage([], "sources.hr", "", env={"AFAS_BASE_URL": "__CLOSED__"}, code=1),
    "a group that is not there": _b(
        'grant: "group:ICT Admins"',
        'grant: "group:ICT Admin"',
        "targets.helloid",
        "'group:ICT Admin' not found in the target: every grant of it would fail",
        code=1,
    ),
    "a product that is not there": _b(
        'grant: "product:Laptop"',
        'grant: "product:Laptops"',
        "targets.helloid",
        "'product:Laptops' not found in the target",
        code=1,
    ),
    "an empty state file": Breakage(
        [], "state", "is an empty file (0 bytes)", code=1, prepare=_zero_bytes
    ),
    "a state file that is not idsync's": Breakage(
        [], "state", "is not an idsync state store", code=1, prepare=_no_audit_table
    ),
}


@pytest.mark.parametrize("name", list(CONNECT))
def test_each_breakage_a_connection_finds_is_reported_for_its_system(
    org: Org, tmp_path: Path, name: str
) -> None:
    case = CONNECT[name]
    db = tmp_path / "state" / "idsync.db"
    db.parent.mkdir()
    edits = [*case.edits, ("state: sqlite:///idsync.db", f"state: sqlite:///{db}")]
    path = _write(tmp_path, Breakage(edits, case.key, case.message))
    if case.prepare is not None:
        case.prepare(db)
    env = {k: v for k, v in org.env.items() if k not in case.env}
    for key, value in case.env.items():
        if value == "__CLOSED__":
            env[key] = f"http://127.0.0.1:{_closed_port()}/x"
        elif value is not None:
            env[key] = value
    for settings in ('      token: "${AFAS_TOKEN}"', '      api_secret: "${HELLOID_API_SECRET}"'):
        text = path.read_text(encoding="utf-8")  # short retries: a test, not a night
        path.write_text(
            text.replace(settings, settings + "\n      retries: 1\n      backoff: 0.01"),
            encoding="utf-8",
        )
    org.env = env
    result = org.idsync("check", "--connect", str(path), check=case.code)
    lines = result.stdout.splitlines()
    assert lines[0] == f"ok {path}: 1 source(s), 2 target(s)"
    failed = {
        line.split()[1].rstrip(":"): line for line in lines[1:] if line.startswith("  failed ")
    }
    assert case.key in failed, result.stdout
    assert case.message in failed[case.key]
    assert not any(v and v in result.stdout for v in case.env.values() if v != "__CLOSED__")
    others = {line.split()[1].rstrip(":") for line in lines[1:] if line.startswith("  ok ")}
    assert others  # the systems that are fine say so
    assert not db.exists() or case.prepare is not None  # checking creates no state store


def test_every_breakage_is_a_different_mistake() -> None:
    """The table holds no case twice (the same edit under two names)."""
    edits = [
        tuple(c.edits) + tuple(sorted(c.env.items()))
        for c in (*OFFLINE.values(), *CONNECT.values())
        if c.prepare is None
    ]
    assert len(edits) == len(set(edits))
    assert len(OFFLINE) + len(CONNECT) >= 60
