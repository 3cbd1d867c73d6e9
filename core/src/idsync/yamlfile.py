"""Reading a pipeline file's YAML strictly: a key written twice is an error, not a silent win.

PyYAML (like most YAML loaders) keeps the last of two equal keys in a mapping. In a pipeline
file that hides mistakes that change what a run does: a second ``helloid:`` under ``targets``
replaces the first with a different plugin, a second ``when:`` replaces a rule. The YAML
specification says keys are unique, so :func:`load_yaml` holds the file to it and names every
duplicate with its key path and both lines.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["YamlProblem", "load_yaml"]

_MERGE = "tag:yaml.org,2002:merge"


class YamlProblem(Exception):
    """The text is not YAML a pipeline can be read from; ``problems`` are ``(key path,
    message)`` pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path or '(top)'}: {msg}" for path, msg in problems))


def _key_text(node: Node) -> str | None:
    """A mapping key as a path step, or None for keys that are not plain values."""
    if isinstance(node, ScalarNode):
        return str(node.value)
    return None


def _duplicates(root: Node | None) -> list[tuple[str, str]]:
    """Every key that appears twice in one mapping, anywhere in the document."""
    problems: list[tuple[str, str]] = []
    seen_nodes: set[int] = set()
    stack: list[tuple[Node, str]] = [(root, "")] if root is not None else []
    while stack:
        node, path = stack.pop()
        if id(node) in seen_nodes:  # an alias: the anchored node was (or will be) walked
            continue
        seen_nodes.add(id(node))
        if isinstance(node, MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == _MERGE:
                    stack.append((value_node, path))
                    continue
                key = _key_text(key_node)
                child = f"{path}.{key}" if path else str(key)
                if key is not None:
                    # The resolved tag tells 1 from '1'; they are different keys.
                    identity = (key_node.tag, key)
                    line = key_node.start_mark.line + 1
                    if identity in first:
                        problems.append(
                            (
                                child,
                                f"the key {key!r} appears twice in one mapping (lines "
                                f"{first[identity]} and {line}); YAML would keep only the last",
                            )
                        )
                    else:
                        first[identity] = line
                stack.append((value_node, child))
        elif isinstance(node, SequenceNode):
            stack.extend(
                (item, f"{path}.{i}" if path else str(i)) for i, item in enumerate(node.value)
            )
    problems.sort(key=lambda p: p[0])
    return problems


def load_yaml(text: str) -> Any:
    """Parse one YAML document safely; raises :class:`YamlProblem` on a syntax error or a
    duplicate key (every duplicate is listed)."""
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)  # reads the text: an unreadable character fails here
        root = loader.get_single_node()
        duplicates = _duplicates(root)
        if duplicates:
            raise YamlProblem(duplicates)
        return None if root is None else loader.construct_document(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlProblem([("", f"not valid YAML: {at}{problem}")]) from None
    except (ValueError, RecursionError) as exc:
        raise YamlProblem([("", f"not valid YAML: {exc}")]) from None
    finally:
        if loader is not None:
            loader.dispose()
