"""Notifications: e-mail and webhooks about what a run did, one message per recipient per run.

The built-in notifier is an observer plugin (``idsync_action_finished`` and
``idsync_run_finished``). It collects a run's events as they happen and sends when the run
finishes: every e-mail recipient gets one mail listing all of their events, every webhook one
POST, never one message per action. Rules in the pipeline file's ``notifications:`` section say
which event kinds go where; recipients are fixed addresses or templates computed per event
(``{{ manager.contact.email }}``), and subjects and bodies are templates, all in the same
sandboxed expression language as the mappings.

Event kinds: ``created``, ``linked``, ``updated``, ``enabled``, ``disabled``, ``deleted``,
``granted``, ``revoked`` (actions done), ``failed`` (any action that failed), ``held`` (work held
by a threshold) and ``blocked`` (a person a source could not deliver). A notifier that cannot
reach its mail server or webhook logs a warning; it never fails the run or an action.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re
import smtplib
import ssl
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Literal

import httpx
from loguru import logger
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from idsync.expressions import ExpressionError, Expressions
from idsync.hookspecs import hookimpl
from idsync.http import ApiClient
from idsync.model import ActionEvent, ActionKind, ActionStatus, Person, PersonRef, RunSummary
from idsync.secrets import redact, redact_data

if TYPE_CHECKING:
    from idsync.config import Pipeline
    from idsync.state import Store

__all__ = [
    "DEFAULT_BODY",
    "DEFAULT_SUBJECT",
    "EVENT_KINDS",
    "NOTIFIER",
    "EventKind",
    "NotificationRule",
    "Notifications",
    "Notifier",
    "SmtpSettings",
    "Webhook",
    "notification_secrets",
    "secret_problems",
]

EventKind = Literal[
    "created",
    "linked",
    "updated",
    "enabled",
    "disabled",
    "deleted",
    "granted",
    "revoked",
    "failed",
    "held",
    "blocked",
]
EVENT_KINDS: tuple[str, ...] = EventKind.__args__  # type: ignore[attr-defined]

_DONE: dict[ActionKind, str] = {
    ActionKind.CREATE: "created",
    ActionKind.CORRELATE: "linked",
    ActionKind.UPDATE: "updated",
    ActionKind.ENABLE: "enabled",
    ActionKind.DISABLE: "disabled",
    ActionKind.DELETE: "deleted",
    ActionKind.GRANT: "granted",
    ActionKind.REVOKE: "revoked",
}

DEFAULT_SUBJECT = "[idsync] {{ run.pipeline }}: {{ headline }}"
DEFAULT_BODY = """\
idsync pipeline {{ run.pipeline }}, run {{ run.id }}{% if run.dry_run %} (dry-run){% endif %}, \
as of {{ run.as_of }}: {{ headline }}.
{% for kind, items in by_kind.items() %}
{{ kind | capitalize }} ({{ items | length }}):
{% for e in items %}- {{ e.text }}
{% endfor %}{% endfor %}{% if more %}
... and {{ more }} more: idsync audit {{ run.pipeline_file }} --run {{ run.id }}
{% endif %}"""


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SmtpSettings(_Config):
    """The mail server notifications go through."""

    host: str = Field(description="SMTP server host name or address.")
    port: int = Field(default=587, ge=1, le=65535, description="SMTP port.")
    security: Literal["starttls", "ssl", "none"] = Field(
        default="starttls",
        description="starttls (upgrade a plain connection), ssl (TLS from the start) or none.",
    )
    username: str | None = Field(default=None, description="Log in with this user name.")
    password: SecretStr | None = Field(
        default=None, description="The login password, as a ${VARIABLE} reference."
    )
    sender: str = Field(description="The From address, e.g. 'idsync <idsync@example.org>'.")
    timeout: float = Field(default=10.0, gt=0, description="Seconds to wait for the server.")


class Webhook(_Config):
    """An HTTP endpoint that receives one JSON POST per run with the run's events."""

    url: str = Field(description="http:// or https:// URL to POST to.")
    headers: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Extra request headers (e.g. Authorization), as ${VARIABLE} references.",
    )
    timeout: float = Field(default=10.0, gt=0, description="Seconds to wait for an answer.")
    retries: int = Field(default=2, ge=0, le=10, description="Retries of transient failures.")

    @model_validator(mode="after")
    def _http(self) -> Webhook:
        if not re.match(r"^https?://[^/\s]+", self.url):
            raise ValueError("url must be an http:// or https:// URL")
        return self


class NotificationRule(_Config):
    """Which events go to whom: e-mail recipients and/or a webhook."""

    events: list[EventKind] = Field(min_length=1, description="The event kinds this rule sends.")
    systems: list[str] | None = Field(
        default=None,
        description="Only events of these targets (or, for blocked, sources); default: all.",
    )
    to: list[str] = Field(
        default_factory=list,
        description="Recipients: addresses or templates per event ({{ manager.contact.email }}).",
    )
    fallback: list[str] = Field(
        default_factory=list,
        description="Recipients for an event whose 'to' templates give no address.",
    )
    webhook: str | None = Field(default=None, description="The name of a webhook to POST to.")
    subject: str | None = Field(default=None, description="Subject template (default: global).")
    body: str | None = Field(default=None, description="Body template (default: global).")

    @model_validator(mode="after")
    def _somewhere(self) -> NotificationRule:
        if not self.to and self.webhook is None:
            raise ValueError("give recipients ('to') and/or a 'webhook'")
        return self


class Notifications(_Config):
    """E-mail and webhook notifications, batched per run."""

    smtp: SmtpSettings | None = None
    webhooks: dict[str, Webhook] = Field(default_factory=dict)
    rules: list[NotificationRule] = Field(min_length=1)
    subject: str = Field(default=DEFAULT_SUBJECT, description="Default subject template.")
    body: str = Field(default=DEFAULT_BODY, description="Default body template.")
    max_events: int = Field(
        default=200, ge=1, description="Events listed per mail or webhook; the rest are counted."
    )
    dry_run: bool = Field(default=False, description="Also notify about dry-run runs.")

    @model_validator(mode="after")
    def _consistent(self) -> Notifications:
        problems = []
        expressions = Expressions()
        for i, rule in enumerate(self.rules):
            if (rule.to or rule.fallback) and self.smtp is None:
                problems.append(f"rules.{i}: sends e-mail but there are no smtp settings")
            if rule.webhook is not None and rule.webhook not in self.webhooks:
                known = ", ".join(sorted(self.webhooks)) or "none"
                problems.append(f"rules.{i}.webhook: no webhook named {rule.webhook!r} ({known})")
            templates = [
                *(f"to.{n}" for n in range(len(rule.to))),
                *(f"fallback.{n}" for n in range(len(rule.fallback))),
                "subject",
                "body",
            ]
            for where in templates:
                name, _, index = where.partition(".")
                value = getattr(rule, name)
                text = value[int(index)] if index else value
                problems.extend(_compile(expressions, text, f"rules.{i}.{where}"))
        problems.extend(_compile(expressions, self.subject, "subject"))
        problems.extend(_compile(expressions, self.body, "body"))
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _compile(expressions: Expressions, text: str | None, where: str) -> list[str]:
    if text is None:
        return []
    try:
        expressions.template(text)
    except ExpressionError as exc:
        return [f"{where}: {exc}"]
    return []


def secret_problems(
    notifications: Notifications, from_environment: set[str], base: str = "notifications"
) -> list[tuple[str, str]]:
    """Secrets written in the file instead of a ``${VARIABLE}``: ``(key path, problem)``.

    ``from_environment`` holds the key paths whose value came from a reference.
    """
    paths = []
    if notifications.smtp is not None and notifications.smtp.password is not None:
        paths.append(f"{base}.smtp.password")
    for name, hook in notifications.webhooks.items():
        paths.extend(f"{base}.webhooks.{name}.headers.{h}" for h in hook.headers)
    return [
        (path, "a secret must come from the environment: write ${VARIABLE}")
        for path in paths
        if path not in from_environment
    ]


def notification_secrets(
    notifications: Notifications, from_environment: set[str], base: str = "notifications"
) -> list[str]:
    """The values to redact: the password, header values, and webhook URLs given by reference
    (a webhook URL often carries its own token)."""
    out = []
    if notifications.smtp is not None and notifications.smtp.password is not None:
        out.append(notifications.smtp.password.get_secret_value())
    for name, hook in notifications.webhooks.items():
        out.extend(value.get_secret_value() for value in hook.headers.values())
        if f"{base}.webhooks.{name}.url" in from_environment:
            out.append(hook.url)
    return out


# --- events ----------------------------------------------------------------------------


@dataclass
class _Notice:
    """One event as the rules and templates see it."""

    kind: str
    system: str | None
    person: str | None = None
    key: str | None = None
    action: str | None = None
    status: str | None = None
    messages: list[str] = field(default_factory=list)
    reference: str | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    held_id: int | None = None
    count: int | None = None

    def identity(self) -> tuple[Any, ...]:
        """What makes two notices the same (several rules may pick one event)."""
        return (
            self.kind,
            self.system,
            self.person,
            self.reference if self.person is None else None,
            self.key,
            self.action,
            self.held_id,
        )


def _from_event(event: ActionEvent, dry_run: bool) -> _Notice | None:
    if event.status is ActionStatus.FAILED:
        kind = "failed"
    elif event.status is ActionStatus.DONE or (dry_run and event.status is ActionStatus.DRY_RUN):
        kind = _DONE.get(event.kind, "")
    else:
        return None
    if not kind:
        return None
    return _Notice(
        kind=kind,
        system=event.system,
        person=event.person,
        key=event.target_key,
        action=event.kind.value,
        status=event.status.value,
        messages=list(event.messages),
        reference=event.reference,
        changes={k: v.model_dump(mode="json") for k, v in event.changes.items()},
    )


@dataclass
class _People:
    """Persons (from the state store's snapshots) and their managers, looked up in batches."""

    persons: dict[str, Person] = field(default_factory=dict)

    def manager(self, person: Person | None, as_of: dt.date) -> Person | None:
        ref = _manager_ref(person, as_of)
        return self.persons.get(ref.external_id) if ref else None


def _manager_ref(person: Person | None, as_of: dt.date) -> PersonRef | None:
    """The manager as the engine sees it: the primary contract's, else the person's."""
    if person is None:
        return None
    contract = person.primary_contract(as_of)
    return (contract.manager if contract else None) or person.manager


def _fill(people: _People, store: Store, sources: Iterable[str], ids: set[str]) -> None:
    missing = ids - set(people.persons)
    for source in sources:
        if not missing:
            return
        for pid, data in store.person_data(source, sorted(missing)).items():
            try:
                people.persons[pid] = Person.model_validate(data)
            except ValidationError:
                continue
        missing -= set(people.persons)


def _load_people(store: Store, sources: Iterable[str], ids: set[str], as_of: dt.date) -> _People:
    people = _People()
    sources = list(sources)
    _fill(people, store, sources, ids)
    managers = {
        ref.external_id
        for pid in ids
        if (ref := _manager_ref(people.persons.get(pid), as_of)) is not None
    }
    _fill(people, store, sources, managers)
    return people


_VERBS = {
    "created": "account created",
    "linked": "existing account linked",
    "updated": "account updated",
    "enabled": "account enabled",
    "disabled": "account disabled",
    "deleted": "account deleted",
}


def _who(notice: _Notice, person: Person | None) -> str:
    if notice.person is None:
        return f"account {notice.reference}" if notice.reference else "(no person)"
    if person is not None:
        return f"{person.display_name} ({notice.person})"
    return f"person {notice.person}"


def _text(notice: _Notice, person: Person | None, approve_hint: str) -> str:
    who = _who(notice, person)
    detail = "; ".join(notice.messages)
    if notice.kind == "failed":
        what = f"{notice.action} {notice.key}" if notice.key else notice.action
        return f"{notice.system}: {what} failed for {who}: {detail}"
    if notice.kind == "held":
        hint = f" (approve: {approve_hint} {notice.held_id})" if notice.held_id else ""
        return f"{notice.system}: {notice.key} held: {detail}{hint}"
    if notice.kind == "blocked":
        return f"{notice.system}: person {notice.person} blocked: {detail}"
    if notice.kind in ("granted", "revoked"):
        preposition = "to" if notice.kind == "granted" else "from"
        return f"{notice.system}: {notice.key} {notice.kind} {preposition} {who}"
    return f"{notice.system}: {_VERBS.get(notice.kind, notice.kind)} for {who}"


_ADDRESS_SPLIT = re.compile(r"[,;\s]+")


def _addresses(text: Any) -> list[str]:
    return [a for a in _ADDRESS_SPLIT.split(str(text or "")) if "@" in a]


# --- the notifier ----------------------------------------------------------------------


@dataclass
class _Attached:
    """One pipeline's notification settings and its state store."""

    config: Notifications
    store: Store
    sources: list[str]
    pipeline_file: str
    expressions: Expressions = field(default_factory=Expressions)


class Notifier:
    """The built-in notifier: collects each run's events and sends them when it finishes.

    Engines attach their pipeline's ``notifications:`` settings (:meth:`attach`); a run of a
    pipeline without them is not collected at all.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pipelines: dict[str, _Attached] = {}
        self._events: dict[int, list[ActionEvent]] = defaultdict(list)

    def attach(self, pipeline: Pipeline, store: Store) -> None:
        """Send notifications for runs of ``pipeline`` (by its label) as it configures them."""
        assert pipeline.notifications is not None
        with self._lock:
            self._pipelines[pipeline.label] = _Attached(
                config=pipeline.notifications,
                store=store,
                sources=list(pipeline.sources),
                pipeline_file=str(pipeline.path or f"{pipeline.label}.yaml"),
            )

    def detach(self, label: str) -> None:
        """Stop notifying for a pipeline."""
        with self._lock:
            self._pipelines.pop(label, None)

    @hookimpl
    def idsync_action_finished(self, event: ActionEvent) -> None:
        """Collect a finished action of interest (done, dry-run or failed)."""
        if not self._pipelines or event.status not in (
            ActionStatus.DONE,
            ActionStatus.FAILED,
            ActionStatus.DRY_RUN,
        ):
            return
        with self._lock:
            self._events[event.run_id].append(event)

    @hookimpl
    def idsync_run_finished(self, summary: RunSummary) -> None:
        """Send the run's notifications; a failure to send is logged, never raised."""
        with self._lock:
            events = self._events.pop(summary.run_id, [])
            attached = self._pipelines.get(summary.pipeline)
        if attached is None or (summary.dry_run and not attached.config.dry_run):
            return
        try:
            _send_run(attached, summary, events)
        except Exception as exc:
            logger.bind(run=summary.run_id).warning(
                "notifications for run {} failed: {}", summary.run_id, _describe(exc)
            )


NOTIFIER = Notifier()
"""The process-wide notifier (registered as the built-in observer ``notify``)."""


def _describe(exc: BaseException) -> str:
    return redact(f"{type(exc).__name__}: {exc}")


def _notices(attached: _Attached, summary: RunSummary, events: list[ActionEvent]) -> list[_Notice]:
    notices = [n for e in events if (n := _from_event(e, summary.dry_run)) is not None]
    held = [] if summary.dry_run else attached.store.held_in_runs([summary.run_id])
    for item in held:
        notices.append(
            _Notice(
                kind="held",
                system=item["system"],
                key=item["kind"],
                messages=[item["reason"]],
                held_id=item["id"],
                count=item["count"],
            )
        )
    if not held:
        for text in summary.held:
            system, _, rest = text.partition(" ")
            kind, _, reason = rest.partition(": ")
            notices.append(_Notice(kind="held", system=system, key=kind, messages=[reason]))
    for blocked in summary.blocked:
        notices.append(
            _Notice(
                kind="blocked",
                system=blocked.source,
                person=blocked.person,
                key=blocked.field,
                messages=[f"{blocked.field}: {blocked.problem}"],
            )
        )
    return notices


def _run_data(attached: _Attached, summary: RunSummary) -> dict[str, Any]:
    return {
        "id": summary.run_id,
        "pipeline": summary.pipeline,
        "pipeline_file": attached.pipeline_file,
        "dry_run": summary.dry_run,
        "as_of": summary.as_of.isoformat(),
        "started": summary.started.isoformat(),
        "finished": summary.finished.isoformat(),
        "counts": summary.counts,
        "failed": summary.failed,
        "exit_code": summary.exit_code,
    }


def _headline(notices: list[_Notice]) -> str:
    counts = Counter(n.kind for n in notices)
    return ", ".join(f"{counts[k]} {k}" for k in EVENT_KINDS if counts[k]) or "nothing"


def _send_run(attached: _Attached, summary: RunSummary, events: list[ActionEvent]) -> None:
    config = attached.config
    notices = _notices(attached, summary, events)
    matched: list[tuple[NotificationRule, list[_Notice]]] = []
    for rule in config.rules:
        chosen = [
            n
            for n in notices
            if n.kind in rule.events and (rule.systems is None or n.system in rule.systems)
        ]
        if chosen:
            matched.append((rule, chosen))
    if not matched:
        return
    ids = {n.person for _, chosen in matched for n in chosen if n.person}
    people = _load_people(attached.store, attached.sources, ids, summary.as_of)
    # Every notice's account, read once per target rather than once per notice.
    wanted: dict[str, set[str]] = {}
    for _, chosen in matched:
        for n in chosen:
            if n.person and n.system:
                wanted.setdefault(n.system, set()).add(n.person)
    shadows = {
        (system, pid): data
        for system, persons in wanted.items()
        for pid, data in attached.store.account_data(system, persons).items()
    }
    run = _run_data(attached, summary)
    approve_hint = f"idsync approve {attached.pipeline_file}"
    log = logger.bind(run=summary.run_id)

    def context(notice: _Notice) -> dict[str, Any]:
        person = people.persons.get(notice.person or "")
        account: dict[str, Any] = {}
        if notice.person and notice.system:
            shadow = shadows.get((notice.system, notice.person))
            if shadow is not None:
                account = {k: v for k, v in shadow.items() if not k.startswith("@")}
            else:
                account = {k: c.get("after") for k, c in notice.changes.items()}
        data = {
            "kind": notice.kind,
            "system": notice.system,
            "person_id": notice.person,
            "key": notice.key,
            "action": notice.action,
            "status": notice.status,
            "messages": notice.messages,
            "reference": notice.reference,
            "changes": notice.changes,
            "held_id": notice.held_id,
            "count": notice.count,
            "text": _text(notice, person, approve_hint),
            "name": person.display_name if person else None,
            "account": account,
        }
        return {
            "event": data,
            "person": person,
            "manager": people.manager(person, summary.as_of),
            "account": account,
            "run": run,
        }

    contexts: dict[tuple[Any, ...], dict[str, Any]] = {}

    def ctx_of(notice: _Notice) -> dict[str, Any]:
        key = notice.identity()
        if key not in contexts:
            contexts[key] = context(notice)
        return contexts[key]

    mails: dict[tuple[str, str, str], list[_Notice]] = defaultdict(list)
    hooks: dict[str, list[_Notice]] = defaultdict(list)
    render = attached.expressions.render
    for rule, chosen in matched:
        if rule.webhook is not None:
            hooks[rule.webhook].extend(chosen)
        if not rule.to:
            continue
        subject = rule.subject or config.subject
        body = rule.body or config.body
        for notice in chosen:
            ctx = ctx_of(notice)
            recipients: list[str] = []
            for template in rule.to:
                recipients.extend(_addresses(_safe_render(render, template, ctx, log)))
            if not recipients:
                for template in rule.fallback:
                    recipients.extend(_addresses(_safe_render(render, template, ctx, log)))
            if not recipients:
                log.info("notification: no recipient for {}", ctx["event"]["text"])
            for recipient in dict.fromkeys(a.lower() for a in recipients):
                mails[(recipient, subject, body)].append(notice)

    messages = []
    for (recipient, subject_t, body_t), chosen in mails.items():
        unique = list({n.identity(): n for n in chosen}.values())
        data = _batch(unique, ctx_of, config.max_events)
        data.update({"run": run, "recipient": recipient})
        subject = " ".join(str(render(subject_t, data)).split())
        body = str(render(body_t, data))
        messages.append((recipient, subject, body))
    if messages and config.smtp is not None:
        _mail(config.smtp, messages, summary.run_id)
    for name, chosen in hooks.items():
        unique = list({n.identity(): n for n in chosen}.values())
        _post(name, config.webhooks[name], unique, ctx_of, run, config.max_events, summary.run_id)


def _safe_render(render: Any, template: str, ctx: Mapping[str, Any], log: Any) -> Any:
    try:
        return render(template, ctx)
    except ExpressionError as exc:
        log.warning("notification recipient {!r}: {}", template, exc)
        return ""


def _batch(notices: list[_Notice], ctx_of: Any, limit: int) -> dict[str, Any]:
    notices = sorted(
        notices,
        key=lambda n: (
            EVENT_KINDS.index(n.kind),
            n.system or "",
            n.person or "",
            n.key or "",
            n.reference or "",
        ),
    )
    shown = notices[:limit]
    events = [ctx_of(n)["event"] for n in shown]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for kind in EVENT_KINDS:
        items = [e for e in events if e["kind"] == kind]
        if items:
            by_kind[kind] = items
    return {
        "events": events,
        "by_kind": by_kind,
        "more": len(notices) - len(shown),
        "total": len(notices),
        "counts": dict(Counter(n.kind for n in notices)),
        "headline": _headline(notices),
    }


def _mail(settings: SmtpSettings, messages: list[tuple[str, str, str]], run_id: int) -> None:
    log = logger.bind(run=run_id)
    try:
        server = _connect(settings)
    except Exception as exc:
        log.warning(
            "notification mail to {} recipient(s) not sent: SMTP {}:{}: {}",
            len(messages),
            settings.host,
            settings.port,
            _describe(exc),
        )
        return
    sent = 0
    try:
        for recipient, subject, body in messages:
            message = EmailMessage()
            message["From"] = settings.sender
            message["To"] = recipient
            message["Subject"] = subject
            message["Date"] = email.utils.formatdate(localtime=True)
            message["Message-ID"] = email.utils.make_msgid(domain="idsync.invalid")
            message["X-Idsync-Run"] = str(run_id)
            message.set_content(body)
            try:
                server.send_message(message)
                sent += 1
            except (smtplib.SMTPException, OSError) as exc:
                log.warning("notification mail to {} not sent: {}", recipient, _describe(exc))
    finally:
        try:
            server.quit()
        except (smtplib.SMTPException, OSError):
            server.close()
    log.info("notification mail sent to {} of {} recipient(s)", sent, len(messages))


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    server: smtplib.SMTP
    if settings.security == "ssl":
        server = smtplib.SMTP_SSL(
            settings.host,
            settings.port,
            timeout=settings.timeout,
            context=ssl.create_default_context(),
        )
    else:
        server = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    try:
        if settings.security == "starttls":
            server.starttls(context=ssl.create_default_context())
        if settings.username:
            password = settings.password.get_secret_value() if settings.password else ""
            server.login(settings.username, password)
    except BaseException:
        server.close()
        raise
    return server


def _post(
    name: str,
    hook: Webhook,
    notices: list[_Notice],
    ctx_of: Any,
    run: dict[str, Any],
    limit: int,
    run_id: int,
) -> None:
    data = _batch(notices, ctx_of, limit)
    payload = redact_data(
        {
            "pipeline": run["pipeline"],
            "run": run,
            "headline": data["headline"],
            "counts": data["counts"],
            "events": data["events"],
            "more": data["more"],
        }
    )
    headers = {k: v.get_secret_value() for k, v in hook.headers.items()}
    log = logger.bind(run=run_id)
    url = httpx.URL(hook.url)
    try:
        with ApiClient(
            f"{url.scheme}://{url.netloc.decode('ascii')}",
            headers=headers,
            timeout=hook.timeout,
            retries=hook.retries,
            backoff=0.5,
            max_backoff=5.0,
            system=f"webhook {name}",
        ) as client:
            client.request("POST", url.raw_path.decode("ascii"), json=payload)
    except Exception as exc:
        log.warning("notification webhook {} not delivered: {}", name, _describe(exc))
        return
    log.info("notification webhook {} delivered {} event(s)", name, len(notices))
