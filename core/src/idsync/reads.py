"""What an expression reads: the analysis behind the expression language's fast paths.

Jinja compiles each rule and template to Python. Code that uses its context only to read
variables can run against a frame that only resolves names (:func:`reads_only`); a template
that prints one path can be rendered by following the path (:func:`printed_path`); and an
expression built only of reads, operators, filters and tests gives the same result for the
same values read (:func:`find_reads`), so a caller may remember it by them.
"""

from __future__ import annotations

import re

from jinja2 import Environment, TemplateError, nodes
from jinja2.parser import Parser

__all__ = ["Read", "find_reads", "printed_path", "reads_only"]

_CONTEXT_USES = (
    "def root(context, missing=missing, environment=environment):",
    "resolve = context.resolve_or_missing",
    "context.vars['result'] = l_0_result",
    "context.exported_vars.add('result')",
)
_CONTEXT = re.compile(r"\bcontext\b")


def reads_only(generated: str) -> bool:
    """Whether Jinja's generated code uses its context only to read variables (and, for a
    rule, to store the result): no function calls, no filters that take the context, no
    blocks, macros or includes. Such code runs as well against a frame that only resolves
    names."""
    for use in _CONTEXT_USES:
        generated = generated.replace(use, "")
    return _CONTEXT.search(generated) is None


def printed_path(tree: nodes.Template) -> tuple[str, tuple[str, ...]] | None:
    """The variable and attributes of a template that prints one path and nothing else
    (``{{ person.name.first }}``), or None."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
        return None
    printed = tree.body[0].nodes
    if len(printed) != 1:
        return None
    node = printed[0]
    attributes: list[str] = []
    while isinstance(node, nodes.Getattr):
        attributes.append(node.attr)
        node = node.node
    if not isinstance(node, nodes.Name) or node.ctx != "load":
        return None
    return node.name, tuple(reversed(attributes))


Read = tuple[str, str | None]
"""A variable an expression reads, and the attribute it reads of it first (or None)."""

_PURE = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Getattr,
    nodes.Const,
    nodes.Compare,
    nodes.Operand,
    nodes.BinExpr,
    nodes.UnaryExpr,
    nodes.Concat,
    nodes.CondExpr,
    nodes.Filter,
    nodes.Test,
    nodes.Keyword,
    nodes.Tuple,
    nodes.List,
)
"""The nodes of an expression whose result depends only on what it reads: values,
attributes, operators, filters and tests (no calls, no statements but output)."""


def find_reads(env: Environment, source: str, *, rule: bool) -> tuple[Read, ...] | None:
    """What a rule or template compiled in ``env`` reads, when its result depends on nothing
    else (see :meth:`idsync.expressions.Expressions.reads_of`), or None."""
    try:
        if rule:
            tree: nodes.Node = Parser(env, source, state="variable").parse_expression()
            tree = nodes.Template(
                [nodes.Assign(nodes.Name("result", "store"), tree, lineno=1)], lineno=1
            )
        else:
            tree = env.parse(source)
        generated = env.compile(tree, raw=True)
    except TemplateError:
        return None
    if not reads_only(generated):
        return None
    # The rule's own ``result = …``, which is no read.
    assigned = tree.body[0] if rule and isinstance(tree, nodes.Template) else None
    stored = assigned.target if isinstance(assigned, nodes.Assign) else None
    based: set[int] = set()
    reads: set[Read] = set()
    for node in tree.find_all(nodes.Node):
        if node is assigned or node is stored:
            continue
        if not isinstance(node, _PURE):
            return None
        if isinstance(node, nodes.Filter) and node.name == "random":
            return None
        if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
            based.add(id(node.node))
            reads.add((node.node.name, node.attr))
    for name in tree.find_all(nodes.Name):
        if name.ctx != "load":
            if name is stored:
                continue
            return None
        if name.name == "lipsum":
            return None
        if id(name) not in based:
            reads.add((name.name, None))
    return tuple(sorted(reads, key=lambda r: (r[0], r[1] or "")))
