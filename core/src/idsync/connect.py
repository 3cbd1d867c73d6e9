"""``idsync check --connect``: everything a run needs, tried before a run needs it.

A connection test alone proves a URL and a credential, not that a run can do its work. So
each system is asked what a run asks of it, read-only and with ``dry_run=True``:

- a **source**: its connection test, then the first person and the first department, read
  the way an import reads them (the same paging, page size and filters);
- a **target**: its connection test, the first account of its listing (the paged read that
  reconciliation makes), its permissions (every ``grant`` of the pipeline that the target
  does not have fails each time it is tried), and, where the plugin reads its live schema
  (``idsync_attributes``), the mapping held to it;
- the **state store**: reachable, whole, at this idsync's schema and writable, without
  creating it or changing it.

Each finding names the pipeline key it is about (``sources.hr``, ``targets.helloid``,
``state``), so it reads like the problems ``idsync check`` reports without ``--connect``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from idsync.config import Pipeline, SourceConfig, TargetConfig
from idsync.declarations import check_live_attributes
from idsync.model import Correlation, HookContext, Permission
from idsync.plugins import Registry, System
from idsync.secrets import redact
from idsync.state.integrity import probe
from idsync.state.location import StateError, StateLocation

__all__ = ["Finding", "check_everything"]


@dataclass
class Finding:
    """What ``check --connect`` found about one system (or the state store)."""

    key: str
    """The pipeline key it is about: ``sources.hr``, ``targets.helloid`` or ``state``."""
    plugin: str | None
    ok: bool | None
    """True: a run can use it; False: a run would fail; None: nothing to check (yet)."""
    messages: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """The finding as ``check --connect --json`` prints it."""
        return {
            "key": self.key,
            "plugin": self.plugin,
            "ok": self.ok,
            "messages": [redact(m) for m in self.messages],
            "seconds": round(self.seconds, 3),
        }


class _Failed(Exception):
    """A read a run makes failed; the message says which and why."""


def _first(what: str, items: Any) -> tuple[bool, Any]:
    """The first item of a hook's answer (a stream is closed after it, so a big listing is
    not read whole); ``(False, None)`` for an empty one."""
    if items is None:
        raise _Failed(f"{what}: the plugin answered nothing")
    iterator = iter(items)
    try:
        first = next(iterator, _NOTHING)
    finally:
        close = getattr(iterator, "close", None)
        if callable(close):
            close()
    return (first is not _NOTHING), (None if first is _NOTHING else first)


_NOTHING = object()


def _connection(system: System, ctx: HookContext) -> str | None:
    """The plugin's connection test: None when it has none; raises :class:`_Failed`."""
    if not system.implements("idsync_check_connection"):
        return None
    result = system.hook.idsync_check_connection(ctx=ctx)
    if result is not None and not result.success:
        raise _Failed("; ".join(result.messages) or "the connection test failed")
    return "; ".join(result.messages) if result is not None and result.messages else "connected"


def _source(system: System, ctx: HookContext) -> list[str]:
    notes = [n for n in [_connection(system, ctx)] if n]
    for hook, what in (("idsync_persons", "person"), ("idsync_departments", "department")):
        if not system.implements(hook):
            continue
        try:
            found, _ = _first(f"reading {what}s", getattr(system.hook, hook)(ctx=ctx))
        except _Failed:
            raise
        except Exception as exc:
            raise _Failed(f"reading {what}s failed: {type(exc).__name__}: {exc}") from None
        notes.append(f"read the first {what}" if found else f"no {what}s to read")
    return notes


def _target(system: System, ctx: HookContext, cfg: TargetConfig, base: str) -> list[str]:
    notes = [n for n in [_connection(system, ctx)] if n]
    if system.implements("idsync_accounts"):
        try:
            found, _ = _first("listing accounts", system.hook.idsync_accounts(ctx=ctx))
        except _Failed:
            raise
        except Exception as exc:
            raise _Failed(f"listing accounts failed: {type(exc).__name__}: {exc}") from None
        notes.append("listed the first account" if found else "no accounts yet")
    grants = [rule.grant for rule in cfg.permissions if rule.grant is not None]
    if grants and system.implements("idsync_permissions"):
        try:
            offered: Iterable[Permission] = system.hook.idsync_permissions(ctx=ctx) or []
            keys = {p.key for p in offered}
        except Exception as exc:
            raise _Failed(f"listing permissions failed: {type(exc).__name__}: {exc}") from None
        # A grant that a resource rule may make (its text starts as the rule's does) is
        # created by the run before it is granted.
        made = [r.split("{", 1)[0] for r in cfg.resources]
        missing = [
            g
            for g in grants
            if Permission.parse(g).key not in keys and not any(g.startswith(m) for m in made)
        ]
        if missing:
            raise _Failed(
                f"{', '.join(repr(g) for g in missing)} not found in the target: every grant "
                "of it would fail (create it there, or fix the permission's name)"
            )
        notes.append(f"the {len(grants)} permission(s) the pipeline grants exist")
    if system.implements("idsync_attributes"):
        try:
            live = list(system.hook.idsync_attributes(ctx=ctx) or [])
        except Exception as exc:
            raise _Failed(f"reading the schema failed: {type(exc).__name__}: {exc}") from None
        problems = check_live_attributes(base, system.info.name, cfg, live)
        if problems:
            raise _Failed("; ".join(f"{key}: {message}" for key, message in problems))
        notes.append(f"the mapping fits the live schema ({len(live)} attributes)")
    return notes


def _check_system(
    pipeline: Pipeline, registry: Registry, key: str, name: str, cfg: SourceConfig | TargetConfig
) -> Finding:
    finding = Finding(key=key, plugin=cfg.plugin, ok=True)
    if not cfg.enabled:
        finding.ok, finding.messages = None, ["disabled in the pipeline: not checked"]
        return finding
    started = time.monotonic()
    system: System | None = None
    try:
        system = registry.system(name, cfg.plugin, pipeline.settings_for(name))
        ctx = HookContext(system=name, dry_run=True, settings=system.settings)
        if isinstance(cfg, TargetConfig):
            _mapping_keys(ctx, cfg)
            finding.messages = _target(system, ctx, cfg, key)
        else:
            finding.messages = _source(system, ctx)
        if not finding.messages:
            finding.ok, finding.messages = None, ["the plugin offers nothing to check"]
    except _Failed as exc:
        finding.ok, finding.messages = False, [str(exc)]
    except Exception as exc:  # a plugin that raises has failed its check
        finding.ok, finding.messages = False, [f"{type(exc).__name__}: {exc}"]
    finally:
        close = getattr(system.plugin, "close", None) if system is not None else None
        if callable(close):
            close()  # the plugin's connection pool: check is done with it
    finding.seconds = time.monotonic() - started
    return finding


def _mapping_keys(ctx: HookContext, cfg: TargetConfig) -> None:
    """Hand a target's connection test the keys its schema may refuse (without values) and
    the correlation field: a plugin that reads its schema then names what does not fit."""
    account = cfg.account
    keys = [k for k in [*account.mapping, *account.unique] if not k.startswith("@")]
    ctx.account = dict.fromkeys(keys)
    if account.correlate is not None:
        ctx.correlation = Correlation(
            person_field=account.correlate.person,
            account_field=account.correlate.account,
            value=None,
        )


def _check_state(pipeline: Pipeline) -> Finding:
    started = time.monotonic()
    try:
        ok, message = probe(StateLocation.parse(pipeline.state))
    except StateError as exc:
        ok, message = False, str(exc)
    return Finding(
        key="state", plugin=None, ok=ok, messages=[message], seconds=time.monotonic() - started
    )


def check_everything(pipeline: Pipeline, registry: Registry) -> list[Finding]:
    """Every source, every target and the state store, checked at once (each on its own)."""
    systems: list[tuple[str, str, SourceConfig | TargetConfig]] = [
        (f"sources.{n}", n, c) for n, c in pipeline.sources.items()
    ]
    systems += [(f"targets.{n}", n, c) for n, c in pipeline.targets.items()]
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(systems) + 1))) as pool:
        state = pool.submit(_check_state, pipeline)
        found = list(pool.map(lambda s: _check_system(pipeline, registry, *s), systems))
    return [*found, state.result()]
