"""Saved plans: ``idsync plan --out FILE`` writes a plan, ``idsync run --plan FILE`` carries
out exactly that plan, or nothing.

A saved plan holds the date it was made for, a fingerprint of every source's import and the
planned actions (each with a fingerprint of what it writes). A run with a saved plan imports
and plans as any run does, then compares: when a source's import differs from the one the plan
was made from, or the actions it would carry out differ from the saved ones (a person changed,
someone made an account by hand, a threshold now holds what it did not), the run is refused
with what changed, and nothing is written anywhere. The approver approved *that* plan.

The file carries no secret: the actions' summaries are redacted as plans in the state store are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from idsync.importer import SourceImport, fingerprint
from idsync.plan import Action, Plan
from idsync.secrets import redact_data

__all__ = ["PlanChanged", "SavedPlan", "load", "save"]

FORMAT: Literal["idsync-plan"] = "idsync-plan"
VERSION = 1


class PlanChanged(Exception):
    """A saved plan that no longer matches what a run would do (or a file that is none)."""


class SavedPlan(BaseModel):
    """A plan as ``idsync plan --out`` writes it."""

    format: Literal["idsync-plan"] = FORMAT
    version: int = VERSION
    pipeline: str
    as_of: dt.date
    created: dt.datetime
    sources: dict[str, str]
    """``{source: fingerprint of its import}``."""
    actions: list[dict[str, Any]]
    """Each action's summary, with ``fingerprint``: what it writes, hashed."""
    held: list[dict[str, Any]] = []
    blocked: list[dict[str, Any]] = []

    def check_sources(self, imports: Iterable[SourceImport]) -> None:
        """Raise :class:`PlanChanged` when an import differs from the plan's."""
        now = {imp.source: fingerprint(imp) for imp in imports}
        changed = sorted(
            name for name in set(now) | set(self.sources) if now.get(name) != self.sources.get(name)
        )
        if changed:
            raise PlanChanged(
                f"the source data changed since the plan was made ({', '.join(changed)}): "
                "make a new plan and review it"
            )

    def check_actions(self, plan: Plan) -> None:
        """Raise :class:`PlanChanged` when ``plan`` would do other than the saved actions."""
        saved = Counter(a["fingerprint"] for a in self.actions)
        now = {_fingerprint(a): a for a in plan.actions()}
        fresh = Counter(_fingerprint(a) for a in plan.actions())
        gone = saved - fresh
        new = fresh - saved
        if not gone and not new:
            return
        by_print = {a["fingerprint"]: a for a in self.actions}
        parts = []
        if new:
            shown = ", ".join(_describe(now[f].summary()) for f in list(new)[:3])
            parts.append(f"{sum(new.values())} action(s) the plan did not have ({shown})")
        if gone:
            shown = ", ".join(_describe(by_print[f]) for f in list(gone)[:3])
            parts.append(f"{sum(gone.values())} planned action(s) no longer due ({shown})")
        raise PlanChanged(
            f"the targets or the rules changed since the plan was made: {'; '.join(parts)}; "
            "make a new plan and review it"
        )


def _describe(summary: dict[str, Any]) -> str:
    what = summary.get("key") or ""
    return f"{summary.get('target')} {summary.get('kind')} {summary.get('person') or ''} {what}".strip()


def _fingerprint(action: Action) -> str:
    """What an action is and writes, as a hash: equal for the same action planned again."""
    after = {k: v.after for k, v in sorted(action.changes.items())}
    found = action.found.reference if action.found is not None else None
    text = json.dumps(
        [action.target, action.person, action.kind.value, action.key, after, found],
        default=str,
        sort_keys=True,
    )
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def save(
    path: Path, pipeline: str, plan: Plan, imports: Iterable[SourceImport], created: dt.datetime
) -> SavedPlan:
    """Write ``plan`` to ``path`` and return what was written."""
    saved = SavedPlan(
        pipeline=pipeline,
        as_of=plan.as_of,
        created=created,
        sources={imp.source: fingerprint(imp) for imp in imports},
        actions=[{**a.summary(), "fingerprint": _fingerprint(a)} for a in plan.actions()],
        held=[h.model_dump(mode="json") for h in plan.held],
        blocked=[b.model_dump(mode="json") for b in plan.blocked],
    )
    data = redact_data(saved.model_dump(mode="json"))
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return saved


def load(path: Path, pipeline: str) -> SavedPlan:
    """Read a saved plan of ``pipeline``; raises :class:`PlanChanged` for a file that is not
    one (naming the file and the problem)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        saved = SavedPlan.model_validate(data)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValidationError) as exc:
        problem = str(exc).splitlines()[0]
        raise PlanChanged(f"{path}: not a plan idsync plan --out wrote: {problem}") from None
    if saved.pipeline != pipeline:
        raise PlanChanged(f"{path}: a plan of pipeline {saved.pipeline!r}, not of {pipeline!r}")
    return saved
