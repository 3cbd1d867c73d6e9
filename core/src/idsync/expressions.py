"""Business rules and mappings: expressions in Jinja2's sandbox.

Ops write rules (``contract.department.code != 'EXT'``) and templates
(``{{ person.name.nick | lower }}.{{ person.name.family | slug }}``) in pipeline files; the
sandbox lets them read the person model but never call into Python beyond the safe filters and
the functions plugins contribute through ``idsync_expression_functions``. Missing data is
forgiving: ``contract.department.code`` of a contract without a department is undefined
(empty when rendered, unequal to any value) rather than an error. A name the model does not
have (``contract.titel``) is an error: an unknown attribute is not a missing value. Compiled expressions
are cached, so evaluating a rule for 100,000 persons compiles it once.
"""

from __future__ import annotations

import re
import threading
import types
import unicodedata
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, NoReturn

from jinja2 import (
    ChainableUndefined,
    Environment,
    Template,
    TemplateError,
    Undefined,
    UndefinedError,
    meta,
    nodes,
)
from jinja2.exceptions import SecurityError
from jinja2.parser import Parser
from jinja2.sandbox import (
    UNSAFE_ASYNC_GENERATOR_ATTRIBUTES,
    UNSAFE_COROUTINE_ATTRIBUTES,
    UNSAFE_FUNCTION_ATTRIBUTES,
    UNSAFE_GENERATOR_ATTRIBUTES,
    UNSAFE_METHOD_ATTRIBUTES,
    ImmutableSandboxedEnvironment,
    _mutable_spec,
)
from jinja2.utils import missing
from pydantic import BaseModel

from idsync.reads import Read, find_reads, printed_path, reads_only

__all__ = [
    "ExpressionError",
    "Expressions",
    "MissingValue",
    "accounts_read",
    "ascii_fold",
    "builtin_names",
    "slug",
]


class ExpressionError(Exception):
    """An expression that does not compile, fails, or tries to leave the sandbox."""


class MissingValue(ExpressionError):
    """A template that must render whole printed a value that is not there.

    Permission names, resources and unique candidates render *strictly*: an undefined
    attribute (``contract.department.code`` of a contract without a department) or an empty
    value in any ``{{ … }}`` makes the whole text missing, rather than ``group:department_``.
    """


_STRICT = threading.local()


def _missed(what: str) -> None:
    """Note, during a strict render, the first value that was not there."""
    if getattr(_STRICT, "on", False) and getattr(_STRICT, "missed", None) is None:
        _STRICT.missed = what


class _Undefined(ChainableUndefined):
    """Forgiving missing data (empty when printed, unequal to any value, chainable) that a
    strict render notices when it is printed."""

    __slots__ = ()

    def __str__(self) -> str:
        _missed(repr(self._undefined_name) if self._undefined_name else "a value")
        return ""


def _finalize(value: Any) -> Any:
    if value is None:
        _missed("an empty value")
        return ""
    if isinstance(value, Undefined):
        _missed(repr(value._undefined_name) if value._undefined_name else "a value")
    return value


def _absent(value: Any) -> bool:
    """Whether a filter's input is missing data (noted during a strict render)."""
    if value is None or isinstance(value, Undefined):
        _missed(
            repr(value._undefined_name)
            if isinstance(value, Undefined) and value._undefined_name
            else "an empty value"
        )
        return True
    return False


_TRANSLITERATE = str.maketrans(
    {
        "ø": "o",
        "Ø": "O",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ß": "ss",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "Th",
        "ı": "i",
        "ĳ": "ij",
        "Ĳ": "IJ",
    }
)


def ascii_fold(value: Any) -> str:
    """``Ëlise Çelik`` → ``Elise Celik``, ``Søren`` → ``Soren``: plain ASCII letters."""
    if _absent(value):
        return ""
    raw = str(value)
    if raw.isascii():
        return raw  # already plain ASCII: its own normal form, nothing to strip
    text = unicodedata.normalize("NFKD", raw.translate(_TRANSLITERATE))
    return (
        "".join(ch for ch in text if not unicodedata.combining(ch))
        .encode("ascii", "ignore")
        .decode()
    )


_SLUG_DROP = re.compile(r"[^a-z0-9.\-]+")


def slug(value: Any) -> str:
    """``van der Berg-Ëlise`` → ``vanderberg-elise``: lower-case ASCII letters, digits, ``.-``."""
    return _SLUG_DROP.sub("", ascii_fold(value).lower())


def _initials(value: Any) -> str:
    if _absent(value):
        return ""
    return "".join(part[0] for part in re.split(r"[\s.\-]+", str(value or "")) if part).upper()


_TEXT_FILTERS = ("lower", "upper", "title", "capitalize", "trim")


def _text_filter(original: Callable[..., Any]) -> Callable[..., Any]:
    """A text filter that leaves missing data empty instead of printing ``None``."""

    def text(value: Any, *args: Any, **kwargs: Any) -> Any:
        return "" if _absent(value) else original(value, *args, **kwargs)

    text.__name__ = original.__name__
    text.__doc__ = original.__doc__
    return text


_METHOD_TYPES = frozenset((types.MethodType, types.BuiltinMethodType))
"""Types of bound methods (neither can be subclassed, so the type is compared exactly)."""

_VERDICTS: dict[tuple[type, str], bool] = {}
""":func:`_safe_attribute`'s verdicts, by (type, attribute), read without a call."""


@lru_cache(maxsize=8192)
def _safe_attribute(kind: type, attr: str) -> bool:
    """The immutable sandbox's verdict on reading ``attr`` of an instance of ``kind``: what
    ``ImmutableSandboxedEnvironment.is_safe_attribute`` answers, asked of the type."""
    return not (
        attr.startswith("_")
        or _internal_attribute(kind, attr)
        or _mutates_known_mutable(kind, attr)
    )


def _internal_attribute(kind: type, attr: str) -> bool:
    """``jinja2.sandbox.is_internal_attribute`` for an instance of ``kind``."""
    if issubclass(kind, types.FunctionType):
        if attr in UNSAFE_FUNCTION_ATTRIBUTES:
            return True
    elif issubclass(kind, types.MethodType):
        if attr in UNSAFE_FUNCTION_ATTRIBUTES or attr in UNSAFE_METHOD_ATTRIBUTES:
            return True
    elif issubclass(kind, type):
        if attr == "mro":
            return True
    elif issubclass(kind, types.CodeType | types.TracebackType | types.FrameType):
        return True
    elif issubclass(kind, types.GeneratorType):
        if attr in UNSAFE_GENERATOR_ATTRIBUTES:
            return True
    elif issubclass(kind, types.CoroutineType):
        if attr in UNSAFE_COROUTINE_ATTRIBUTES:
            return True
    elif issubclass(kind, types.AsyncGeneratorType) and attr in UNSAFE_ASYNC_GENERATOR_ATTRIBUTES:
        return True
    return attr.startswith("__")


def _mutates_known_mutable(kind: type, attr: str) -> bool:
    """``jinja2.sandbox.modifies_known_mutable`` for an instance of ``kind``."""
    for spec, unsafe in _mutable_spec:
        if issubclass(kind, spec):
            return attr in unsafe
    return False


def _unknown_attribute(obj: BaseModel, attribute: Any) -> NoReturn:
    """A model has no such attribute: an error, unlike a missing value.

    ``contract.department.code`` of a contract without a department is a missing value
    (undefined, forgiving); ``contract.titel`` is a name the model does not have, for every
    contract, so it fails instead of quietly matching nobody. ``idsync check`` finds these
    before a run (:mod:`idsync.typecheck`); this is the same rule at run time.
    """
    raise UndefinedError(f"{type(obj).__name__} has no attribute {attribute!r} (unknown attribute)")


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, strict about escapes: reading an unsafe attribute
    (``person.__class__``) raises instead of rendering as an empty undefined value."""

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        # The sandbox decides by the object's type and the attribute's name only, so the
        # verdict is remembered per (type, name): rules read the same few paths of the same
        # few types for every person.
        kind: type = type(obj)
        return _safe_attribute(kind, attr)

    def getattr(self, obj: Any, attribute: str) -> Any:
        # ``SandboxedEnvironment.getattr`` with its checks inlined: every ``a.b`` in a rule
        # or template comes through here, several times per person.
        try:
            value = getattr(obj, attribute)
        except AttributeError:
            try:
                return obj[attribute]
            except (TypeError, LookupError):
                pass
        else:
            if type(value) in _METHOD_TYPES:  # only a str's format methods are wrapped
                wrapped = self.wrap_str_format(value)
                if wrapped is not None:
                    return wrapped
            kind: type = type(obj)
            key = (kind, attribute)
            safe = _VERDICTS.get(key)
            if safe is None:
                safe = _VERDICTS[key] = _safe_attribute(kind, attribute)
            if safe:
                return value
            return self.unsafe_undefined(obj, attribute)
        if isinstance(obj, BaseModel):
            _unknown_attribute(obj, attribute)
        return self.undefined(obj=obj, name=attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        value = super().getitem(obj, argument)
        if isinstance(value, Undefined) and isinstance(obj, BaseModel):
            _unknown_attribute(obj, argument)
        return value

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
        )


class _Frame:
    """The part of a Jinja ``Context`` that code which only reads variables touches.

    Resolves a name as ``Context.resolve_or_missing`` does (the given variables, then the
    globals) without first copying both into a new dict and building the rest of a context
    for every render: a rule or a mapping renders once per person and contract.
    """

    __slots__ = ("_given", "_globals", "exported_vars", "vars")

    def __init__(self, given: Mapping[str, Any], globals_: Mapping[str, Any]) -> None:
        self._given = given
        self._globals = globals_
        self.vars: dict[str, Any] = {}
        self.exported_vars: set[str] = set()

    def resolve_or_missing(self, key: str) -> Any:
        if key in self.vars:
            return self.vars[key]
        if key in self._given:
            return self._given[key]
        return self._globals.get(key, missing)


def _flatten_globals(template: Template) -> None:
    """Give a compiled template its globals as one plain dict.

    Jinja keeps them as a ``ChainMap`` over the environment's globals, and every render
    copies it twice into the new context (the slowest part of a small render). The
    environment's globals are complete before anything is compiled and never change after,
    so a snapshot holds the same names and values.
    """
    template.globals = dict(template.globals)


_SYNTAX = Environment(autoescape=False)  # noqa: S701 (parsed, never rendered)
"""Jinja's syntax only, for reading what an expression names (never rendering)."""


@lru_cache(maxsize=4096)
def accounts_read(source: str, rule: bool = False) -> frozenset[str]:
    """The targets whose account data an expression reads (``accounts.helloid.userName``,
    ``accounts['helloid']``). Empty for literals and for text that does not parse."""
    if "accounts" not in source:
        return frozenset()
    try:
        if rule:
            tree: nodes.Node = Parser(_SYNTAX, source, state="variable").parse_expression()
        else:
            tree = _SYNTAX.parse(source)
    except TemplateError:
        return frozenset()
    names = set()
    for node in tree.find_all(nodes.Getattr):
        if isinstance(node.node, nodes.Name) and node.node.name == "accounts":
            names.add(node.attr)
    for item in tree.find_all(nodes.Getitem):
        if (
            isinstance(item.node, nodes.Name)
            and item.node.name == "accounts"
            and isinstance(item.arg, nodes.Const)
            and isinstance(item.arg.value, str)
        ):
            names.add(item.arg.value)
    return frozenset(names)


class Expressions:
    """The expression language of one pipeline: a sandboxed environment plus extra functions."""

    def __init__(self, functions: Mapping[str, Callable[..., Any]] | None = None) -> None:
        env = _Sandbox(undefined=_Undefined, autoescape=False, finalize=_finalize)
        env.filters.update({"ascii": ascii_fold, "slug": slug, "initials": _initials})
        for name in _TEXT_FILTERS:  # ``None | lower`` is "none" in plain Jinja
            env.filters[name] = _text_filter(env.filters[name])
        env.globals.update({"ascii": ascii_fold, "slug": slug})
        env.globals.update(dict(functions or {}))
        self.env = env
        self._rule = lru_cache(maxsize=4096)(self._compile_rule)
        self._template = lru_cache(maxsize=4096)(self._compile_template)
        self._names = lru_cache(maxsize=4096)(self._template_names)
        self._rule_call = lru_cache(maxsize=4096)(self._compile_rule_call)
        self._template_call = lru_cache(maxsize=4096)(self._compile_template_call)
        self._reads_of = lru_cache(maxsize=4096)(self._find_reads)
        # A plugin function handed the render context could read any variable.
        self._sees_context = any(
            getattr(f, "jinja_pass_arg", None) is not None for f in (functions or {}).values()
        )

    def _compile_rule(self, source: str) -> Callable[..., Any]:
        try:
            expression = self.env.compile_expression(source, undefined_to_none=False)
        except TemplateError as exc:
            raise ExpressionError(f"rule {source!r} does not compile: {exc}") from None
        _flatten_globals(expression._template)
        return expression

    def _compile_template(self, source: str) -> Callable[..., str]:
        try:
            template = self.env.from_string(source)
        except TemplateError as exc:
            raise ExpressionError(f"template {source!r} does not compile: {exc}") from None
        _flatten_globals(template)
        return template.render

    def _compile_rule_call(self, source: str) -> Callable[[Mapping[str, Any]], Any]:
        expression = self.rule(source)
        template: Template = expression._template  # type: ignore[attr-defined]
        parser = Parser(self.env, source, state="variable")
        tree = nodes.Template(
            [nodes.Assign(nodes.Name("result", "store"), parser.parse_expression(), lineno=1)],
            lineno=1,
        )
        if not reads_only(self.env.compile(tree, raw=True)):
            return lambda context: expression(**context)
        root, globals_ = template.root_render_func, template.globals

        def evaluate(context: Mapping[str, Any]) -> Any:
            frame = _Frame(context, globals_)
            for _ in root(frame):  # type: ignore[arg-type]
                pass
            return frame.vars["result"]

        return evaluate

    def _compile_template_call(self, source: str) -> Callable[[Mapping[str, Any]], Any]:
        render = self.template(source)
        template: Template = render.__self__  # type: ignore[attr-defined]
        if not reads_only(self.env.compile(source, raw=True)):
            return lambda context: render(**context)
        root, globals_, concat = template.root_render_func, template.globals, self.env.concat
        path = printed_path(self.env.parse(source))
        if path is not None:
            return self._path_call(path, globals_)

        def fast(context: Mapping[str, Any]) -> Any:
            return concat(root(_Frame(context, globals_)))  # type: ignore[arg-type]

        return fast

    def _path_call(
        self, path: tuple[str, tuple[str, ...]], globals_: Mapping[str, Any]
    ) -> Callable[[Mapping[str, Any]], Any]:
        """A template that prints one path (``{{ person.name.first }}``) rendered as the
        code Jinja generates for it runs (the variable, or a global, or undefined; each
        attribute through the sandbox; the value finalized and printed), without the code."""
        name, attributes = path
        env = self.env
        getattr_, undefined = env.getattr, env.undefined

        def printed(context: Mapping[str, Any]) -> Any:
            value = context.get(name, missing)
            if value is missing:
                value = globals_.get(name, missing)
                if value is missing:
                    value = undefined(name=name)
            for attribute in attributes:
                value = getattr_(value, attribute)
            return str(_finalize(value))  # the environment's ``finalize``

        return printed

    def _template_names(self, source: str) -> frozenset[str] | None:
        try:
            tree = self.env.parse(source)
        except TemplateError:
            return None
        names = meta.find_undeclared_variables(tree)
        if self._sees_context or "lipsum" in names:
            return None
        if any(f.name == "random" for f in tree.find_all(nodes.Filter)):
            return None
        return frozenset(names)

    def _find_reads(self, source: str, rule: bool) -> tuple[Read, ...] | None:
        if self._sees_context:
            return None
        return find_reads(self.env, source, rule=rule)

    def reads_of(self, source: str, *, rule: bool = False) -> tuple[Read, ...] | None:
        """What a rule or template reads, when its result depends on nothing else.

        Each read is a variable and the attribute first read of it (``("contract",
        "title")`` for ``contract.title.code``), or the variable itself (attribute None).
        None when the result may depend on more: a function call, a random value, anything
        beyond reading values, filtering and comparing them. Lets callers remember results
        by the values read (:class:`idsync.memo.Memo`).
        """
        return self._reads_of(source, rule)

    def reads(self, value: Any, name: str) -> bool:
        """Whether rendering ``value`` may depend on the variable ``name``.

        False only when it certainly does not: a literal, or a template that never names the
        variable and draws no random values (such a template renders the same whatever
        ``name`` is). Lets callers render it once instead of once per value of ``name``.
        """
        if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
            return False
        names = self._names(value)
        return names is None or name in names

    def rule(self, source: str) -> Callable[..., Any]:
        """The compiled rule (an expression); raises :class:`ExpressionError` if it is invalid."""
        return self._rule(source)

    def template(self, source: str) -> Callable[..., str]:
        """The compiled template; raises :class:`ExpressionError` if it is invalid."""
        return self._template(source)

    def test(self, source: str | None, context: Mapping[str, Any]) -> bool:
        """Evaluate a rule to a boolean; no rule means true."""
        if source is None:
            return True
        try:
            return bool(self._rule_call(source)(context))
        except SecurityError as exc:
            raise ExpressionError(f"rule {source!r} is not allowed: {exc}") from None
        except UndefinedError as exc:
            raise ExpressionError(f"rule {source!r}: {exc}") from None
        except ExpressionError:
            raise
        except Exception as exc:
            raise ExpressionError(f"rule {source!r} failed: {type(exc).__name__}: {exc}") from None

    def render(self, value: Any, context: Mapping[str, Any], *, strict: bool = False) -> Any:
        """Render a mapping value: a string with ``{{`` or ``{%`` is a template, anything else
        (literal strings, numbers, booleans) is taken as it is.

        ``strict`` raises :class:`MissingValue` when the template prints a value that is not
        there (undefined, or None) instead of leaving that part empty.
        """
        if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
            return value
        if not strict:
            return self._render(value, context)
        text, missed = self.render_missed(value, context)
        if missed is not None:
            raise MissingValue(f"template {value!r} prints {missed}, which is missing")
        return text

    def render_missed(self, value: str, context: Mapping[str, Any]) -> tuple[Any, str | None]:
        """Render the template ``value`` strictly: the text, and the first value it printed
        that was missing (None when nothing was; :meth:`render` raises for it)."""
        _STRICT.on, _STRICT.missed = True, None
        try:
            text = self._render(value, context)
            return text, _STRICT.missed
        finally:
            _STRICT.on, _STRICT.missed = False, None

    def _render(self, value: str, context: Mapping[str, Any]) -> Any:
        """Render the template ``value``, its failures as :class:`ExpressionError`."""
        try:
            return self._template_call(value)(context)
        except SecurityError as exc:
            raise ExpressionError(f"template {value!r} is not allowed: {exc}") from None
        except UndefinedError as exc:
            raise ExpressionError(f"template {value!r}: {exc}") from None
        except ExpressionError:
            raise
        except Exception as exc:
            raise ExpressionError(
                f"template {value!r} failed: {type(exc).__name__}: {exc}"
            ) from None


@lru_cache(maxsize=1)
def builtin_names() -> frozenset[str]:
    """The names the expression language has of its own (idsync's functions and Jinja's
    globals such as ``range``): a plugin's function may not take one of them."""
    return frozenset(Expressions().env.globals)
