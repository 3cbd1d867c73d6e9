"""Business rules and mappings: expressions in Jinja2's sandbox.

Ops write rules (``contract.department.code != 'EXT'``) and templates
(``{{ person.name.nick | lower }}.{{ person.name.family | slug }}``) in pipeline files; the
sandbox lets them read the person model but never call into Python beyond the safe filters and
the functions plugins contribute through ``idsync_expression_functions``. Missing data is
forgiving: ``contract.department.code`` of a contract without a department is undefined
(empty when rendered, unequal to any value) rather than an error. Compiled expressions
are cached, so evaluating a rule for 100,000 persons compiles it once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, TemplateError, Undefined, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["ExpressionError", "Expressions", "ascii_fold", "slug"]


class ExpressionError(Exception):
    """An expression that does not compile, fails, or tries to leave the sandbox."""


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
    text = unicodedata.normalize("NFKD", str(value or "").translate(_TRANSLITERATE))
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
    return "".join(part[0] for part in re.split(r"[\s.\-]+", str(value or "")) if part).upper()


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, strict about escapes: reading an unsafe attribute
    (``person.__class__``) raises instead of rendering as an empty undefined value."""

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
        )


class Expressions:
    """The expression language of one pipeline: a sandboxed environment plus extra functions."""

    def __init__(self, functions: Mapping[str, Callable[..., Any]] | None = None) -> None:
        env = _Sandbox(
            undefined=ChainableUndefined,
            autoescape=False,
            finalize=lambda v: "" if v is None else v,
        )
        env.filters.update({"ascii": ascii_fold, "slug": slug, "initials": _initials})
        env.globals.update({"ascii": ascii_fold, "slug": slug})
        env.globals.update(dict(functions or {}))
        self.env = env
        self._rule = lru_cache(maxsize=4096)(self._compile_rule)
        self._template = lru_cache(maxsize=4096)(self._compile_template)

    def _compile_rule(self, source: str) -> Callable[..., Any]:
        try:
            return self.env.compile_expression(source, undefined_to_none=False)
        except TemplateError as exc:
            raise ExpressionError(f"rule {source!r} does not compile: {exc}") from None

    def _compile_template(self, source: str) -> Callable[..., str]:
        try:
            return self.env.from_string(source).render
        except TemplateError as exc:
            raise ExpressionError(f"template {source!r} does not compile: {exc}") from None

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
            return bool(self.rule(source)(**context))
        except SecurityError as exc:
            raise ExpressionError(f"rule {source!r} is not allowed: {exc}") from None
        except UndefinedError as exc:
            raise ExpressionError(f"rule {source!r}: {exc}") from None
        except ExpressionError:
            raise
        except Exception as exc:
            raise ExpressionError(f"rule {source!r} failed: {type(exc).__name__}: {exc}") from None

    def render(self, value: Any, context: Mapping[str, Any]) -> Any:
        """Render a mapping value: a string with ``{{`` or ``{%`` is a template, anything else
        (literal strings, numbers, booleans) is taken as it is."""
        if not isinstance(value, str) or ("{{" not in value and "{%" not in value):
            return value
        try:
            return self.template(value)(**context)
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
