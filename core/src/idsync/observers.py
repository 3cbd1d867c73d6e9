"""Observers: the plugins told of every finished action and of the end of every run.

Each engine has its own :class:`Observers`: one pluggy manager holding a fresh instance of
every observer plugin (the built-ins, such as the notifier, and every installed plugin that
only observes), so the state an observer keeps belongs to that engine alone. Observer hooks
are called through pluggy's own hook calling (wrappers, ``tryfirst``/``trylast`` and pluggy's
tracing apply), from one thread and in the order the events happened: enforcement works on
several persons at once, so each event goes through a queue to one dispatching thread.
``idsync_run_finished`` comes after every action event of the run has been delivered.

An observer must not raise; if one does, the exception is logged with the plugin's name, and
neither the action nor the run fails (pluggy stops that one hook call at the exception, so the
observers after it in calling order miss that one event).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy
from loguru import logger

from idsync import hookspecs
from idsync.model import ActionEvent, RunSummary
from idsync.secrets import redact

if TYPE_CHECKING:
    from idsync.config import Pipeline
    from idsync.state import Store

__all__ = ["Observers"]


@dataclass(frozen=True)
class _Call:
    hook: str
    kwargs: dict[str, Any]


class Observers:
    """The observer plugins of one engine, each hook called in order from one thread.

    ``plugins`` are ``(name, instance)`` pairs; ``pipeline`` and ``store`` are handed to the
    hooks that ask for them (pluggy's opt-in arguments).
    """

    def __init__(
        self,
        plugins: Iterable[tuple[str, object]] = (),
        *,
        pipeline: Pipeline | None = None,
        store: Store | None = None,
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: list[object] = []
        for name, plugin in plugins:
            self.pm.register(plugin, name=name)
            self.plugins.append(plugin)
        self.pipeline = pipeline
        self.store = store
        self._queue: queue.Queue[_Call | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        """The dispatching thread, with :attr:`_queue` its own (a new one for each thread)."""
        self._lock = threading.Lock()

    def action_finished(self, event: ActionEvent) -> None:
        """Tell every observer of a finished action (returns at once; delivered in order)."""
        self._submit("idsync_action_finished", {"event": event, "pipeline": self.pipeline})

    def run_finished(self, summary: RunSummary) -> None:
        """Tell every observer that a run ended, after every event of it; returns once they
        have heard. The dispatching thread ends with the run (the next run starts another),
        so an engine that is never closed leaves no thread behind."""
        self._submit(
            "idsync_run_finished",
            {"summary": summary, "pipeline": self.pipeline, "store": self.store},
        )
        self.close()

    def flush(self) -> None:
        """Wait until every event submitted so far has been delivered."""
        with self._lock:
            pending = self._queue if self._thread is not None else None
        if pending is not None:
            pending.join()

    def close(self) -> None:
        """Deliver what is queued, then stop the dispatching thread. Safe to call twice."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join()

    # --- internals -------------------------------------------------------------------

    def _submit(self, hook: str, kwargs: dict[str, Any]) -> None:
        if not getattr(self.pm.hook, hook).get_hookimpls():
            return  # nobody listens: no thread, no queue
        with self._lock:
            if self._thread is None:
                self._queue = queue.Queue()
                self._thread = threading.Thread(
                    target=self._dispatch,
                    args=(self._queue,),
                    name="idsync-observers",
                    daemon=True,
                )
                self._thread.start()
            self._queue.put(_Call(hook, kwargs))

    def _dispatch(self, calls: queue.Queue[_Call | None]) -> None:
        while True:
            call = calls.get()
            try:
                if call is None:
                    return
                self._deliver(call)
            finally:
                calls.task_done()

    def _deliver(self, call: _Call) -> None:
        caller: pluggy.HookCaller = getattr(self.pm.hook, call.hook)
        try:
            caller(**call.kwargs)
        except Exception as exc:
            logger.warning(
                "observer {} failed in {}: {}",
                _culprit(caller, exc),
                call.hook,
                redact(f"{type(exc).__name__}: {exc}"),
            )


def _culprit(caller: pluggy.HookCaller, exc: BaseException) -> str:
    """The name of the observer whose code raised ``exc``: the innermost of their functions
    in the traceback (a wrapper around it is further out)."""
    codes = {
        getattr(impl.function, "__code__", None): impl.plugin_name
        for impl in caller.get_hookimpls()
    }
    name = "(unknown)"
    trace = exc.__traceback__
    while trace is not None:
        name = codes.get(trace.tb_frame.f_code, name)
        trace = trace.tb_next
    return name
