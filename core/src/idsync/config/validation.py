"""Checks that span a pipeline's targets: every expression compiles, and no two targets read
each other's accounts."""

from __future__ import annotations

from collections.abc import Mapping

from idsync.config.pipeline import Pipeline
from idsync.config.systems import TargetConfig, _target_expressions
from idsync.expressions import ExpressionError, Expressions


def _check_expressions(
    targets: Mapping[str, TargetConfig], expressions: Expressions
) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    for name, target in targets.items():
        for path, text, rule in _target_expressions(name, target):
            if not isinstance(text, str):
                continue
            try:
                if rule:
                    expressions.rule(text)
                else:
                    expressions.template(text)
            except ExpressionError as exc:
                errors.append((path, str(exc)))
    return errors


def _check_dependencies(pipeline: Pipeline) -> list[tuple[str, str]]:
    """A read of ``accounts.<other>`` names a target of the file, and no two targets read
    each other's accounts (one of them would always read values of the run before)."""
    errors: list[tuple[str, str]] = []
    deps = pipeline.dependencies()
    for name, reads in deps.items():
        for other, path in reads.items():
            if other not in pipeline.targets:
                known = ", ".join(pipeline.targets)
                errors.append(
                    (
                        path,
                        f"reads accounts.{other}, but there is no target {other!r} (targets: {known})",
                    )
                )
            elif other == name:
                errors.append(
                    (path, f"reads accounts.{name}: a target cannot read its own account data")
                )
            elif name in deps.get(other, {}):
                errors.append(
                    (
                        path,
                        f"reads accounts.{other}, and {other} reads accounts.{name} "
                        f"({deps[other][name]}): one of them must not depend on the other",
                    )
                )
    return errors
