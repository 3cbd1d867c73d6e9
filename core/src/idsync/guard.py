"""Failing one action, not the run: the :func:`guarded` decorator for lifecycle hooks.

A hook that lets an exception out fails its action with the exception's text. Most plugins
want more: the action named in the message, an expected error (the vendor refused, the server
did not answer) told apart from a bug, and ``retriable`` carried over. ``guarded`` does that
once for every hook of a plugin.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec

from idsync.http import ApiError
from idsync.model import ActionResult

__all__ = ["guarded"]

P = ParamSpec("P")


def guarded(
    action: str,
    *errors: type[Exception],
    describe: Callable[[Exception], str] = str,
) -> Callable[[Callable[P, ActionResult]], Callable[P, ActionResult]]:
    """Turn the expected errors of a hook into a failed :class:`~idsync.ActionResult`.

    ``action`` names what failed (``"create user"``); ``errors`` are the exception classes
    that mean the target said no or did not answer (default :class:`~idsync.ApiError`);
    ``describe`` words one of them for the message (default ``str``). The result is
    ``ActionResult.failure(f"{action} failed: {describe(error)}")``, retriable when the error
    says so (an ``ApiError`` for a timeout, 429 or 5xx). Other exceptions pass through: the
    engine fails the action with them all the same, and they stand out as bugs in the log.

    Put it under ``@hookimpl``::

        @hookimpl
        @guarded("create user")
        def idsync_create(self, ctx: HookContext) -> ActionResult: ...
    """
    caught: tuple[type[Exception], ...] = errors or (ApiError,)

    def decorate(hook: Callable[P, ActionResult]) -> Callable[P, ActionResult]:
        @functools.wraps(hook)  # pluggy reads the hook's argument names through it
        def run(*args: P.args, **kwargs: P.kwargs) -> ActionResult:
            try:
                return hook(*args, **kwargs)
            except caught as error:
                return ActionResult.failure(
                    f"{action} failed: {describe(error)}",
                    retriable=bool(getattr(error, "retriable", False)),
                )

        return run

    return decorate
