"""Notifications end to end: a real SMTP server (aiosmtpd) and a real HTTP receiver on
127.0.0.1, runs through the CLI, one mail per recipient per run, and failures that never fail
provisioning."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import socket
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from idsync.config import load_pipeline
from idsync.engine import Engine
from idsync.plugins import Registry
from idsync.sandbox.simulator import serve
from rig import BASE, HR, Directory, MemorySource, MemoryTarget
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from support import Org, add_to_pipeline, edit_pipeline, set_manager

JOINED, MOVED, GONE = "2026-01-20", "2026-02-02", "2026-03-05"
SMTP_PASSWORD = "Mail-Secret-9f8e7d6c5b"
HOOK_TOKEN = "Bearer hook-token-0a1b2c3d4e"


@dataclass
class Mail:
    """One message the SMTP server accepted."""

    to: list[str]
    subject: str
    body: str
    run: str


@dataclass
class Sink:
    """An aiosmtpd handler that keeps every message."""

    mails: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = message.get_body(("plain",))
        self.mails.append(
            Mail(
                to=list(envelope.rcpt_tos),
                subject=str(message["Subject"]),
                body=body.get_content() if body is not None else "",
                run=str(message["X-Idsync-Run"]),
            )
        )
        return "250 OK"

    def of_run(self, run: int) -> dict[str, Mail]:
        """The run's mails by recipient; fails when someone got more than one."""
        by: dict[str, list[Mail]] = defaultdict(list)
        for mail in self.mails:
            if mail.run == str(run):
                for to in mail.to:
                    by[to].append(mail)
        assert all(len(m) == 1 for m in by.values()), {k: len(v) for k, v in by.items()}
        return {k: v[0] for k, v in by.items()}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_server() -> Iterator[tuple[int, Sink]]:
    """An SMTP server on 127.0.0.1 that wants the login idsync / SMTP_PASSWORD."""

    def authenticator(_s: Any, _session: Any, _envelope: Any, _mech: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"idsync",
            SMTP_PASSWORD.encode(),
        )
        return AuthResult(success=ok)

    sink = Sink()
    port = _free_port()
    controller = Controller(
        sink,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield port, sink
    finally:
        controller.stop()


@contextmanager
def receiver(status: int = 200) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An HTTP endpoint on 127.0.0.1 that keeps every POST (headers and JSON)."""
    posts: list[dict[str, Any]] = []

    async def hook(request: Request) -> JSONResponse:
        posts.append({"headers": dict(request.headers), "json": await request.json()})
        return JSONResponse({"ok": status < 400}, status_code=status)

    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    with serve(app) as server:
        yield f"{server.url}/hook", posts


def _notifications(smtp_port: int, hook_url: str) -> str:
    return f"""
notifications:
  smtp: {{host: 127.0.0.1, port: {smtp_port}, security: none, username: idsync, password: "${{SMTP_PASSWORD}}", sender: "idsync <idsync@example.org>", timeout: 5}}
  webhooks:
    ops: {{url: "{hook_url}", headers: {{Authorization: "${{HOOK_TOKEN}}"}}, retries: 0, timeout: 5}}
  rules:
    - events: [created, enabled, disabled, deleted]
      systems: [helloid]
      to: [servicedesk@example.org]
    - events: [created, linked]
      systems: [helloid]
      to: ["{{{{ manager.contact.email }}}}"]
      fallback: [hr@example.org]
      subject: "idsync: accounts for your team ({{{{ events | length }}}})"
      body: |
        {{% for e in events %}}{{{{ e.name }}}}: {{{{ e.kind }}}} {{{{ e.account.userName }}}}
        {{% endfor %}}
    - events: [failed, held, blocked]
      to: [ops@example.org]
      webhook: ops
"""


def _setup(org: Org, smtp_port: int, hook_url: str, extra: str = "") -> None:
    org.env.update({"SMTP_PASSWORD": SMTP_PASSWORD, "HOOK_TOKEN": HOOK_TOKEN})
    org.write_pipeline(extra)
    add_to_pipeline(org, _notifications(smtp_port, hook_url))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_one_mail_per_recipient_per_run_and_a_webhook_for_each_event_kind(org: Org) -> None:
    set_manager(org, "1002", "1003", "1005")  # Anna manages Jan (already), Piet and Kees
    with smtp_server() as (port, sink), receiver() as (url, posts):
        _setup(org, port, url)
        # Nobody in HelloID has a group "Ghost": granting it fails for the HR staff.
        edit_pipeline(
            org,
            "    permissions:\n",
            '    permissions:\n      - {when: "contract.department.code == \'HR\'", grant: "group:Ghost"}\n',
        )
        first = org.json("run", str(org.pipeline), "--as-of", JOINED, check=1)
        mails = sink.of_run(first["run"])
        assert set(mails) == {
            "servicedesk@example.org",
            "a.vanderberg@example.org",
            "hr@example.org",
            "ops@example.org",
        }
        desk = mails["servicedesk@example.org"]
        created = first["counts"]["done"]["create"]
        assert f"{created} created" in desk.subject
        assert "Created (" in desk.body
        assert "helloid: account created for Anna van der Berg (1002)" in desk.body
        assert "Enabled (" in desk.body
        # The manager's mail is computed from the person model and uses the rule's template.
        team = mails["a.vanderberg@example.org"]
        assert team.subject == "idsync: accounts for your team (3)"
        assert set(team.body.strip().splitlines()) == {
            "Jan de Vries: linked j.devries@example.org",
            "Piet Jansen: created p.jansen@example.org",
            "Kees Bakker: created k.bakker@example.org",
        }
        assert "Anna van der Berg: created" in mails["hr@example.org"].body  # no manager
        ops = mails["ops@example.org"]
        assert "group:Ghost failed for" in ops.body
        assert "Jan de Vries (1007)" in ops.body
        assert [p["json"]["run"]["id"] for p in posts] == [first["run"]]  # one POST per run
        hook = posts[0]
        assert hook["headers"]["authorization"] == HOOK_TOKEN
        assert {e["kind"] for e in hook["json"]["events"]} == {"failed"}
        assert {e["person_id"] for e in hook["json"]["events"]} >= {"1004", "1007"}

        # A month on: the leaver is disabled; the deletes wait for a threshold.
        org.write_pipeline("    thresholds: {delete: 0}")
        add_to_pipeline(org, _notifications(port, url))
        moved = org.json("run", str(org.pipeline), "--as-of", MOVED)
        desk = sink.of_run(moved["run"])["servicedesk@example.org"]
        assert "helloid: account disabled for Piet Jansen (1003)" in desk.body

        # HR breaks a record; the deletes are held.
        with org.afas.data.lock:
            row = next(p for p in org.afas.data.people if p["Medewerker"] == "1008")
            row["Geboortenaam"] = ""
            org.afas.data.changed()
        gone = org.json("run", str(org.pipeline), "--as-of", GONE, check=3)
        ops = sink.of_run(gone["run"])["ops@example.org"]
        held_id = org.json("held", str(org.pipeline))["items"][0]["id"]
        assert "helloid: delete held: 1 person to delete exceeds the threshold 0" in ops.body
        assert f"idsync approve {org.pipeline} {held_id}" in ops.body
        assert "hr: person 1008 blocked" in ops.body
        hook = posts[-1]["json"]
        assert {e["kind"] for e in hook["events"]} == {"held", "blocked"}
        assert next(e for e in hook["events"] if e["kind"] == "held")["held_id"] == held_id

        approved = org.json("approve", str(org.pipeline), str(held_id), "--as-of", GONE)
        desk = sink.of_run(approved["run"])["servicedesk@example.org"]
        assert "helloid: account deleted for Piet Jansen (1003)" in desk.body
        assert desk.subject == "[idsync] e2e: 1 deleted"


def test_a_notifier_that_cannot_deliver_never_fails_the_run_and_keeps_its_secrets(
    org: Org,
) -> None:
    closed = _free_port()  # no mail server listens here
    with org.afas.data.lock:  # a record HR broke: the person is blocked, the webhook told
        row = next(p for p in org.afas.data.people if p["Medewerker"] == "1008")
        row["Geboortenaam"] = ""
        org.afas.data.changed()
    with receiver(status=500) as (url, posts):
        _setup(org, closed, url)
        result = org.idsync(
            "--log-level", "INFO", "run", str(org.pipeline), "--as-of", JOINED, "--json"
        )
    report = json.loads(result.stdout)
    assert report["exit_code"] == 0
    assert report["counts"]["done"]["create"] >= 6
    assert org.user("a.vanderberg@example.org") is not None
    assert "recipient(s) not sent: SMTP 127.0.0.1" in result.stderr
    assert len(posts) == 1  # delivered once, answered 500, not retried (retries: 0)
    assert [e["kind"] for e in posts[0]["json"]["events"]] == ["blocked"]
    assert "notification webhook ops not delivered" in result.stderr
    stored = org.db.read_bytes().decode("latin-1")
    for text in (result.stdout, result.stderr, stored):
        assert SMTP_PASSWORD not in text
        assert HOOK_TOKEN not in text


@pytest.mark.parametrize(
    ("section", "where"),
    [
        (
            'notifications:\n  smtp: {host: h, sender: a@b.c, username: u, password: "plain"}\n'
            "  rules: [{events: [failed], to: [ops@example.org]}]",
            "notifications.smtp.password: a secret must come from the environment",
        ),
        (
            "notifications:\n  rules: [{events: [failed], webhook: nowhere}]",
            "no webhook named 'nowhere'",
        ),
        (
            "notifications:\n  smtp: {host: h, sender: a@b.c}\n"
            '  rules: [{events: [exploded], to: ["{{ person.name"]}]',
            "notifications.rules.0.events.0",
        ),
    ],
)
def test_the_notifications_section_is_validated(org: Org, section: str, where: str) -> None:
    add_to_pipeline(org, section)
    result = org.idsync("check", str(org.pipeline), check=2)
    assert where in result.stderr


def test_commands_that_only_read_the_store_need_no_notification_settings(org: Org) -> None:
    """The section is the notifier's, and nothing notifies while reading the audit trail:
    its variables may be missing there (a webhook URL is often a secret of its own)."""
    add_to_pipeline(
        org,
        'notifications:\n  webhooks: {ops: {url: "${OPS_WEBHOOK_URL}"}}\n'
        "  rules: [{events: [failed], webhook: ops}]",
    )
    org.env.pop("OPS_WEBHOOK_URL", None)
    org.idsync("run", str(org.pipeline), "--as-of", JOINED, check=2)  # a run needs it
    org.env["OPS_WEBHOOK_URL"] = "http://127.0.0.1:9/hook"
    org.idsync("run", str(org.pipeline), "--as-of", JOINED)
    org.env.pop("OPS_WEBHOOK_URL")
    assert org.json("audit", str(org.pipeline), "--limit", "1")["records"]


# --- two engines in one process ---------------------------------------------------------

TEAM = """\
name: shared
state: sqlite:///{db}
sources:
  hr: {{plugin: memhr}}
targets:
  dir:
    plugin: memdir
    concurrency: 4
    account:
      mapping: {{employeeId: "{{{{ person.external_id }}}}"}}
notifications:
  smtp: {{host: 127.0.0.1, port: {port}, security: none, username: idsync, password: "${{SMTP_PASSWORD}}", sender: "idsync <idsync@example.org>", timeout: 5}}
  webhooks:
    ops: {{url: "{url}", headers: {{X-Team: "${{TEAM_TOKEN}}"}}, retries: 0, timeout: 5}}
  rules:
    - {{events: [created], to: [{team}@example.org], webhook: ops}}
"""


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_two_engines_in_one_process_keep_their_notifications_apart(tmp_path: Path) -> None:
    """Two pipelines with the same name, each with its own state store (so both runs are run
    1), run at once in one process: each engine's notifier sends only its own events, with
    its own settings."""
    teams = {"red": ["1001", "1002", "1003"], "blue": ["2001", "2002"]}
    with smtp_server() as (port, sink), receiver() as (url, posts):
        engines = {}
        for team, people in teams.items():
            hr = HR()
            for pid in people:
                hr.hire(pid, BASE - dt.timedelta(days=400))
            directory = Directory()
            registry = Registry(
                entry_points=False,
                extra={
                    "memhr": lambda settings=None, hr=hr: MemorySource(hr, settings),
                    "memdir": lambda settings=None, d=directory: MemoryTarget(d, settings),
                },
            )
            folder = tmp_path / team
            folder.mkdir()
            path = folder / "pipeline.yaml"
            text = TEAM.format(db=folder / "state.db", port=port, url=url, team=team)
            path.write_text(text, encoding="utf-8")
            env = {"SMTP_PASSWORD": SMTP_PASSWORD, "TEAM_TOKEN": f"token-of-{team}"}
            engines[team] = Engine(load_pipeline(path, registry, env=env), registry)
        reports: dict[str, Any] = {}
        start = threading.Barrier(len(engines))

        def run(team: str) -> None:
            start.wait()
            reports[team] = engines[team].run(BASE, time_travel=True)

        threads = [threading.Thread(target=run, args=(team,)) for team in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for engine in engines.values():
            engine.close()

        assert {team: r.run_id for team, r in reports.items()} == {"red": 1, "blue": 1}
        mails = sink.of_run(1)
        assert set(mails) == {"red@example.org", "blue@example.org"}
        for team, people in teams.items():
            body = mails[f"{team}@example.org"].body
            assert f"({len(people)}):" in body  # "Created (3):"
            for pid in people:
                assert f"account created for Given{pid} Family{pid} ({pid})" in body, body
            for pid in teams["blue" if team == "red" else "red"]:
                assert pid not in body
        by_team = {p["headers"]["x-team"]: p["json"] for p in posts}
        assert set(by_team) == {"token-of-red", "token-of-blue"}
        for team, people in teams.items():
            events = by_team[f"token-of-{team}"]["events"]
            assert sorted(e["person_id"] for e in events) == people
