"""Python's cyclic garbage collector, kept out of the way of large acyclic object graphs.

An import, the shadows read from the store and a plan are hundreds of thousands of small
objects that hold no reference cycles. Left alone, the collector walks all of them again on
every full collection while they are built (a third of planning 100,000 persons) and once
more whenever enforcing allocates enough. Neither walk can find anything to free.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused", "running", "settled"]


@contextmanager
def paused() -> Iterator[None]:
    """Pause the collector for a block that builds a large acyclic object graph.

    Nests: an inner block leaves the collector as the outer one set it.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            _promote()
            gc.enable()


def _promote() -> None:
    """Move every tracked object to the oldest generation without walking them.

    While paused, everything the block made stays in the youngest generation; the first
    allocation after the collector is enabled again would walk all of it (a second or so
    after an import of 100,000 persons) and find nothing to free. Moved, it is walked only
    by the next full collection, with the rest of the long-lived objects. Not while
    :func:`settled` holds objects frozen: unfreezing here would let them go early.
    """
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


@contextmanager
def running() -> Iterator[None]:
    """Let the collector work for a block inside a :func:`paused` one (e.g. enforcing)."""
    enabled = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        if not enabled:
            gc.disable()


@contextmanager
def settled() -> Iterator[None]:
    """Leave every object alive now out of the collector's walks for a block.

    For enforcing: the persons and the plan stay alive until the run ends, while the HTTP
    calls allocate and free many short-lived objects whose collections then stay small. On
    leaving, the objects become collectable again as usual.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
