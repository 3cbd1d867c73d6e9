"""The contract test classes' common ground: choosing the tests, the harness fixture, and the
checks every plugin passes whatever it connects (about, settings, kind, connection test).

A contract class holds every check; when it is made for a plugin (:func:`target_contract`,
:func:`source_contract`, or subclassing with ``spec = ...``), the checks of hooks the plugin
does not implement are removed, and a check over several hooks is parametrised over the ones
it does implement. So a missing hook is never a skipped test: it is simply not part of that
plugin's contract, and ``pytest --collect-only`` shows exactly what is checked.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

import pytest
from pydantic import BaseModel, ValidationError

from idsync.model import PluginKind
from idsync.plugins import ENTRY_POINT_GROUP, SOURCE_HOOKS, TARGET_HOOKS, new_manager
from idsync.testing.harness import Harness, implemented_hooks, secret_fields
from idsync.testing.spec import SourceSpec, TargetSpec

__all__ = ["Contract", "caller_module", "can_refuse", "needs", "over"]

F = TypeVar("F", bound=Callable[..., Any])

SECRET_NAME = re.compile(
    r"(^|_)(password|passwd|passphrase|secret|token|api_?key|private_?key|credentials?)$"
)
"""Setting names that hold a secret and so must be ``SecretStr`` (``api_secret``, ``token``)."""

_ACCOUNT_WRITERS = frozenset(
    {
        "idsync_update",
        "idsync_enable",
        "idsync_disable",
        "idsync_delete",
        "idsync_grant",
        "idsync_revoke",
    }
)


def needs(
    *hooks: str, spec: str | None = None, when: Callable[[Any], bool] | None = None
) -> Callable[[F], F]:
    """Keep the check only for plugins implementing ``hooks``, specs that set ``spec``, and
    specs for which ``when(spec)`` holds."""

    def mark(func: F) -> F:
        func.__idsync_needs__ = frozenset(hooks)  # type: ignore[attr-defined]
        func.__idsync_needs_spec__ = spec  # type: ignore[attr-defined]
        func.__idsync_needs_when__ = when  # type: ignore[attr-defined]
        return func

    return mark


def can_refuse(spec: TargetSpec | SourceSpec) -> bool:
    """Whether the kit can make settings the endpoint refuses: the author gave them, or the
    settings model has a secret to replace."""
    if spec.refused_settings is not None:
        return True
    try:
        model = _about_settings(spec.plugin)
    except Exception:
        return False
    return bool(secret_fields(model))


def _about_settings(plugin: Any) -> type[BaseModel]:
    manager = new_manager()
    manager.register(plugin())
    settings: type[BaseModel] = manager.hook.idsync_about().settings
    return settings


def over(options: Mapping[str, Collection[str]]) -> Callable[[F], F]:
    """Parametrise the check's ``hook`` argument over the options the plugin implements.

    ``options`` maps each hook to the other hooks its check needs (e.g. a create first).
    """

    def mark(func: F) -> F:
        func.__idsync_over__ = {h: frozenset(n) for h, n in options.items()}  # type: ignore[attr-defined]
        return func

    return mark


def caller_module() -> str:
    """The module that called the contract factory calling this (pytest shows it in reports)."""
    return str(sys._getframe(2).f_globals.get("__name__", __name__))


def _holds_text(annotation: Any) -> bool:
    """Whether a setting's type is plain text (``str``, ``str | None``): a secret must not be."""
    return annotation is str or str in getattr(annotation, "__args__", ())


def _entry_point_names(plugin: Any) -> list[str]:
    """The ``idsync.plugins`` entry points that name this plugin class."""
    target = f"{getattr(plugin, '__module__', '')}:{getattr(plugin, '__qualname__', '')}"
    return [
        ep.name
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        if ep.value == target
    ]


class Contract:
    """Base of the contract classes; see :func:`idsync.testing.target_contract`."""

    spec: ClassVar[TargetSpec | SourceSpec]
    harness: ClassVar[type[Harness]] = Harness
    hook_choices: ClassVar[dict[str, list[str]]] = {}
    implemented: ClassVar[frozenset[str]] = frozenset()
    pytestmark: ClassVar[list[pytest.MarkDecorator]] = [pytest.mark.idsync_contract]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spec = getattr(cls, "spec", None)
        if spec is None:
            return
        hooks = frozenset(implemented_hooks(spec.plugin))
        cls.check_spec(spec, hooks)
        cls.implemented = hooks
        cls.hook_choices = {}
        for name in dir(cls):
            func = getattr(cls, name, None)
            if not name.startswith("test_") or func is None:
                continue
            needed: frozenset[str] = getattr(func, "__idsync_needs__", frozenset())
            wanted: str | None = getattr(func, "__idsync_needs_spec__", None)
            when: Callable[[Any], bool] | None = getattr(func, "__idsync_needs_when__", None)
            if (
                not needed <= hooks
                or (wanted is not None and not getattr(spec, wanted, None))
                or (when is not None and not when(spec))
            ):
                setattr(cls, name, None)
                continue
            options: dict[str, frozenset[str]] | None = getattr(func, "__idsync_over__", None)
            if options is not None:
                chosen = [h for h, more in options.items() if h in hooks and more <= hooks]
                if not chosen:
                    setattr(cls, name, None)
                    continue
                cls.hook_choices[name] = chosen

    @classmethod
    def check_spec(cls, spec: TargetSpec | SourceSpec, hooks: frozenset[str]) -> None:
        """Raise ``TypeError`` when the spec lacks what the plugin's hooks need tested."""

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Parametrise ``hook`` over the implemented hooks a check covers."""
        choices = type(self).hook_choices.get(metafunc.function.__name__)
        if choices is not None:
            metafunc.parametrize("hook", choices, ids=[c.removeprefix("idsync_") for c in choices])

    @pytest.fixture
    def idsync_contract(self, request: pytest.FixtureRequest) -> Iterator[Harness]:
        """The plugin under test, configured from the spec's settings."""
        spec = type(self).spec
        fixtures = {name: request.getfixturevalue(name) for name in Harness.fixtures_for(spec)}
        with type(self).harness(spec, fixtures) as harness:
            yield harness

    # --- about, settings, kind --------------------------------------------------------

    def test_about_describes_the_plugin(self, idsync_contract: Harness) -> None:
        """``idsync_about`` names the plugin, its kind and version, unconfigured."""
        about = idsync_contract.about
        assert about.name.strip(), "idsync_about: about.name is empty"
        assert not re.search(r"\s", about.name), (
            f"idsync_about: about.name {about.name!r} contains spaces"
        )
        assert about.version.strip(), "idsync_about: about.version is empty"
        assert isinstance(about.kind, PluginKind), f"idsync_about: kind {about.kind!r}"
        for kind in about.permission_kinds:
            assert kind.strip(), "idsync_about: a permission kind is empty"
            assert ":" not in kind, f"idsync_about: permission kind {kind!r} contains ':'"
        names = _entry_point_names(idsync_contract.spec.plugin)
        assert all(name == about.name for name in names), (
            f"idsync_about: the plugin is installed as {names} but about.name is {about.name!r}"
        )

    def test_settings_are_strict_described_and_hide_secrets(self, idsync_contract: Harness) -> None:
        """A pydantic model that refuses unknown keys, describes every field and keeps secrets
        in ``SecretStr``; the configured settings never show a secret."""
        model = idsync_contract.about.settings
        assert isinstance(model, type)
        assert issubclass(model, BaseModel), (
            f"idsync_about: settings {model!r} is not a pydantic model"
        )
        assert model.model_config.get("extra") == "forbid", (
            f"idsync_about: the settings {model.__name__} must refuse unknown keys: "
            "model_config = ConfigDict(extra='forbid')"
        )
        fields = model.model_fields
        undescribed = [name for name, f in fields.items() if not (f.description or "").strip()]
        assert not undescribed, f"idsync_about: settings without a description: {undescribed}"
        plain = [
            name
            for name, f in fields.items()
            if SECRET_NAME.search(name) and _holds_text(f.annotation)
        ]
        assert not plain, (
            f"idsync_about: settings that hold a secret must be SecretStr, not str: {plain}"
        )
        model.model_json_schema()  # the docs and `idsync config-schema` need it

        settings = idsync_contract.settings
        assert isinstance(settings, model), (
            f"the configured settings are a {type(settings).__name__}, not a {model.__name__}"
        )
        for shown in (repr(settings), str(settings), settings.model_dump_json()):
            idsync_contract.assert_no_secret("the settings as shown", shown)
        with pytest.raises(ValidationError) as refused:
            model.model_validate({**dict(settings), "idsync_contract_unknown_key": 1})
        assert any(e["type"] == "extra_forbidden" for e in refused.value.errors())

    def test_kind_matches_the_implemented_hooks(self, idsync_contract: Harness) -> None:
        """A source streams persons, a target works on accounts, and neither does the other's
        work; a plugin that grants or creates resources names its permission kinds."""
        about, hooks = idsync_contract.about, idsync_contract.hooks
        source = sorted(hooks & set(SOURCE_HOOKS))
        target = sorted(hooks & set(TARGET_HOOKS))
        if about.kind in (PluginKind.SOURCE, PluginKind.BOTH):
            assert "idsync_persons" in hooks, (
                f"idsync_about: a {about.kind} plugin must implement idsync_persons"
            )
        if about.kind is PluginKind.SOURCE:
            assert not target, f"idsync_about: a source plugin implements target hooks {target}"
        if about.kind in (PluginKind.TARGET, PluginKind.BOTH):
            assert target, f"idsync_about: a {about.kind} plugin must implement target hooks"
        if about.kind is PluginKind.TARGET:
            assert not source, f"idsync_about: a target plugin implements source hooks {source}"
        if hooks & _ACCOUNT_WRITERS:
            assert hooks & {"idsync_create", "idsync_correlate"}, (
                "idsync_about: a target that changes accounts must create or correlate them: "
                "the engine needs their references"
            )
        granting = sorted(hooks & {"idsync_grant", "idsync_revoke", "idsync_resource"})
        if granting:
            assert about.permission_kinds, (
                f"idsync_about: the plugin implements {granting} but about.permission_kinds "
                "is empty"
            )

    @needs("idsync_check_connection")
    def test_check_connection_succeeds_and_writes_nothing(self, idsync_contract: Harness) -> None:
        """The connection test passes against the live endpoint, read-only."""
        h = idsync_contract
        with h.read_only("idsync_check_connection"):
            result = h.act("idsync_check_connection", h.ctx(dry_run=True))
        assert result.success, f"idsync_check_connection failed: {result.messages}"

    @needs("idsync_check_connection", when=can_refuse)
    def test_check_connection_fails_when_the_credentials_are_refused(
        self, idsync_contract: Harness
    ) -> None:
        """With credentials the endpoint refuses (every secret setting replaced, or the
        spec's ``refused_settings``), the connection test fails with a message, shows
        neither secret, and writes nothing."""
        h = idsync_contract
        refused = h.refused_settings()
        with h.configured(refused) as manager, h.read_only("idsync_check_connection"):
            ctx = h.ctx(dry_run=True, settings=refused)
            result = h.call("idsync_check_connection", manager=manager, ctx=ctx)
        assert not result.success, (
            "idsync_check_connection reported success with credentials the endpoint refuses: "
            "it must test that the credentials are accepted, not only that the system answers"
        )
