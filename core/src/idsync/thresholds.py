"""Thresholds: the one place that decides whether a run's changes are too many to make alone.

A source's thresholds compare its new import with the last accepted snapshot; a target's count
the *persons* a plan changes, per transition (``leaver``…) and per action kind (``disable``…).
What exceeds a threshold is held: an import as a whole, in a target every person counted by
the exceeded threshold, with all of that person's actions (a held leaver stays enabled and
keeps every permission).

Percentages of destructive changes are taken of the accounts that were *enabled* before the
run; other percentages of the accounts idsync managed before the run. This run's creates never
count towards a base, so many joiners cannot make room for many leavers.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from idsync.config import Threshold

__all__ = ["DESTRUCTIVE", "Exceeded", "approved", "exceeded"]

DESTRUCTIVE = frozenset({"leaver", "vanished", "retired", "disable", "delete", "revoke"})
"""Transitions and kinds that take access away: measured against the enabled accounts."""


@dataclass(frozen=True)
class Exceeded:
    """One threshold exceeded: ``count`` of ``key`` where ``limit`` are allowed of ``base``."""

    key: str
    count: int
    limit: int
    base: int
    threshold: Threshold

    def reason(self) -> str:
        """``12 leavers exceed the threshold 10% (at least 10) (of 90 enabled accounts
        before the run)``: what a target hold says."""
        verb = "exceeds" if self.count == 1 else "exceed"
        base = "enabled accounts" if self.key in DESTRUCTIVE else "accounts"
        return (
            f"{counted(self.key, self.count)} {verb} the threshold {self.threshold} "
            f"(of {self.base} {base} before the run)"
        )


_COUNTED = {
    "joiner": ("joiner", "joiners"),
    "mover": ("mover", "movers"),
    "leaver": ("leaver", "leavers"),
    "returner": ("returner", "returners"),
    "vanished": ("vanished person", "vanished persons"),
    "retired": ("retired account", "retired accounts"),
    "resource": ("resource to make", "resources to make"),
    "grant": ("person with a grant", "persons with a grant"),
    "revoke": ("person with a revoke", "persons with a revoke"),
}


def counted(key: str, n: int) -> str:
    """``3 leavers``, ``1 person to delete``: what a target threshold counted, in words."""
    one, many = _COUNTED.get(key, (f"person to {key}", f"persons to {key}"))
    return f"{n} {one if n == 1 else many}"


def exceeded(
    thresholds: Mapping[str, Threshold],
    counts: Mapping[str, int],
    bases: Mapping[str, int] | int,
) -> list[Exceeded]:
    """The thresholds ``counts`` exceed, in the order the thresholds are given.

    ``bases`` is one base for all, or a base per key. Exceeding means *more than* the limit.
    """
    out = []
    for key, threshold in thresholds.items():
        n = counts.get(key, 0)
        base = bases if isinstance(bases, int) else bases.get(key, 0)
        limit = threshold.limit(base)
        if n > limit:
            out.append(Exceeded(key=key, count=n, limit=limit, base=base, threshold=threshold))
    return out


def target_bases(keys: Iterable[str], *, managed: int, enabled: int) -> dict[str, int]:
    """The base of each target threshold: enabled accounts for destructive keys, else all
    managed accounts (both as they were before the run)."""
    return {key: enabled if key in DESTRUCTIVE else managed for key in keys}


def approved(approvals: Collection[str], system: str, kind: str) -> bool:
    """Whether ``--approve`` released ``kind`` (everywhere, or in ``system``)."""
    return kind in approvals or f"{system}:{kind}" in approvals


__all__ += ["counted", "target_bases"]
