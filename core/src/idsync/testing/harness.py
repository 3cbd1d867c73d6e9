"""The plugin under test, configured and called the way the engine calls it.

A :class:`Harness` binds the plugin to the author's settings in its own pluggy manager (as
:class:`idsync.plugins.System` does), calls hooks through that manager, and checks every answer
on the way back: the return type the hook spec promises, and no secret of the settings in a
message, a reference, account data or an exception. Everything the plugin logs while the harness
is open is captured; a secret in a log line fails the test at teardown.

Every answer is checked for the promises all hooks share: a failed result says why, a blocked
one has not succeeded, and an exception names the hook that raised it. When the harness
closes, it removes what its check created (``idsync_delete``, then the spec's ``cleanup``).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from types import TracebackType
from typing import Any

import pluggy
from loguru import logger
from pydantic import BaseModel, SecretStr

from idsync.model import (
    Account,
    ActionResult,
    Blocked,
    Change,
    Correlation,
    Department,
    HookContext,
    Permission,
    Person,
    PluginAbout,
)
from idsync.plugins import LIFECYCLE_HOOKS, new_manager
from idsync.testing import sharing
from idsync.testing.spec import (
    Created,
    Sample,
    SourceSpec,
    TargetSpec,
    call_with,
    fixture_names,
)
from idsync.testing.writes import describe_write

__all__ = ["ACTION_HOOKS", "Harness", "SourceHarness", "TargetHarness", "implemented_hooks"]

ACTION_HOOKS = frozenset(
    {
        "idsync_check_connection",
        "idsync_create",
        "idsync_update",
        "idsync_enable",
        "idsync_disable",
        "idsync_delete",
        "idsync_grant",
        "idsync_revoke",
        "idsync_resource",
    }
)
"""Hooks that return one :class:`~idsync.model.ActionResult`."""

_STREAMS = frozenset(LIFECYCLE_HOOKS) - ACTION_HOOKS - {"idsync_attribute_available"}
"""Hooks that answer an iterable (persons, departments, accounts, permissions)."""

SHORTEST_SECRET = 6
"""Secret values shorter than this are not searched for (they match too much by chance)."""

SETTLE = 0.02
"""Seconds between two reads of the write probe that must agree before a count is taken."""


def implemented_hooks(plugin: Any) -> set[str]:
    """The hooks the plugin class implements, validated against the hook specs.

    The plugin is constructed unconfigured (``plugin()``), as the engine does for ``about``.
    Raises pluggy's ``PluginValidationError`` for a hook idsync does not know or whose
    arguments are not the spec's.
    """
    manager = new_manager()
    instance = plugin()
    manager.register(instance)
    manager.check_pending()
    return {caller.name for caller in manager.get_hookcallers(instance) or []}


def _about(plugin: Any) -> PluginAbout:
    manager = new_manager()
    manager.register(plugin())
    about = manager.hook.idsync_about()
    if not isinstance(about, PluginAbout):
        raise TypeError(f"idsync_about returned {type(about).__name__}, not a PluginAbout")
    return about


def secret_fields(model: type[BaseModel]) -> list[str]:
    """The settings fields that hold a ``SecretStr``."""
    return [
        name
        for name, info in model.model_fields.items()
        if info.annotation is SecretStr or SecretStr in getattr(info.annotation, "__args__", ())
    ]


def _secrets(settings: BaseModel) -> dict[str, str]:
    """``{setting name: secret value}`` of every ``SecretStr`` setting long enough to find."""
    found = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name, None)
        if isinstance(value, SecretStr):
            text = value.get_secret_value()
            if len(text) >= SHORTEST_SECRET:
                found[name] = text
    return found


def _text(value: Any) -> str:
    """Everything a returned value would show anywhere, as one text."""
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    if isinstance(value, Mapping | list | tuple):
        return repr(value)
    return str(value)


class Harness:
    """One configured plugin under test, with the author's probes resolved.

    Made by the contract classes' ``idsync_contract`` fixture; test code calls :meth:`call` and
    the helpers below rather than the plugin itself.
    """

    def __init__(self, spec: TargetSpec | SourceSpec, fixtures: Mapping[str, Any]) -> None:
        self.spec = spec
        self._fixtures = dict(fixtures)
        self.about = _about(spec.plugin)
        raw = call_with(spec.settings, self._fixtures, unique=self.unique())
        model = self.about.settings
        self.settings: BaseModel = raw if isinstance(raw, BaseModel) else model.model_validate(raw)
        self.plugin = spec.plugin(settings=self.settings)
        self.manager: pluggy.PluginManager = new_manager()
        self.manager.register(self.plugin, name=f"{self.about.name}:contract")
        self.manager.check_pending()
        self.hooks = {c.name for c in self.manager.get_hookcallers(self.plugin) or []}
        self.system = spec.system or self.about.name
        self.secrets = _secrets(self.settings)
        self.log: list[str] = []
        self._sink: int | None = None
        plugin_name = (
            f"{getattr(spec.plugin, '__module__', '')}.{getattr(spec.plugin, '__qualname__', '')}"
        )
        self.lock = sharing.EndpointLock(plugin_name)
        self.created = Created(prefix=sharing.RUN)
        self._linked: set[str] = set()
        self._deleted: set[str] = set()

    @classmethod
    def fixtures_for(cls, spec: TargetSpec | SourceSpec) -> list[str]:
        """Every fixture the spec's callables (and ``fixtures``) ask for, in order."""
        names = list(spec.fixtures)
        for func in spec.callables():
            names.extend(fixture_names(func))
        return list(dict.fromkeys(names))

    # --- lifetime ---------------------------------------------------------------------

    def __enter__(self) -> Harness:
        self._sink = logger.add(self.log.append, level="TRACE", format="{message} {extra}")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            left = self._clean_up()
        finally:
            close = getattr(self.plugin, "close", None)
            if callable(close):
                close()
            self.lock.close()
            if self._sink is not None:
                with suppress(ValueError):  # a test that reset loguru removed it already
                    logger.remove(self._sink)
                self._sink = None
        if exc_type is None:
            self.assert_no_secret("the plugin's log", "\n".join(self.log))
            assert not left, "the check could not remove what it created: " + "; ".join(left)

    def _clean_up(self) -> list[str]:
        """Delete the accounts the check created, then run the spec's ``cleanup``; what failed."""
        problems: list[str] = []
        ours = [r for r in self.created.accounts if r not in self._linked]
        if "idsync_delete" in self.hooks:
            for reference in ours:
                if reference in self._deleted:
                    continue
                try:
                    with self.lock.shared():
                        result = self.manager.hook.idsync_delete(ctx=self.ctx(reference=reference))
                except Exception as exc:
                    problems.append(f"idsync_delete of {reference} raised {type(exc).__name__}")
                    continue
                if not (result.success or result.not_found):
                    problems.append(f"idsync_delete of {reference}: {result.messages}")
        if self.spec.cleanup is not None:
            try:
                with self.lock.shared():
                    call_with(self.spec.cleanup, self._fixtures, created=self.created)
            except Exception as exc:
                problems.append(f"cleanup= raised {type(exc).__name__}: {exc}")
        return problems

    # --- calling hooks ----------------------------------------------------------------

    def ctx(self, **values: Any) -> HookContext:
        """A hook context for this system, as the engine would build it."""
        values.setdefault("as_of", self.spec.as_of or dt.date.today())
        values.setdefault("settings", self.settings)
        return HookContext(system=self.system, **values)

    def call(self, hook: str, *, manager: pluggy.PluginManager | None = None, **kwargs: Any) -> Any:
        """Call ``hook`` through pluggy; check the answer's type, its shared promises, and
        that it hides secrets. An exception becomes a failure naming the hook.

        Iterables (persons, departments, accounts, permissions) come back as lists.
        ``manager`` calls another configuration of the plugin (see :meth:`configured`).
        """
        if hook not in self.hooks:
            raise AssertionError(f"the plugin does not implement {hook}")
        relay = (manager or self.manager).hook
        with self.lock.shared():
            try:
                result = getattr(relay, hook)(**kwargs)
                if hook in _STREAMS and result is not None:
                    result = list(result)
            except Exception as exc:
                self.assert_no_secret(f"the exception {hook} raised", f"{exc!r} {exc}")
                raise AssertionError(f"{hook} raised {type(exc).__name__}: {exc}") from exc
        if hook in ACTION_HOOKS:
            assert isinstance(result, ActionResult), (
                f"{hook} returned {type(result).__name__}, not an ActionResult"
            )
            self._check_result(hook, result)
        elif hook == "idsync_attribute_available":
            assert isinstance(result, bool), f"{hook} returned {result!r}, not True or False"
        elif hook in LIFECYCLE_HOOKS:
            assert result is not None, f"{hook} returned None instead of an iterable"
            self._check_items(hook, result)
        self.assert_no_secret(f"the answer of {hook}", _text(result))
        return result

    @staticmethod
    def _check_result(hook: str, result: ActionResult) -> None:
        assert not (result.blocked and result.success), (
            f"{hook} answered blocked=True with success=True: a blocked action has not "
            "succeeded (success=False, and messages that say what must be done)"
        )
        assert result.success or result.messages, (
            f"{hook} failed without a message: a failure must say what failed (messages=[...])"
        )

    @contextmanager
    def configured(self, settings: BaseModel) -> Iterator[pluggy.PluginManager]:
        """The plugin configured with other ``settings``, in its own manager, for one block;
        its secrets are searched for too."""
        plugin = self.spec.plugin(settings=settings)
        manager: pluggy.PluginManager = new_manager()
        manager.register(plugin, name=f"{self.about.name}:contract-other")
        extra = {f"{k} (other)": v for k, v in _secrets(settings).items()}
        self.secrets.update(extra)
        try:
            yield manager
        finally:
            close = getattr(plugin, "close", None)
            if callable(close):
                close()

    def act(self, hook: str, ctx: HookContext) -> ActionResult:
        """Call a lifecycle hook that returns one :class:`ActionResult`."""
        result: ActionResult = self.call(hook, ctx=ctx)
        return result

    def _check_items(self, hook: str, items: list[Any]) -> None:
        expected: dict[str, tuple[type, ...]] = {
            "idsync_correlate": (Account,),
            "idsync_accounts": (Account,),
            "idsync_permissions": (Permission,),
            "idsync_persons": (Mapping, Person, Blocked),
            "idsync_departments": (Mapping, Department),
        }
        kinds = expected.get(hook)
        if kinds is None:
            return
        wrong = [type(item).__name__ for item in items if not isinstance(item, kinds)]
        names = " or ".join(k.__name__ for k in kinds)
        assert not wrong, f"{hook} yielded {', '.join(sorted(set(wrong)))}, not {names}"

    def assert_no_secret(self, where: str, text: str) -> None:
        """Fail when a secret setting's value appears in ``text`` (the value is not shown)."""
        leaked = sorted(name for name, secret in self.secrets.items() if secret in text)
        assert not leaked, f"the secret setting(s) {', '.join(leaked)} appeared in {where}"

    # --- writes -------------------------------------------------------------------------

    def _probe(self) -> list[str]:
        probe = self.spec.writes
        if probe is None:
            raise AssertionError("this check needs writes= (a probe counting the writes)")
        seen = call_with(probe, self._fixtures)
        if isinstance(seen, int):
            return ["(a write)"] * seen
        return [describe_write(item) for item in seen]

    def writes(self) -> list[str]:
        """The writes the author's probe has seen so far (as descriptions when it lists them).

        The probe is read until two reads :data:`SETTLE` seconds apart agree: a server may log
        a request just after the client has its answer (a 204 ends at the headers), and such a
        late entry must count for the call that made it, not for the next one.
        """
        seen = self._probe()
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            time.sleep(SETTLE)
            again = self._probe()
            if len(again) == len(seen):
                return again
            seen = again
        return seen

    def read_only(self, what: str) -> AbstractContextManager[None]:
        """:meth:`writes_nothing` when the spec can count writes (``writes=``); otherwise a
        block that checks nothing, so read-only checks need no write probe."""
        return self.writes_nothing(what) if self.spec.writes is not None else nullcontext()

    @contextmanager
    def writes_during(self) -> Iterator[list[str]]:
        """The writes the block made the system see (the list fills when the block ends).

        Holds the endpoint lock exclusively, so no other check's write counts here.
        """
        seen: list[str] = []
        with self.lock.exclusive():
            before = len(self.writes())
            yield seen
            seen.extend(self.writes()[before:])

    @contextmanager
    def writes_nothing(self, what: str) -> Iterator[None]:
        """Fail when the block makes the system see any write."""
        with self.writes_during() as new:
            yield
        assert not new, f"{what} must write nothing, but wrote {len(new)} time(s): " + "; ".join(
            new[:5]
        )

    # --- author values ------------------------------------------------------------------

    @staticmethod
    def unique() -> str:
        """A short text that is new on every call (for names that must not collide): the
        run's mark, the worker and a counter (:func:`idsync.testing.sharing.unique`)."""
        return sharing.unique()

    def refused_settings(self) -> BaseModel:
        """Settings whose credentials the endpoint refuses: the author's ``refused_settings``,
        else the settings with every ``SecretStr`` replaced by a wrong value."""
        if self.spec.refused_settings is not None:
            with self.lock.shared():
                raw = call_with(self.spec.refused_settings, self._fixtures, unique=self.unique())
            model = self.about.settings
            return raw if isinstance(raw, BaseModel) else model.model_validate(raw)
        wrong = {
            name: SecretStr(f"idsync-contract-refused-{self.unique()}")
            for name in secret_fields(type(self.settings))
        }
        return self.settings.model_copy(update=wrong)

    def fixture(self, name: str) -> Any:
        """A fixture the spec asked for."""
        return self._fixtures[name]


class TargetHarness(Harness):
    """A harness for a target: samples, permissions, resources and reading accounts back."""

    spec: TargetSpec

    def sample(self) -> Sample:
        """A fresh sample account from the author's ``sample``."""
        if self.spec.sample is None:
            raise AssertionError("this check needs sample= (an account to create)")
        with self.lock.shared():
            sample = call_with(self.spec.sample, self._fixtures, unique=self.unique())
        assert isinstance(sample, Sample), f"sample= returned {type(sample).__name__}, not a Sample"
        return sample

    def permissions(self) -> list[Permission]:
        """The permissions the grant and revoke checks use (at least one)."""
        given = self.spec.permissions
        values = (
            call_with(given, self._fixtures, unique=self.unique()) if callable(given) else given
        )
        found = [p if isinstance(p, Permission) else Permission.parse(p) for p in values]
        assert found, "permissions= gave no permission to grant and revoke"
        return found

    def resource(self) -> Permission:
        """A resource that does not exist yet: the author's, or ``<first kind>:idsync-contract-…``."""
        unique = self.unique()
        if self.spec.resource is not None:
            value = call_with(self.spec.resource, self._fixtures, unique=unique)
            return value if isinstance(value, Permission) else Permission.parse(value)
        kinds = self.about.permission_kinds
        assert kinds, "the plugin implements idsync_resource but names no permission_kinds"
        return Permission(kind=kinds[0], name=f"idsync-contract-{unique}")

    def missing_reference(self) -> str:
        """A reference to an account that does not exist."""
        given = self.spec.missing_reference
        if given is None:
            return str(uuid.uuid4())
        if callable(given):
            return str(call_with(given, self._fixtures, unique=self.unique()))
        return given

    # --- accounts -----------------------------------------------------------------------

    def create_ctx(self, sample: Sample, **values: Any) -> HookContext:
        """The context of a create, as the engine builds it (every attribute a change)."""
        return self.ctx(
            account=dict(sample.account),
            person=sample.person,
            changes={key: Change(after=value) for key, value in sample.account.items()},
            **values,
        )

    def create(self, sample: Sample) -> str:
        """Create the sample's account for real; its reference.

        An account that correlated before the create (a target that links instead of
        creating) is not the check's own, so the harness does not delete it at the end.
        """
        existing = {a.reference for a in self.find(sample.correlation)}
        result = self.act("idsync_create", self.create_ctx(sample))
        assert result.success, f"idsync_create failed: {result.messages}"
        assert isinstance(result.reference, str), "idsync_create returned no reference"
        assert result.reference.strip(), "idsync_create returned an empty reference"
        self.created.accounts.append(result.reference)
        if result.reference in existing:
            self._linked.add(result.reference)
        return result.reference

    def deleted(self, reference: str) -> None:
        """Note that a check deleted ``reference`` itself."""
        self._deleted.add(reference)

    def made_resource(self, resource: Permission) -> None:
        """Note a resource the check made (for the spec's ``cleanup``)."""
        self.created.resources.append(resource)

    def find(self, correlation: Correlation) -> list[Account]:
        """The accounts that correlate (through ``idsync_correlate``, else the accounts list)."""
        if "idsync_correlate" in self.hooks:
            found: list[Account] = self.call(
                "idsync_correlate", ctx=self.ctx(correlation=correlation)
            )
            return found
        accounts: list[Account] = self.call("idsync_accounts", ctx=self.ctx())
        value = correlation.value
        return [a for a in accounts if a.data.get(correlation.account_field) == value]

    def account(self, sample: Sample, reference: str) -> Account:
        """The one account the sample correlates to, which must be ``reference``."""
        found = self.find(sample.correlation)
        refs = [a.reference for a in found]
        assert refs == [reference], (
            f"correlating {sample.correlation.account_field} = {sample.correlation.value!r} "
            f"found {refs or 'nothing'}; expected exactly the account {reference}"
        )
        return found[0]

    def listed(self, reference: str) -> Account | None:
        """The account with ``reference`` in ``idsync_accounts``, or None."""
        accounts: list[Account] = self.call("idsync_accounts", ctx=self.ctx())
        return next((a for a in accounts if a.reference == reference), None)


class SourceHarness(Harness):
    """A harness for a source."""

    spec: SourceSpec

    def read(self) -> tuple[list[Mapping[str, Any] | Person], list[Blocked]]:
        """Every person (mapping or :class:`Person`) and every blocked row the source yields."""
        items: Iterable[Any] = self.call("idsync_persons", ctx=self.ctx())
        rows = [i for i in items if not isinstance(i, Blocked)]
        blocked = [i for i in items if isinstance(i, Blocked)]
        return rows, blocked

    def inject_bad_row(self) -> str:
        """Let the author put a bad row in the source; the person the block must name."""
        if self.spec.bad_row is None:
            raise RuntimeError("inject_bad_row needs bad_row= (the check skips without it)")
        with self.lock.shared():
            return str(call_with(self.spec.bad_row, self._fixtures, unique=self.unique()))

    def expected(self, which: str) -> list[Any]:
        """The author's expected ``persons`` or ``departments``."""
        given = getattr(self.spec, which)
        if given is None:
            raise RuntimeError(f"expected({which!r}) needs {which}= (the check skips without it)")
        return list(call_with(given, self._fixtures, unique=self.unique()))
