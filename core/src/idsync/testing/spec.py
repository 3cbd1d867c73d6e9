"""What a plugin author tells the contract kit: the plugin, its settings, samples and probes.

Every value the kit needs from the author's test setup is a callable whose arguments are pytest
fixture names (``settings=lambda make_settings: make_settings()``), so a simulator served on a
free port, a test tenant's credentials or a seeded data set reach the kit the way they reach any
test. The kit adds one argument of its own: ``unique``, a short text that is new on every call,
for names that must not collide (``userName=f"contract.{unique}@example.org"``).
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from idsync.model import Correlation, Permission, Person

__all__ = [
    "KIT_ARGUMENTS",
    "Sample",
    "SourceSpec",
    "TargetSpec",
    "fixture_names",
]

KIT_ARGUMENTS = frozenset({"unique"})
"""Arguments the kit supplies itself; every other argument names a pytest fixture."""

SettingsFactory = Callable[..., BaseModel | Mapping[str, Any]]
WritesProbe = Callable[..., int | Sequence[object]]
PermissionLike = Permission | str


@dataclass
class Sample:
    """One account the contract tests create, how to find it again, and what to change in it.

    ``account`` is the mapped account data handed to ``idsync_create`` (``ctx.account``).
    ``correlation`` finds the created account through ``idsync_correlate``. ``changes`` are the
    attributes (key: new value) an update writes; the update tests check that exactly these
    change. ``person`` becomes ``ctx.person``. ``may_change`` names attributes the target
    changes by itself on any write (a modification time) or derives from the changed ones (a
    display name); they are left out of the "nothing else changed" comparison.
    """

    account: dict[str, Any]
    correlation: Correlation
    changes: dict[str, Any] = field(default_factory=dict)
    person: Person | None = None
    may_change: Collection[str] = ()

    def __post_init__(self) -> None:
        if self.correlation.account_field in self.changes:
            raise ValueError(
                f"the sample changes its correlation field {self.correlation.account_field!r}; "
                "the update tests find the account through it, so change other attributes"
            )


@dataclass(frozen=True)
class _Spec:
    plugin: Callable[..., Any]
    """The plugin class: ``plugin()`` unconfigured, ``plugin(settings=...)`` configured."""
    settings: SettingsFactory
    writes: WritesProbe | None = None
    fixtures: tuple[str, ...] = ()
    as_of: dt.date | None = None
    system: str | None = None

    def callables(self) -> Iterable[Callable[..., Any]]:
        """Every author callable whose arguments name fixtures."""
        yield self.settings
        if self.writes is not None:
            yield self.writes


@dataclass(frozen=True)
class TargetSpec(_Spec):
    """How to test a target plugin (see :func:`idsync.testing.target_contract`)."""

    sample: Callable[..., Sample] | None = None
    permissions: Callable[..., Iterable[PermissionLike]] | Sequence[PermissionLike] = ()
    resource: Callable[..., PermissionLike] | None = None
    missing_reference: Callable[..., str] | str | None = None

    def callables(self) -> Iterable[Callable[..., Any]]:
        yield from super().callables()
        for value in (self.sample, self.permissions, self.resource, self.missing_reference):
            if callable(value):
                yield value


@dataclass(frozen=True)
class SourceSpec(_Spec):
    """How to test a source plugin (see :func:`idsync.testing.source_contract`)."""

    bad_row: Callable[..., str] | None = None
    min_persons: int = 1

    def callables(self) -> Iterable[Callable[..., Any]]:
        yield from super().callables()
        if self.bad_row is not None:
            yield self.bad_row


def fixture_names(func: Callable[..., Any]) -> list[str]:
    """The fixtures a callable asks for: its named arguments, less the kit's own."""
    names = []
    for name, parameter in inspect.signature(func).parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if name not in KIT_ARGUMENTS:
            names.append(name)
    return names


def call_with(func: Callable[..., Any], fixtures: Mapping[str, Any], **kit: Any) -> Any:
    """Call an author callable with the fixtures and kit values its arguments name."""
    kwargs: dict[str, Any] = {}
    for name, parameter in inspect.signature(func).parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        kwargs[name] = kit[name] if name in kit else fixtures[name]
    return func(**kwargs)
