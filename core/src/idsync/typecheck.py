"""Type-checking rules and templates against the person model, before anything runs.

Expressions are forgiving about *values*: ``contract.department.code`` of a contract without a
department is simply undefined. That must not extend to *names*: ``contract.titel.code`` is
undefined for every contract, so a rule with that typo silently matches nobody (and a run
revokes what it grants), and ``{{ person.name.frist }}`` maps every account's first name to
"". This module reads each expression's syntax tree and follows every attribute path from the
variables the engine provides through the models of :mod:`idsync.model`, so an unknown name
is an error at load time, naming the expression and the nearest valid name.

What is checked, per place in the pipeline file:

- ``account.when``: ``person``, ``contract``, ``as_of``;
- ``account.mapping``, ``account.unique`` (with ``suffix``), ``permissions``: ``person``,
  ``contract``, ``contracts``, ``department`` (the contract's), ``as_of`` and ``accounts``;
- ``resources``: ``department`` (a department of the source) and ``as_of``;
- ``account.correlate.person``: a path into the person, or ``account.<key>`` of the mapping.

``person.extra`` is free-form (whatever the source adds); ``accounts.<target>.<key>`` is checked
against the keys that target's mapping and unique attributes produce. Values whose type is
not known (a filter's result, a plugin function's) are not followed further.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import difflib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateError, nodes
from jinja2.parser import Parser
from pydantic import BaseModel

from idsync.model import Contact, Contract, Department, Name, Person, PersonRef, Ref

if TYPE_CHECKING:
    from idsync.config import TargetConfig
    from idsync.expressions import Expressions

__all__ = ["check_correlation", "check_expression", "check_targets", "model_names"]

Problem = tuple[str, str]


# --- types ---------------------------------------------------------------------------------


class _Unknown:
    """A value whose type is not known: nothing about it is checked."""

    def __repr__(self) -> str:
        return "unknown"


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class _Free:
    """A free-form mapping (``person.extra``): any key, values unknown."""


@dataclass(frozen=True)
class _Value:
    """A plain value (text, number, date): its Python type's attributes and methods."""

    kind: type


@dataclass(frozen=True)
class _Model:
    kind: type[BaseModel]


@dataclass(frozen=True)
class _List:
    item: Any


@dataclass(frozen=True)
class _Callable:
    returns: Any


@dataclass(frozen=True)
class _Accounts:
    """``accounts``: the other targets' account data, by target name (None: not known)."""

    keys: Mapping[str, frozenset[str] | None]


@dataclass(frozen=True)
class _AccountData:
    target: str
    keys: frozenset[str]


def _strip(annotation: Any) -> Any:
    """``Annotated[X, …]`` → X and ``X | None`` → X."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return _strip(args[0])
    return annotation


def _type_of(annotation: Any) -> Any:
    """The checker's type for a Python annotation."""
    annotation = _strip(annotation)
    origin = typing.get_origin(annotation)
    if origin in (list, tuple, typing.Sequence) or origin is Iterable:
        args = typing.get_args(annotation)
        return _List(_type_of(args[0]) if args else UNKNOWN)
    if origin is dict or annotation is dict:
        return _Free()
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return _Model(annotation)
        if issubclass(annotation, str | int | float | bool | dt.date):
            return _Value(annotation)
    return UNKNOWN


def _hints(function: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function, include_extras=True)
    except Exception:  # an annotation that does not resolve: nothing is known of it
        return {}


def model_names(kind: type[BaseModel]) -> list[str]:
    """The names an expression may read of a model: its fields, then its properties and
    public methods (``person.name.first``, ``person.primary_contract(as_of)``)."""
    names = list(kind.model_fields)
    for klass in kind.__mro__:
        if klass is BaseModel or not issubclass(klass, BaseModel):
            break
        for name, member in vars(klass).items():
            if name.startswith("_") or name in names or name.startswith("model_"):
                continue
            if isinstance(member, property) or callable(member) or isinstance(member, classmethod):
                names.append(name)
    return names


def _model_member(kind: type[BaseModel], name: str) -> Any:
    """The checker's type of ``kind().name``, or None when the model has no such name."""
    field = kind.model_fields.get(name)
    if field is not None:
        return _type_of(field.annotation)
    if name.startswith("_"):
        return None
    member = None
    for klass in kind.__mro__:
        if name in vars(klass):
            member = vars(klass)[name]
            break
    if member is None:
        return None
    if isinstance(member, property):
        return _type_of(_hints(member.fget).get("return"))
    if isinstance(member, classmethod | staticmethod):
        return _Callable(UNKNOWN)
    if callable(member):
        return _Callable(_type_of(_hints(member).get("return")))
    return UNKNOWN


_ARTICLE = {
    Person: "a person",
    Name: "a name (Name)",
    Contact: "contact data (Contact)",
    Contract: "a contract",
    Department: "a department",
    PersonRef: "a person reference (PersonRef)",
    Ref: "a reference (Ref)",
}


_VALUE = {
    str: "text",
    int: "a number",
    float: "a number",
    bool: "a yes/no value",
    dt.date: "a date",
}


def _describe(kind: type[BaseModel]) -> str:
    return _ARTICLE.get(kind, f"a {kind.__name__.lower()}")


# --- the checker ---------------------------------------------------------------------------


class _Found(Exception):
    """The first problem of an expression (one per expression: the rest follow from it)."""


def _nearest(name: str, candidates: Iterable[str]) -> str | None:
    options = list(dict.fromkeys(candidates))
    folded = {c.casefold(): c for c in options}
    if name.casefold() in folded:
        return folded[name.casefold()]
    close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
    return close[0] if close else None


def _path(node: nodes.Node) -> str | None:
    """``contract.title.code`` for a chain of attribute reads from a name, else None."""
    if isinstance(node, nodes.Name):
        return str(node.name)
    if isinstance(node, nodes.Getattr):
        inner = _path(node.node)
        return f"{inner}.{node.attr}" if inner is not None else None
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        inner = _path(node.node)
        return f"{inner}[{node.arg.value!r}]" if inner is not None else None
    return None


class _Checker:
    def __init__(self, source: str, names: Mapping[str, Any], known: Iterable[str]) -> None:
        self.source = source
        self.names = dict(names)
        self.known = set(known)
        self.problem: str | None = None

    def fail(self, read: str, why: str) -> _Found:
        """The first problem, to raise: ``'<expression>' reads <read>, but <why>``."""
        self.problem = f"{self.source!r} reads {read}, but {why}"
        return _Found()

    def check(self, node: nodes.Node) -> None:
        with contextlib.suppress(_Found):  # the first problem is kept in self.problem
            self.visit(node, self.names)

    # Each visit returns the type of the node's value (UNKNOWN when not known).

    def visit(self, node: nodes.Node, scope: dict[str, Any]) -> Any:
        if isinstance(node, nodes.Name):
            return self.name(node, scope)
        if isinstance(node, nodes.Getattr):
            return self.member(node, self.visit(node.node, scope), str(node.attr))
        if isinstance(node, nodes.Getitem):
            return self.item(node, scope)
        if isinstance(node, nodes.Call):
            called = self.visit(node.node, scope)
            self.visit_all(node.args, scope)
            self.visit_all(node.kwargs, scope)
            for extra in (node.dyn_args, node.dyn_kwargs):
                if extra is not None:
                    self.visit(extra, scope)
            return called.returns if isinstance(called, _Callable) else UNKNOWN
        if isinstance(node, nodes.For):
            return self.loop(node, scope)
        if isinstance(node, nodes.Assign):
            value = self.visit(node.node, scope)
            if isinstance(node.target, nodes.Name):
                scope[node.target.name] = value
            else:
                self.bind(node.target, scope)
            return UNKNOWN
        if isinstance(node, nodes.Macro | nodes.CallBlock):
            inner = dict(scope)
            for arg in node.args:
                inner[arg.name] = UNKNOWN
            inner.update({"caller": UNKNOWN, "varargs": UNKNOWN, "kwargs": UNKNOWN})
            self.visit_all(node.defaults, scope)
            if isinstance(node, nodes.CallBlock):
                self.visit(node.call, scope)
            self.visit_all(node.body, inner)
            if isinstance(node, nodes.Macro):
                scope[node.name] = _Callable(UNKNOWN)
            return UNKNOWN
        if isinstance(node, nodes.With):
            inner = dict(scope)
            for target, value in zip(node.targets, node.values, strict=False):
                typed = self.visit(value, scope)
                if isinstance(target, nodes.Name):
                    inner[target.name] = typed
            self.visit_all(node.body, inner)
            return UNKNOWN
        if isinstance(node, nodes.Const):
            return _type_of(type(node.value)) if node.value is not None else UNKNOWN
        for child in node.iter_child_nodes():
            self.visit(child, scope)
        return UNKNOWN

    def visit_all(self, items: Iterable[nodes.Node], scope: dict[str, Any]) -> None:
        for item in items:
            self.visit(item, scope)

    def bind(self, target: nodes.Node, scope: dict[str, Any], value: Any = UNKNOWN) -> None:
        if isinstance(target, nodes.Name):
            scope[target.name] = value
        elif isinstance(target, nodes.Tuple | nodes.List):
            for item in target.items:
                self.bind(item, scope)

    def loop(self, node: nodes.For, scope: dict[str, Any]) -> Any:
        iterated = self.visit(node.iter, scope)
        inner = dict(scope)
        item = iterated.item if isinstance(iterated, _List) else UNKNOWN
        self.bind(node.target, inner, item)
        inner["loop"] = UNKNOWN
        if node.test is not None:
            self.visit(node.test, inner)
        self.visit_all(node.body, inner)
        self.visit_all(node.else_, scope)
        return UNKNOWN

    def name(self, node: nodes.Name, scope: dict[str, Any]) -> Any:
        if node.ctx != "load":
            return UNKNOWN
        if node.name in scope:
            return scope[node.name]
        if node.name in self.known:
            return UNKNOWN
        guess = _nearest(node.name, [*scope, *sorted(self.known)])
        available = ", ".join(sorted(n for n in scope if n != "loop"))
        hint = f"; did you mean {guess}?" if guess else f" (here: {available})"
        raise self.fail(node.name, f"no such name is defined here{hint}")

    def item(self, node: nodes.Getitem, scope: dict[str, Any]) -> Any:
        container = self.visit(node.node, scope)
        key = node.arg
        if isinstance(key, nodes.Const) and isinstance(key.value, str):
            if isinstance(container, _Model | _Accounts | _AccountData):
                return self.member(node, container, key.value)
            return UNKNOWN
        self.visit(key, scope)
        if isinstance(container, _List):
            return container.item
        return UNKNOWN

    def member(self, node: nodes.Getattr | nodes.Getitem, owner: Any, attr: str) -> Any:
        base = _path(node.node)
        read = _path(node) or attr
        if isinstance(owner, _Model):
            found = _model_member(owner.kind, attr)
            if found is not None:
                return found
            names = model_names(owner.kind)
            guess = _nearest(attr, names)
            if guess:
                hint = f"; did you mean {base}.{guess}?" if base else f"; did you mean {guess}?"
            else:
                hint = f" (it has: {', '.join(names)})"
            raise self.fail(read, f"{_describe(owner.kind)} has no attribute {attr!r}{hint}")
        if isinstance(owner, _Value):
            if attr.startswith("_") or not hasattr(owner.kind, attr):
                raise self.fail(
                    read, f"{_VALUE.get(owner.kind, 'a value')} has no attribute {attr!r}"
                )
            return _Callable(UNKNOWN) if callable(getattr(owner.kind, attr)) else UNKNOWN
        if isinstance(owner, _List):
            if attr.startswith("_") or not hasattr(list, attr):
                raise self.fail(read, f"a list has no attribute {attr!r}")
            return _Callable(UNKNOWN)
        if isinstance(owner, _Accounts):
            if attr in owner.keys:
                known = owner.keys[attr]
                return _Free() if known is None else _AccountData(attr, known)
            guess = _nearest(attr, owner.keys)
            targets = ", ".join(owner.keys) or "none"
            hint = f"; did you mean accounts.{guess}?" if guess else ""
            raise self.fail(read, f"there is no target {attr!r} (targets: {targets}){hint}")
        if isinstance(owner, _AccountData):
            if attr in owner.keys:
                return UNKNOWN
            nested = sorted(k for k in owner.keys if k.startswith(f"{attr}."))
            if nested:
                raise self.fail(
                    read,
                    f"the {owner.target} mapping has no key {attr!r}; a dotted key is read as "
                    f"accounts.{owner.target}[{nested[0]!r}]",
                )
            guess = _nearest(attr, owner.keys)
            hint = (
                f"; did you mean accounts.{owner.target}.{guess}?"
                if guess
                else f" (its keys: {', '.join(sorted(owner.keys)) or 'none'})"
            )
            raise self.fail(read, f"the {owner.target} mapping has no key {attr!r}{hint}")
        return UNKNOWN  # free-form or not known: not followed


# --- the pipeline --------------------------------------------------------------------------

_PERSON = _Model(Person)
_CONTRACT = _Model(Contract)
_DATE = _Value(dt.date)


def _contexts(accounts: Mapping[str, frozenset[str] | None]) -> dict[str, dict[str, Any]]:
    """The variables the engine gives expressions in each place of a target."""
    rule = {"person": _PERSON, "contract": _CONTRACT, "as_of": _DATE}
    mapping = {
        **rule,
        "contracts": _List(_CONTRACT),
        "department": _Model(Ref),
        "accounts": _Accounts(accounts),
    }
    return {
        "rule": rule,
        "mapping": mapping,
        "unique": {**mapping, "suffix": _Value(str)},
        "resource": {"department": _Model(Department), "as_of": _DATE},
    }


def check_expression(
    source: str,
    expressions: Expressions,
    names: Mapping[str, Any],
    *,
    template: bool,
) -> str | None:
    """The first problem of one rule (``template=False``) or template, or None.

    An expression that does not parse is left alone: compiling it reports that.
    """
    env = expressions.env
    try:
        if template:
            tree: nodes.Node = env.parse(source)
        else:
            tree = Parser(env, source, state="variable").parse_expression()
    except TemplateError:
        return None
    checker = _Checker(source, names, env.globals)
    checker.check(tree)
    return checker.problem


def _account_keys(targets: Mapping[str, TargetConfig]) -> dict[str, frozenset[str]]:
    """The keys each target's desired account data has (``accounts.<target>.<key>``)."""
    return {
        name: frozenset([*cfg.account.mapping, *cfg.account.unique])
        for name, cfg in targets.items()
    }


def check_correlation(base: str, target: TargetConfig, keys: frozenset[str]) -> list[Problem]:
    """``account.correlate.person``: a path into the person or ``account.<mapped key>``."""
    correlate = target.account.correlate
    if correlate is None:
        return []
    path = correlate.person.strip()
    where = f"{base}.account.correlate.person"
    if path.startswith("account."):
        key = path.removeprefix("account.")
        if key in keys:
            return []
        guess = _nearest(key, keys)
        hint = (
            f"; did you mean account.{guess}?"
            if guess
            else f" (keys: {', '.join(sorted(keys)) or 'none'})"
        )
        return [(where, f"{path!r} reads {path}, but the account mapping has no key {key!r}{hint}")]
    owner: Any = _PERSON
    walked = "person"
    for part in path.removeprefix("person.").split("."):
        if not isinstance(owner, _Model):
            return []  # free-form or a plain value: not followed
        found = _model_member(owner.kind, part)
        if found is None:
            names = model_names(owner.kind)
            guess = _nearest(part, names)
            hint = (
                f"; did you mean {walked}.{guess}?"
                if guess
                else f" ({_describe(owner.kind)} has: {', '.join(names)})"
            )
            return [
                (
                    where,
                    f"{path!r} reads {walked}.{part}, but {_describe(owner.kind)} has no "
                    f"attribute {part!r}{hint}",
                )
            ]
        owner, walked = found, f"{walked}.{part}"
    return []


def check_targets(
    targets: Mapping[str, TargetConfig],
    expressions: Expressions,
    written: Iterable[str] = (),
) -> list[Problem]:
    """Every rule, template and correlation path of ``targets`` checked against the model:
    ``(key path, problem)`` for each one that reads a name that does not exist.

    ``written`` names every target of the file, also those whose own configuration is
    invalid (reported elsewhere): ``accounts.<name>`` of such a target is not checked
    further, so one mistake is not reported again as another target's.
    """
    keys: dict[str, frozenset[str] | None] = dict.fromkeys(written)
    keys.update(_account_keys(targets))
    contexts = _contexts(keys)
    problems: list[Problem] = []

    def check(path: str, source: Any, place: str, template: bool = True) -> None:
        if not isinstance(source, str):
            return
        if template and "{{" not in source and "{%" not in source:
            return  # a literal
        problem = check_expression(source, expressions, contexts[place], template=template)
        if problem is not None:
            problems.append((path, problem))

    for name, target in targets.items():
        base = f"targets.{name}"
        account = target.account
        check(f"{base}.account.when", account.when, "rule", template=False)
        for key, value in account.mapping.items():
            check(f"{base}.account.mapping.{key}", value, "mapping")
        for key, unique in account.unique.items():
            for i, value in enumerate(unique.candidates):
                check(f"{base}.account.unique.{key}.{unique.where(i)}", value, "unique")
        for i, rule in enumerate(target.permissions):
            check(f"{base}.permissions.{i}.when", rule.when, "mapping", template=False)
            check(f"{base}.permissions.{i}.dynamic", rule.dynamic, "mapping")
        for i, value in enumerate(target.resources):
            check(f"{base}.resources.{i}", value, "resource")
        problems.extend(check_correlation(base, target, keys[name] or frozenset()))
    return problems
