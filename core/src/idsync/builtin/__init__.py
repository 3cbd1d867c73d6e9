"""Built-in plugins: behaviour the engine ships, written on the same hooks as any plugin."""

from idsync.builtin.logbook import ActionLog

BUILTIN_OBSERVERS: dict[str, object] = {"log": ActionLog()}

__all__ = ["BUILTIN_OBSERVERS", "ActionLog"]
