"""What a plugin author tells the contract kit: the plugin, its settings, samples and probes.

Every value the kit needs from the author's test setup is a callable whose arguments are pytest
fixture names (``settings=lambda make_settings: make_settings()``), so a simulator served on a
free port, a test tenant's credentials or a seeded data set reach the kit the way they reach any
test. The kit adds one argument of its own: ``unique``, a short text that is new on every call,
for names that must not collide (``userName=f"contract.{unique}@example.org"``), and ``created``
for the ``cleanup`` callable: what the check made (:class:`Created`).
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
    "Created",
    "Sample",
    "SourceSpec",
    "TargetSpec",
    "fixture_names",
]

KIT_ARGUMENTS = frozenset({"unique", "created"})
"""Arguments the kit supplies itself; every other argument names a pytest fixture."""

SettingsFactory = Callable[..., BaseModel | Mapping[str, Any]]
PersonLike = Person | Mapping[str, Any]
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
    ``write_only`` names attributes the target takes but never reports back (a password):
    every other key of ``account`` must come back in ``Account.data`` under that same key.
    ``after_delete`` is for a target that never deletes (its ``idsync_delete`` clears the
    account instead): the attributes as a delete leaves them (``{"UPN": None}``). Without it,
    a deleted account must no longer correlate.
    """

    account: dict[str, Any]
    correlation: Correlation
    changes: dict[str, Any] = field(default_factory=dict)
    person: Person | None = None
    may_change: Collection[str] = ()
    write_only: Collection[str] = ()
    after_delete: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.correlation.account_field in self.changes:
            raise ValueError(
                f"the sample changes its correlation field {self.correlation.account_field!r}; "
                "the update tests find the account through it, so change other attributes"
            )


@dataclass
class Created:
    """What one check made in the endpoint, for the spec's ``cleanup`` callable.

    ``accounts`` are the references of the accounts it created (the kit has deleted them
    through ``idsync_delete`` already, where the plugin implements it; a target that keeps
    deleted accounts may purge them here); ``resources`` the resources ``idsync_resource``
    created, with their references (no hook removes those). ``prefix`` starts every name the
    check used with the kit's ``unique``; it is the run's mark, for a cleanup that sweeps.
    """

    accounts: list[str] = field(default_factory=list)
    resources: list[Permission] = field(default_factory=list)
    prefix: str = ""


@dataclass(frozen=True)
class _Spec:
    plugin: Callable[..., Any]
    """The plugin class: ``plugin()`` unconfigured, ``plugin(settings=...)`` configured."""
    settings: SettingsFactory
    writes: WritesProbe | None = None
    fixtures: tuple[str, ...] = ()
    as_of: dt.date | None = None
    system: str | None = None
    refused_settings: SettingsFactory | None = None
    """Settings whose credentials the endpoint refuses (default: the settings with every
    ``SecretStr`` replaced by a wrong value)."""
    cleanup: Callable[..., Any] | None = None
    """Called after every check with ``created``: removes what the hooks cannot."""

    def callables(self) -> Iterable[Callable[..., Any]]:
        """Every author callable whose arguments name fixtures."""
        yield self.settings
        for value in (self.writes, self.refused_settings, self.cleanup):
            if value is not None:
                yield value


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
    persons: Callable[..., Iterable[PersonLike]] | None = None
    """Persons the endpoint holds, as much of each as the source must yield exactly."""
    departments: Callable[..., Iterable[Mapping[str, Any]]] | None = None
    """Departments the endpoint holds, as much of each as the source must yield exactly."""

    def callables(self) -> Iterable[Callable[..., Any]]:
        yield from super().callables()
        for value in (self.bad_row, self.persons, self.departments):
            if value is not None:
                yield value


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
