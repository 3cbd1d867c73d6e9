"""Built-in plugins: behaviour idsync ships, written on the same hooks as any plugin.

:data:`BUILTIN_PLUGINS` is what the registry loads besides the installed plugins (datasette's
``DEFAULT_PLUGINS``): each is a factory the engine calls for an instance of its own, so a
built-in keeps its state per engine, never per process.
"""

from collections.abc import Callable

from idsync.builtin.logbook import ActionLog
from idsync.builtin.notify import Notifier

BUILTIN_PLUGINS: dict[str, Callable[[], object]] = {"log": ActionLog, "notify": Notifier}
"""Built-in plugins by name (as ``idsync plugins`` lists them)."""

__all__ = ["BUILTIN_PLUGINS", "ActionLog", "Notifier"]
