"""The garbage collector paused around large acyclic object graphs: what a paused block made
is not walked when the collector comes back, and cyclic garbage is still collected."""

from __future__ import annotations

import gc
import weakref
from typing import Any

from idsync import collector


class _Node:
    def __init__(self) -> None:
        self.other: Any = None


def test_what_a_paused_block_made_is_not_walked_by_the_next_young_collection() -> None:
    young: list[int] = []

    def seen(phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 0:
            young.append(len(gc.get_objects(generation=0)))

    gc.callbacks.append(seen)
    try:
        with collector.paused():
            made = [_Node() for _ in range(50_000)]
        assert gc.isenabled()
        _ = [_Node() for _ in range(5_000)]  # enough to start a young collection
    finally:
        gc.callbacks.remove(seen)
    assert young, "no young collection ran"
    assert max(young) < 50_000
    assert len(made) == 50_000


def test_cyclic_garbage_made_while_paused_is_still_collected() -> None:
    with collector.paused():
        a, b = _Node(), _Node()
        a.other, b.other = b, a
        gone = weakref.ref(a)
    del a, b
    assert gone() is not None  # a cycle: reference counting alone does not free it
    gc.collect()
    assert gone() is None


def test_objects_held_frozen_while_settled_stay_frozen() -> None:
    with collector.settled():
        frozen = gc.get_freeze_count()
        with collector.running(), collector.paused():
            _ = [object() for _ in range(1_000)]
        assert gc.get_freeze_count() == frozen
