"""Built-in plugins: behaviour the engine ships, written on the same hooks as any plugin."""

from idsync.builtin.logbook import ActionLog
from idsync.notify import NOTIFIER, Notifier

BUILTIN_OBSERVERS: dict[str, object] = {"log": ActionLog(), "notify": NOTIFIER}

__all__ = ["BUILTIN_OBSERVERS", "ActionLog", "Notifier"]
