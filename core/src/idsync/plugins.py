"""Finding plugins (stevedore) and calling them (pluggy).

:class:`Registry` loads every entry point of the ``idsync.plugins`` group. A plugin whose import
raises, whose constructor fails, or that implements a hook idsync does not know is *isolated*:
it is listed with its error and the others work (``strict=True`` makes any such failure fatal).
One registry-wide :class:`pluggy.PluginManager` holds every unconfigured plugin plus the built-in
ones, for questions asked of all of them. :meth:`Registry.system` builds a separate manager per
configured source or target, holding that system's plugin bound to its settings plus the
observers, so a lifecycle hook reaches exactly one connector.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pluggy
from loguru import logger
from pydantic import BaseModel
from stevedore import ExtensionManager

from idsync import hookspecs
from idsync.model import PluginAbout, PluginKind

__all__ = [
    "ENTRY_POINT_GROUP",
    "LIFECYCLE_HOOKS",
    "PluginInfo",
    "PluginLoadError",
    "Registry",
    "System",
]

ENTRY_POINT_GROUP = "idsync.plugins"

SOURCE_HOOKS = ("idsync_persons", "idsync_departments")
TARGET_HOOKS = (
    "idsync_correlate",
    "idsync_attribute_available",
    "idsync_create",
    "idsync_update",
    "idsync_enable",
    "idsync_disable",
    "idsync_delete",
    "idsync_accounts",
    "idsync_permissions",
    "idsync_grant",
    "idsync_revoke",
    "idsync_resource",
)
LIFECYCLE_HOOKS = SOURCE_HOOKS + TARGET_HOOKS
OBSERVER_HOOKS = ("idsync_action_finished", "idsync_run_finished")


class PluginLoadError(Exception):
    """A plugin could not be loaded (raised only in strict mode or when it is needed)."""


@dataclass
class PluginInfo:
    """What the registry knows of one plugin, loaded or not."""

    name: str
    package: str | None = None
    version: str | None = None
    factory: Callable[..., Any] | None = None
    instance: Any = None
    about: PluginAbout | None = None
    hooks: list[str] = field(default_factory=list)
    error: str | None = None
    builtin: bool = False

    @property
    def kind(self) -> str | None:
        """``source``, ``target``, ``both`` or, for observers, None."""
        return self.about.kind.value if self.about else None

    @property
    def roles(self) -> set[str]:
        """The roles the plugin can be configured in."""
        if self.about is None:
            return set()
        if self.about.kind is PluginKind.BOTH:
            return {"source", "target"}
        return {self.about.kind.value}

    @property
    def capabilities(self) -> list[str]:
        """The lifecycle hooks it implements, without the ``idsync_`` prefix."""
        return [h.removeprefix("idsync_") for h in self.hooks if h in LIFECYCLE_HOOKS]

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of ``idsync plugins --json``."""
        return {
            "name": self.name,
            "kind": self.kind,
            "package": self.package,
            "version": self.version,
            "hooks": self.hooks,
            "capabilities": self.capabilities,
            "summary": self.about.summary if self.about else None,
            "builtin": self.builtin,
            "error": self.error,
        }


def new_manager() -> pluggy.PluginManager:
    """A plugin manager that knows idsync's hook specifications."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


def _distributions() -> dict[str, tuple[str | None, str | None]]:
    """``{entry point name: (distribution, version)}`` for the idsync plugin group."""
    out: dict[str, tuple[str | None, str | None]] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        out[ep.name] = (dist.name, dist.version) if dist is not None else (None, None)
    return out


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class System:
    """One configured source or target: its own plugin manager and its bound plugin."""

    def __init__(
        self, name: str, info: PluginInfo, settings: BaseModel, observers: Iterable[object] = ()
    ) -> None:
        if info.factory is None:
            raise PluginLoadError(f"plugin {info.name!r} is not loaded: {info.error}")
        self.name = name
        self.info = info
        self.settings = settings
        self.pm = new_manager()
        self.plugin = info.factory(settings=settings)
        self.pm.register(self.plugin, name=f"{name}:{info.name}")
        for observer in observers:
            self.pm.register(observer)
        self.hook = self.pm.hook

    def notify(self, hook: str, **kwargs: Any) -> None:
        """Call an observer hook on every observer, each on its own: one that raises is
        logged and the others still hear of it."""
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            try:
                impl.function(**{name: kwargs[name] for name in impl.argnames})
            except Exception as exc:
                logger.bind(system=self.name).warning(
                    "observer {} failed in {}: {}",
                    impl.plugin_name,
                    hook,
                    f"{type(exc).__name__}: {exc}",
                )

    @cached_property
    def digest(self) -> str:
        """A short hash of the settings (secrets masked): an action a plugin reported
        blocked is tried again when its system's settings change."""
        text = self.settings.model_dump_json()  # SecretStr values dump as '**********'
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()

    def hooks(self) -> set[str]:
        """The hooks the connector implements."""
        return {c.name for c in self.pm.get_hookcallers(self.plugin) or []}

    def implements(self, hook: str) -> bool:
        """Whether the connector implements ``hook``."""
        caller = getattr(self.pm.hook, hook, None)
        if caller is None:
            return False
        return any(impl.plugin is self.plugin for impl in caller.get_hookimpls())


class Registry:
    """Every installed plugin, discovered through stevedore, plus the built-in observers."""

    def __init__(
        self,
        strict: bool = False,
        extra: dict[str, Callable[..., Any]] | None = None,
        entry_points: bool = True,
    ) -> None:
        self.strict = strict
        self.plugins: dict[str, PluginInfo] = {}
        self.observers: list[object] = []
        self.pm = new_manager()
        if entry_points:
            self._discover()
        for name, factory in (extra or {}).items():
            self._add(PluginInfo(name=name, factory=factory))
        from idsync.builtin import BUILTIN_OBSERVERS

        for observer_name, observer in BUILTIN_OBSERVERS.items():
            self.observers.append(observer)
            self.pm.register(observer, name=observer_name)
            self.plugins[observer_name] = PluginInfo(
                name=observer_name,
                package="idsync",
                version=importlib.metadata.version("idsync"),
                instance=observer,
                hooks=sorted(c.name for c in self.pm.get_hookcallers(observer) or []),
                builtin=True,
            )

    def _discover(self) -> None:
        failures: dict[str, PluginInfo] = {}
        dists = _distributions()

        def on_failure(
            _manager: Any, ep: importlib.metadata.EntryPoint, err: BaseException
        ) -> None:
            package, version = dists.get(ep.name, (None, None))
            failures[ep.name] = PluginInfo(
                name=ep.name, package=package, version=version, error=_describe(err)
            )

        # stevedore caches entry points per process; read them afresh for every registry.
        ExtensionManager.ENTRY_POINT_CACHE.pop(ENTRY_POINT_GROUP, None)
        manager = ExtensionManager(
            namespace=ENTRY_POINT_GROUP,
            invoke_on_load=False,
            on_load_failure_callback=on_failure,
        )
        for ext in manager.extensions:
            package, version = dists.get(ext.name, (None, None))
            self._add(
                PluginInfo(name=ext.name, package=package, version=version, factory=ext.plugin)
            )
        for info in failures.values():
            self._record_failure(info)

    def _record_failure(self, info: PluginInfo) -> None:
        logger.warning("plugin {} could not be loaded: {}", info.name, info.error)
        if self.strict:
            raise PluginLoadError(f"plugin {info.name!r} could not be loaded: {info.error}")
        self.plugins[info.name] = info

    def _add(self, info: PluginInfo) -> None:
        """Instantiate, validate and register one plugin; isolate it on any failure.

        A connector must answer ``idsync_about``; a plugin that only observes (implements
        ``idsync_action_finished`` or ``idsync_run_finished``) needs no about and joins every
        configured system as an observer.
        """
        assert info.factory is not None
        probe = new_manager()
        try:
            instance = info.factory()
            probe.register(instance, name=info.name)
            probe.check_pending()
            hooks = sorted(c.name for c in probe.get_hookcallers(instance) or [])
            about = probe.hook.idsync_about()
            observer = bool(set(hooks) & set(OBSERVER_HOOKS))
            if about is None and not observer:
                raise PluginLoadError("implements neither idsync_about nor an observer hook")
            if about is not None and not isinstance(about, PluginAbout):
                raise PluginLoadError("idsync_about did not return a PluginAbout")
        except Exception as exc:
            info.error = _describe(exc)
            info.factory = None
            self._record_failure(info)
            return
        info.instance = instance
        info.about = about
        info.version = info.version or (about.version if about else None)
        info.hooks = hooks
        self.pm.register(instance, name=info.name)
        self.plugins[info.name] = info
        if about is None:
            self.observers.append(instance)

    def names(self) -> list[str]:
        """The names of the loaded connector plugins."""
        return [n for n, i in self.plugins.items() if i.about is not None]

    def get(self, name: str) -> PluginInfo | None:
        """A plugin by name (loaded or failed), or None."""
        return self.plugins.get(name)

    def listing(self) -> list[PluginInfo]:
        """Every plugin, connectors first, then built-ins, each sorted by name."""
        return sorted(self.plugins.values(), key=lambda i: (i.builtin, i.name))

    def system(self, name: str, plugin: str, settings: BaseModel) -> System:
        """A configured system: ``plugin`` bound to ``settings`` with the observers beside it."""
        info = self.plugins.get(plugin)
        if info is None or info.factory is None:
            reason = info.error if info else "not installed"
            raise PluginLoadError(f"plugin {plugin!r} is not available: {reason}")
        return System(name, info, settings, self.observers)

    def expression_functions(self) -> dict[str, Callable[..., Any]]:
        """The functions every plugin contributes to the expression language, merged."""
        merged: dict[str, Callable[..., Any]] = {}
        for contribution in reversed(self.pm.hook.idsync_expression_functions()):
            merged.update(contribution or {})
        return merged
