"""Finding plugins (stevedore) and calling them (pluggy).

:class:`Registry` loads every entry point of the ``idsync.plugins`` group, plus the built-in
plugins (:mod:`idsync.builtin`), which are written on the same hooks. A plugin whose import
raises, whose constructor fails, or that implements a hook idsync does not know is *isolated*:
it is listed with its error and the others work (``strict=True`` makes any such failure fatal).
What a plugin contributes to every pipeline (expression functions, pipeline-file sections) is
asked once, at load; a plugin whose contribution fails is kept, and only the systems that use
it fail. One registry-wide :class:`pluggy.PluginManager` holds every unconfigured plugin, for
questions asked of all of them. :meth:`Registry.system` builds a separate manager per
configured source or target, holding that system's plugin bound to its settings plus the
engine's observers, so a lifecycle hook reaches exactly one connector.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pluggy
from loguru import logger
from pydantic import BaseModel
from stevedore import ExtensionManager

from idsync import hookspecs
from idsync.builtin import BUILTIN_PLUGINS
from idsync.expressions import builtin_names
from idsync.model import PluginAbout, PluginKind
from idsync.observers import Observers

if TYPE_CHECKING:
    from idsync.config import Pipeline
    from idsync.state import Store

__all__ = [
    "ENTRY_POINT_GROUP",
    "LIFECYCLE_HOOKS",
    "FunctionConflict",
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
DEVELOPMENT_HOOKS = {"idsync_sandbox": "idsync.sandbox.hookspecs"}
"""Hooks specified outside the production contract, by the module that adds them. A plugin
implements them with ``optionalhook=True``; one that does not still loads, with a
``DeprecationWarning`` (until idsync 0.3: the sandbox hook was a production hook before)."""


class PluginLoadError(Exception):
    """A plugin could not be loaded or set up (raised in strict mode, or when it is needed)."""


class FunctionConflict(PluginLoadError):
    """Two plugins a pipeline uses contribute an expression function of the same name (or
    one takes a name of idsync's own): neither silently replaces the other."""

    def __init__(self, name: str, first: str, second: str) -> None:
        self.name = name
        self.plugins = (first, second)
        owner = "idsync itself" if first == "idsync" else f"plugin {first!r}"
        super().__init__(
            f"the expression function {name!r} is contributed by {owner} and by plugin "
            f"{second!r}: a pipeline cannot use both (rename it in one of them)"
        )


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
    """Why the plugin could not be loaded at all."""
    builtin: bool = False
    functions: dict[str, Callable[..., Any]] = field(default_factory=dict)
    """What it contributes to the expression language (``idsync_expression_functions``)."""
    sections: dict[str, type[BaseModel]] = field(default_factory=dict)
    """The pipeline-file sections it reads (``idsync_pipeline_sections``)."""
    contribution_error: str | None = None
    """Why a contribution failed: the plugin is kept, the systems that use it fail."""

    @property
    def observer(self) -> bool:
        """Whether it only observes (no ``idsync_about``): it joins every engine."""
        return self.about is None and bool(set(self.hooks) & set(OBSERVER_HOOKS))

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
            "contribution_error": self.contribution_error,
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


def _check_hooks(pm: pluggy.PluginManager) -> None:
    """pluggy's ``check_pending``, except that an unmarked development hook only warns."""
    for name, caller in vars(pm.hook).items():
        if name.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.optionalhook:
                continue
            if name in DEVELOPMENT_HOOKS:
                warnings.warn(
                    f"plugin {impl.plugin_name!r}: {name} belongs to "
                    f"{DEVELOPMENT_HOOKS[name]}; mark it @hookimpl(optionalhook=True) "
                    "(unmarked, it is refused from idsync 0.3)",
                    DeprecationWarning,
                    stacklevel=2,
                )
                continue
            raise pluggy.PluginValidationError(
                impl.plugin, f"unknown hook {name!r} in plugin {impl.plugin!r}"
            )


class System:
    """One configured source or target: its own plugin manager and its bound plugin.

    The engine's observers sit beside the connector in the manager, so their wrappers see
    every lifecycle call; :attr:`observers` is where the system's actions are reported.
    """

    def __init__(
        self,
        name: str,
        info: PluginInfo,
        settings: BaseModel,
        observers: Observers | None = None,
    ) -> None:
        if info.factory is None:
            raise PluginLoadError(f"plugin {info.name!r} is not loaded: {info.error}")
        self.name = name
        self.info = info
        self.settings = settings
        self.observers = observers if observers is not None else Observers()
        self.pm = new_manager()
        try:
            self.plugin = info.factory(settings=settings)
        except Exception as exc:
            raise PluginLoadError(
                f"plugin {info.name!r} could not be set up for {name}: {_describe(exc)}"
            ) from exc
        self.pm.register(self.plugin, name=f"{name}:{info.name}")
        for observer in self.observers.plugins:
            self.pm.register(observer)
        self.hook = self.pm.hook

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
    """Every installed plugin, discovered through stevedore, plus the built-in plugins."""

    def __init__(
        self,
        strict: bool = False,
        extra: dict[str, Callable[..., Any]] | None = None,
        entry_points: bool = True,
    ) -> None:
        self.strict = strict
        self.plugins: dict[str, PluginInfo] = {}
        self.pm = new_manager()
        if entry_points:
            self._discover()
        for name, factory in (extra or {}).items():
            self._add(PluginInfo(name=name, factory=factory))
        version = importlib.metadata.version("idsync")
        for name, factory in BUILTIN_PLUGINS.items():
            self._add(
                PluginInfo(
                    name=name, package="idsync", version=version, factory=factory, builtin=True
                )
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
        engine as an observer. Its contributions are asked for here, once.
        """
        factory = info.factory
        if factory is None:
            raise PluginLoadError(f"plugin {info.name!r} has nothing to load")
        probe = new_manager()
        try:
            instance = factory()
            probe.register(instance, name=info.name)
            _check_hooks(probe)
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
        try:
            info.functions, info.sections = _contributions(probe)
        except Exception as exc:
            info.contribution_error = _describe(exc)
            logger.warning("plugin {} contributes nothing: {}", info.name, info.contribution_error)
            if self.strict:
                raise PluginLoadError(
                    f"plugin {info.name!r}: a contribution failed: {info.contribution_error}"
                ) from exc
        self.pm.register(instance, name=info.name)
        self.plugins[info.name] = info

    def names(self) -> list[str]:
        """The names of the loaded connector plugins."""
        return [n for n, i in self.plugins.items() if i.about is not None]

    def get(self, name: str) -> PluginInfo | None:
        """A plugin by name (loaded or failed), or None."""
        return self.plugins.get(name)

    def listing(self) -> list[PluginInfo]:
        """Every plugin, connectors first, then built-ins, each sorted by name."""
        return sorted(self.plugins.values(), key=lambda i: (i.builtin, i.name))

    def observer_plugins(self) -> list[PluginInfo]:
        """The plugins that join every engine: installed observers first, built-ins last
        (pluggy calls the last registered first, so the built-ins hear of an event first)."""
        usable = [
            i
            for i in self.plugins.values()
            if i.observer and i.factory is not None and i.contribution_error is None
        ]
        return sorted(usable, key=lambda i: (i.builtin, i.name))

    def observers(self, pipeline: Pipeline | None = None, store: Store | None = None) -> Observers:
        """Fresh observer instances for one engine; an observer whose constructor fails is
        left out (logged), the others observe."""
        instances: list[tuple[str, object]] = []
        for info in self.observer_plugins():
            if info.factory is None:
                continue
            try:
                instances.append((info.name, info.factory()))
            except Exception as exc:
                logger.warning("observer {} left out: {}", info.name, _describe(exc))
        return Observers(instances, pipeline=pipeline, store=store)

    def system(
        self, name: str, plugin: str, settings: BaseModel, observers: Observers | None = None
    ) -> System:
        """A configured system: ``plugin`` bound to ``settings``, the engine's ``observers``
        beside it. Raises :class:`PluginLoadError` when the plugin is not loaded, a
        contribution of it failed, or its constructor raises."""
        info = self.plugins.get(plugin)
        if info is None or info.factory is None:
            reason = info.error if info else "not installed"
            raise PluginLoadError(f"plugin {plugin!r} is not available: {reason}")
        if info.contribution_error is not None:
            raise PluginLoadError(
                f"plugin {plugin!r} is not available: a contribution failed: "
                f"{info.contribution_error}"
            )
        return System(name, info, settings, observers)

    def expression_functions(
        self, plugins: Iterable[str] | None = None
    ) -> dict[str, Callable[..., Any]]:
        """The expression functions of the named plugins (by default every loaded one) and
        of every observer, merged. A name contributed twice (by two functions: one class
        installed under two names contributes the same one), or one of idsync's own, raises
        :class:`FunctionConflict` naming both contributors; a plugin whose contribution
        failed contributes nothing (the systems that use it fail)."""
        wanted = set(self.plugins) if plugins is None else set(plugins)
        reserved = builtin_names()
        owners: dict[str, str] = {}
        merged: dict[str, Callable[..., Any]] = {}
        for info in sorted(self.plugins.values(), key=lambda i: i.name):
            if info.factory is None or not (info.name in wanted or info.observer):
                continue
            for function, value in info.functions.items():
                if function in reserved:
                    raise FunctionConflict(function, "idsync", info.name)
                if function in owners and not _same_function(merged[function], value):
                    raise FunctionConflict(function, owners[function], info.name)
                owners[function] = info.name
                merged[function] = value
        return merged

    def sections(self) -> dict[str, tuple[str, type[BaseModel]]]:
        """The pipeline-file sections plugins read: ``{key: (plugin, model)}``. Every loaded
        plugin's sections count (a section names its plugin, not a system)."""
        out: dict[str, tuple[str, type[BaseModel]]] = {}
        for info in sorted(self.plugins.values(), key=lambda i: (not i.builtin, i.name)):
            if info.factory is None:
                continue
            for key, model in info.sections.items():
                out.setdefault(key, (info.name, model))
        return out


def _same_function(a: Callable[..., Any], b: Callable[..., Any]) -> bool:
    """Whether two contributions are one function: the same object, or the same code without
    captured variables (a lambda made anew by each instance of one plugin class)."""
    if a is b:
        return True
    code = getattr(a, "__code__", None)
    return (
        code is not None
        and code is getattr(b, "__code__", None)
        and not getattr(a, "__closure__", None)
        and not getattr(b, "__closure__", None)
        and getattr(a, "__defaults__", None) == getattr(b, "__defaults__", None)
    )


def _contributions(
    probe: pluggy.PluginManager,
) -> tuple[dict[str, Callable[..., Any]], dict[str, type[BaseModel]]]:
    """What one plugin (alone in ``probe``) contributes: expression functions and sections,
    checked for shape."""
    functions: dict[str, Callable[..., Any]] = {}
    for contribution in probe.hook.idsync_expression_functions():
        if not isinstance(contribution, Mapping):
            raise TypeError("idsync_expression_functions did not return a mapping")
        for name, function in contribution.items():
            if not (isinstance(name, str) and name.isidentifier() and callable(function)):
                raise TypeError(f"idsync_expression_functions: {name!r} is not a named function")
            functions[name] = function
    sections: dict[str, type[BaseModel]] = {}
    for contribution in probe.hook.idsync_pipeline_sections():
        if not isinstance(contribution, Mapping):
            raise TypeError("idsync_pipeline_sections did not return a mapping")
        for key, model in contribution.items():
            if not (
                isinstance(key, str) and isinstance(model, type) and issubclass(model, BaseModel)
            ):
                raise TypeError(f"idsync_pipeline_sections: {key!r} is not a pydantic model")
            sections[key] = model
    return functions, sections
