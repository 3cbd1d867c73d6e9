"""From a run's events to messages: which rule picks which event, for whom, rendered how."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loguru import logger

from idsync.builtin.notify import _events
from idsync.builtin.notify._events import Notice, People
from idsync.builtin.notify.settings import EVENT_KINDS, NotificationRule, Notifications
from idsync.expressions import ExpressionError, Expressions
from idsync.model import ActionEvent, RunSummary
from idsync.secrets import redact_data

if TYPE_CHECKING:
    from idsync.state import Store


@dataclass
class Mail:
    """One message for one recipient, listing all of their events of the run."""

    recipient: str
    subject: str
    body: str


@dataclass
class Post:
    """One webhook's JSON body for the run."""

    webhook: str
    payload: dict[str, Any]
    events: int


@dataclass
class Outbox:
    """What a run sends."""

    mails: list[Mail] = field(default_factory=list)
    posts: list[Post] = field(default_factory=list)


def _headline(notices: list[Notice]) -> str:
    counts = Counter(n.kind for n in notices)
    return ", ".join(f"{counts[k]} {k}" for k in EVENT_KINDS if counts[k]) or "nothing"


def _run_data(summary: RunSummary, pipeline_file: str) -> dict[str, Any]:
    return {
        "id": summary.run_id,
        "pipeline": summary.pipeline,
        "pipeline_file": pipeline_file,
        "dry_run": summary.dry_run,
        "as_of": summary.as_of.isoformat(),
        "started": summary.started.isoformat(),
        "finished": summary.finished.isoformat(),
        "counts": summary.counts,
        "failed": summary.failed,
        "exit_code": summary.exit_code,
    }


def _matched(
    config: Notifications, notices: list[Notice]
) -> list[tuple[NotificationRule, list[Notice]]]:
    matched = []
    for rule in config.rules:
        chosen = [
            n
            for n in notices
            if n.kind in rule.events and (rule.systems is None or n.system in rule.systems)
        ]
        if chosen:
            matched.append((rule, chosen))
    return matched


class _Contexts:
    """The template context of each notice (its event, person, manager and account), built
    once per notice however many rules pick it."""

    def __init__(
        self,
        store: Store,
        sources: Iterable[str],
        summary: RunSummary,
        run: dict[str, Any],
        approve_hint: str,
        notices: Iterable[Notice],
    ) -> None:
        chosen = list(notices)
        self.summary = summary
        self.run = run
        self.approve_hint = approve_hint
        ids = {n.person for n in chosen if n.person}
        self.people = People.load(store, sources, ids, summary.as_of)
        # Every notice's account, read once per target rather than once per notice.
        wanted: dict[str, set[str]] = {}
        for n in chosen:
            if n.person and n.system:
                wanted.setdefault(n.system, set()).add(n.person)
        self.shadows = {
            (system, pid): data
            for system, persons in wanted.items()
            for pid, data in store.account_data(system, persons).items()
        }
        self._built: dict[tuple[Any, ...], dict[str, Any]] = {}

    def of(self, notice: Notice) -> dict[str, Any]:
        key = notice.identity()
        if key not in self._built:
            self._built[key] = self._build(notice)
        return self._built[key]

    def _build(self, notice: Notice) -> dict[str, Any]:
        person = self.people.persons.get(notice.person or "")
        account: dict[str, Any] = {}
        if notice.person and notice.system:
            shadow = self.shadows.get((notice.system, notice.person))
            if shadow is not None:
                account = {k: v for k, v in shadow.items() if not k.startswith("@")}
            else:
                account = {k: c.get("after") for k, c in notice.changes.items()}
        event = {
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
            "text": _events.text(notice, person, self.approve_hint),
            "name": person.display_name if person else None,
            "account": account,
        }
        return {
            "event": event,
            "person": person,
            "manager": self.people.manager(person, self.summary.as_of),
            "account": account,
            "run": self.run,
        }


def _batch(
    notices: list[Notice], ctx_of: Callable[[Notice], dict[str, Any]], limit: int
) -> dict[str, Any]:
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


def _unique(notices: Iterable[Notice]) -> list[Notice]:
    return list({n.identity(): n for n in notices}.values())


def compose(
    config: Notifications,
    expressions: Expressions,
    store: Store,
    sources: Iterable[str],
    pipeline_file: str,
    summary: RunSummary,
    events: Iterable[ActionEvent],
) -> Outbox:
    """The mails and webhook posts of one run: one mail per recipient, one post per webhook."""
    notices = _events.run_notices(store, summary, events)
    matched = _matched(config, notices)
    outbox = Outbox()
    if not matched:
        return outbox
    run = _run_data(summary, pipeline_file)
    contexts = _Contexts(
        store,
        sources,
        summary,
        run,
        f"idsync approve {pipeline_file}",
        (n for _, chosen in matched for n in chosen),
    )
    log = logger.bind(run=summary.run_id)
    render = expressions.render
    mails: dict[tuple[str, str, str], list[Notice]] = defaultdict(list)
    hooks: dict[str, list[Notice]] = defaultdict(list)
    for rule, chosen in matched:
        if rule.webhook is not None:
            hooks[rule.webhook].extend(chosen)
        if not rule.to:
            continue
        subject = rule.subject or config.subject
        body = rule.body or config.body
        for notice in chosen:
            ctx = contexts.of(notice)
            recipients: list[str] = []
            for template in rule.to:
                recipients.extend(_events.addresses(_safe_render(render, template, ctx, log)))
            if not recipients:
                for template in rule.fallback:
                    recipients.extend(_events.addresses(_safe_render(render, template, ctx, log)))
            if not recipients:
                log.info("notification: no recipient for {}", ctx["event"]["text"])
            for recipient in dict.fromkeys(a.lower() for a in recipients):
                mails[(recipient, subject, body)].append(notice)

    for (recipient, subject_t, body_t), chosen in mails.items():
        data = _batch(_unique(chosen), contexts.of, config.max_events)
        data.update({"run": run, "recipient": recipient})
        subject = " ".join(str(render(subject_t, data)).split())
        outbox.mails.append(Mail(recipient, subject, str(render(body_t, data))))
    for name, chosen in hooks.items():
        unique = _unique(chosen)
        data = _batch(unique, contexts.of, config.max_events)
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
        outbox.posts.append(Post(name, payload, len(unique)))
    return outbox


def _safe_render(
    render: Callable[[str, Mapping[str, Any]], Any],
    template: str,
    ctx: Mapping[str, Any],
    log: Any,
) -> Any:
    try:
        return render(template, ctx)
    except ExpressionError as exc:
        log.warning("notification recipient {!r}: {}", template, exc)
        return ""
