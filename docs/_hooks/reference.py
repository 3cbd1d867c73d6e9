"""Reference pages rendered from the code when the site is built (a mkdocs hook).

A page holding a marker such as ``<!-- idsync:generate pipeline -->`` gets the marker replaced
by Markdown rendered from the code itself, so the reference cannot drift from it:

- ``pipeline``: the pipeline file, from the pydantic models in :mod:`idsync.config`;
- ``hooks``: every hook specification in :mod:`idsync.hookspecs`, with its docstring;
- ``model``: the person model and the objects hooks receive and return (:mod:`idsync.model`);
- ``cli``: every command and option of the ``idsync`` typer app.

The render functions are plain functions of the code, so ``tests/test_docs.py`` checks them
without running mkdocs.
"""

from __future__ import annotations

import ast
import enum
import functools
import inspect
import itertools
import json
import re
import textwrap
import types
import typing
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from idsync.model import PRINTABLE
from pydantic import BaseModel
from pydantic.fields import FieldInfo

__all__ = [
    "FIELD_NOTES",
    "MODEL_NOTES",
    "cli_commands",
    "config_models",
    "field_description",
    "hookspecs",
    "model_classes",
    "on_page_markdown",
    "render",
    "render_cli",
    "render_hooks",
    "render_model",
    "render_pipeline",
]

MARKER = re.compile(r"<!--\s*idsync:generate\s+([a-z-]+)\s*-->")

# --- text helpers ---------------------------------------------------------------------------

_ROLE = re.compile(r":(?:class|meth|func|mod|attr|data|obj):`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def _md(text: str | None, links: dict[str, str] | None = None) -> str:
    """A docstring in reStructuredText habits as Markdown: ``x`` and :class:`~a.B` become code,
    linked when ``links`` knows the name."""
    if not text:
        return ""
    links = links or {}

    def role(match: re.Match[str]) -> str:
        target = match.group(1)
        name = target.rsplit(".", 1)[-1]
        if name in links:
            return f"[`{name}`]({links[name]})"
        return f"`{name}`"

    return _LITERAL.sub(r"`\1`", _ROLE.sub(role, inspect.cleandoc(text)))


def _cell(text: str) -> str:
    """Text fit for one Markdown table cell: one line, pipes outside code spans escaped
    (inside them a pipe never splits the cell)."""
    parts = " ".join(text.split()).split("`")
    return "`".join(p if i % 2 else p.replace("|", "\\|") for i, p in enumerate(parts))


def _anchor(name: str) -> str:
    return name.lower().replace("_", "-")


def _section_anchor(section: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", section.lower()).strip("-")


def _first_paragraph(text: str) -> str:
    return text.strip().split("\n\n", 1)[0]


@functools.cache
def _attribute_docstrings(cls: type) -> dict[str, str]:
    """``{attribute: docstring}`` for string literals written under annotated class attributes."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    body = ast.parse(source).body[0]
    if not isinstance(body, ast.ClassDef):
        return {}
    out: dict[str, str] = {}
    statements = body.body
    for node, after in itertools.pairwise(statements):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            out[node.target.id] = inspect.cleandoc(after.value.value)
    return out


# --- types ----------------------------------------------------------------------------------

_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}


def _type(annotation: Any, links: dict[str, str]) -> str:
    """A field's type in words, nested models linked."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    if annotation is Any:
        return "any"
    if origin is typing.Annotated:
        words = [w for item in annotation.__metadata__ for w in _string_words(item)]
        return ", ".join([_type(args[0], links), *words])
    if origin in (typing.Union, types.UnionType):
        parts = [_type(a, links) for a in args if a is not type(None)]
        text = " or ".join(parts)
        return f"{text} or null" if type(None) in args else text
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (dict, typing.Mapping) or annotation is dict:
        if not args:
            return "mapping"
        key, value = args
        if value is Any:
            return "mapping"
        return f"mapping of {_key_name(key)} to {_type(value, links)}"
    if origin is type:
        return "a class" if not args else f"a {_type(args[0], links)} class"
    if origin in (list, tuple, set, frozenset):
        return f"list of {_plural(_type(args[0], links))}" if args else "list"
    if inspect.isclass(annotation):
        name = annotation.__name__
        if name in links:
            return f"[{name}]({links[name]})"
        if issubclass(annotation, enum.Enum):
            return "one of " + ", ".join(f"`{m.value}`" for m in annotation)
        if annotation is BaseModel:
            return "pydantic model"
        if name == "SecretStr":
            return "secret string"
        if name == "date":
            return "date (YYYY-MM-DD)"
        if name == "datetime":
            return "date and time"
        return name
    return str(annotation).replace("typing.", "")


def _plural(words: str) -> str:
    return {"string": "strings", "integer": "integers", "number": "numbers"}.get(words, words)


def _key_name(key: Any) -> str:
    if inspect.isclass(key) and issubclass(key, enum.Enum):
        return "action kind" if key.__name__ == "ActionKind" else key.__name__
    return "name" if key is str else _type(key, {})


def _string_words(item: Any) -> list[str]:
    """A string constraint in words: the model's printable-text rule and its length limit."""
    words = []
    if getattr(item, "pattern", None) == PRINTABLE:
        words.append("printable")
    max_length = getattr(item, "max_length", None)
    if max_length:
        words.append(f"at most {max_length} characters")
    return words


def _constraints(field: FieldInfo) -> str:
    words = []
    for item in field.metadata:
        words += _string_words(item)
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(item, attr, None)
            if value is not None:
                words.append(f"{sign} {value}")
        min_length = getattr(item, "min_length", None)
        if min_length:
            words.append("not empty" if min_length == 1 else f"at least {min_length} long")
    return ", ".join(words)


def _default(field: FieldInfo, links: dict[str, str]) -> str:
    if field.is_required():
        return "required"
    factory = field.default_factory
    if factory is not None and not inspect.isclass(factory):
        name = getattr(factory, "__name__", "computed")
        return "today" if name == "today" else f"`{name}()`"
    value = field.get_default(call_default_factory=True) if factory else field.default
    if isinstance(value, BaseModel):
        name = type(value).__name__
        return f"[its defaults]({links[name]})" if name in links else "its defaults"
    if isinstance(value, enum.Enum):
        value = value.value
    return f"`{json.dumps(value, default=str)}`"


# --- the pipeline file ----------------------------------------------------------------------

FIELD_NOTES: dict[str, str] = {
    "Pipeline.state": "Where idsync keeps what it knows and did: a SQLAlchemy URL, "
    "`sqlite:///idsync.db` (a file, relative to the directory idsync runs in) or "
    "`postgresql+psycopg://…`. `${VARIABLE}` references work here too.",
    "Pipeline.sources": "The source systems, by the name you give them. At least one. "
    "When several know a person, the first listed wins.",
    "Pipeline.targets": "The target systems, by the name you give them, evaluated in file "
    "order: a later target's mapping can use an earlier one's account data.",
    "Pipeline.name": "The pipeline's name in the state store (runs, held work, the run "
    "lock). Default: the file name without `.yaml`.",
    "SourceConfig.plugin": "The plugin, by the name `idsync plugins` lists.",
    "SourceConfig.settings": "The plugin's settings, validated by its settings model (see "
    "the plugin's page). Secrets only as `${VARIABLE}`.",
    "SourceConfig.thresholds": "When to hold the whole import.",
    "SourceConfig.enabled": "`false` leaves the source out of every run. Its persons are "
    "then no longer in any source, and their accounts are disabled.",
    "TargetConfig.plugin": "The plugin, by the name `idsync plugins` lists.",
    "TargetConfig.settings": "The plugin's settings, validated by its settings model (see "
    "the plugin's page). Secrets only as `${VARIABLE}`.",
    "TargetConfig.enabled": "`false` leaves the target out of plans and runs.",
    "TargetConfig.account": "Who gets an account, with which attributes, and when.",
    "TargetConfig.permissions": "Permission rules: static grants and dynamic ones.",
    "TargetConfig.thresholds": "The most actions of a kind one run may do (`delete: 10`, "
    "`disable: '5%'`); a kind that exceeds it is held as a whole.",
    "TargetConfig.concurrency": "How many persons are worked on at once in this target.",
    "AccountConfig.correlate": "How to find an existing account before creating one. "
    "Without it, idsync creates without looking.",
    "AccountConfig.mapping": "Account attribute → template or literal value. The keys are "
    "the target's field names, as the plugin's page lists them.",
    "AccountConfig.lifecycle": "When the account is created, enabled, disabled and deleted.",
    "AccountConfig.update_on_correlate": "After linking an existing account, write the "
    "attributes that differ from the desired ones.",
    "Correlate.person": "The person's side: a path, as above.",
    "Correlate.account": "The target's account field that must equal it.",
    "Lifecycle.create_days_before_start": "Create the account (disabled) this many days "
    "before a contract starts.",
    "Lifecycle.enable_days_before_start": "Enable it this many days before the contract starts.",
    "Lifecycle.disable_days_after_end": "Keep it enabled this many days after the contract's "
    "last day.",
    "PermissionRule.when": "Business rule per contract. Without it, every contract that gives "
    "access counts.",
    "PermissionRule.grant": "A permission `kind:name`, granted while a contract that gives "
    "access satisfies `when`.",
    "PermissionRule.dynamic": "A template rendered per contract that gives access (and "
    "satisfies `when`) into `kind:name`. An empty name gives nothing.",
    "Threshold.count": "The most actions (or persons) allowed.",
    "Threshold.percent": "The most allowed, as a percentage of the base.",
    "SourceThresholds.removed": "Persons in the last snapshot that are missing now.",
    "SourceThresholds.added": "Persons that are new since the last snapshot.",
    "SourceThresholds.emptied": "Persons with a field that had a value and is empty now.",
    "Notifications.smtp": "The mail server; needed when a rule sends e-mail.",
    "Notifications.webhooks": "Webhooks by name, for rules to post to.",
    "Notifications.rules": "Which events go to whom. At least one.",
}
"""Descriptions of fields whose model carries none yet, by ``Model.field``. The model's own
description or attribute docstring always wins; ``tests/test_docs.py`` fails on a key that names
no field, so these cannot outlive the fields they describe."""

MODEL_NOTES: dict[str, str] = {
    "Threshold": "Written as a count (`10`), a percentage (`5%`), or a mapping "
    "with `count` and/or `percent`.",
}
"""A line added under a model's docstring, by model name (tested like ``FIELD_NOTES``)."""


def _config_root() -> type[BaseModel]:
    from idsync.config import Pipeline

    return Pipeline


def _nested(annotation: Any, path: str) -> Iterator[tuple[type[BaseModel], str]]:
    """The models inside a field's type, each with the key path it sits at."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        yield annotation, path
    elif origin in (typing.Union, types.UnionType):
        for arg in args:
            yield from _nested(arg, path)
    elif origin in (dict, typing.Mapping) and args:
        key = args[0]
        label = "<kind>" if inspect.isclass(key) and issubclass(key, enum.Enum) else "<name>"
        yield from _nested(args[1], f"{path}.{label}")
    elif origin in (list, tuple) and args:
        yield from _nested(args[0], f"{path}[]")


def config_models() -> list[tuple[type[BaseModel], list[str]]]:
    """Every model of the pipeline file, top down, with the key paths where each appears."""
    found: dict[type[BaseModel], list[str]] = {}

    def visit(model: type[BaseModel], path: str) -> None:
        seen = model in found
        found.setdefault(model, []).append(path)
        if seen:
            return
        for name, field in model.model_fields.items():
            for sub, sub_path in _nested(field.annotation, f"{path}.{name}" if path else name):
                visit(sub, sub_path)

    visit(_config_root(), "")
    return list(found.items())


def field_description(model: type[BaseModel], name: str) -> str:
    """A field's description: its own, else its attribute docstring, else ``FIELD_NOTES``."""
    field = model.model_fields[name]
    return (
        field.description
        or _attribute_docstrings(model).get(name)
        or FIELD_NOTES.get(f"{model.__name__}.{name}", "")
    )


def _fields_table(model: type[BaseModel], links: dict[str, str], key: str = "key") -> str:
    rows = [f"| {key} | type | default | description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        kind = _type(field.annotation, links)
        limits = _constraints(field)
        if limits:
            kind = f"{kind}, {limits}"
        text = _md(field_description(model, name), links)
        rows.append(
            f"| `{name}` | {_cell(kind)} | {_cell(_default(field, links))} | {_cell(text)} |"
        )
    return "\n".join(rows)


def render_pipeline() -> str:
    """The pipeline file reference: one section per model, from the file's top down."""
    models = config_models()
    links = {m.__name__: f"#{_anchor(m.__name__)}" for m, _ in models}
    out = []
    for model, paths in models:
        name = model.__name__
        out.append(f"## {name} {{#{_anchor(name)}}}\n")
        where = ", ".join(f"`{p}`" for p in paths if p)
        out.append(f"*In the file:* {where}\n" if where else "*In the file:* the top level\n")
        out.append(_md(model.__doc__, links) + "\n")
        if name in MODEL_NOTES:
            out.append(MODEL_NOTES[name] + "\n")
        out.append(_fields_table(model, links) + "\n")
    return "\n".join(out)


# --- the data model -------------------------------------------------------------------------


def model_classes() -> list[type]:
    """Every class :mod:`idsync.model` exports, persons first, then what hooks exchange."""
    from idsync import model

    order = [
        "Person",
        "Name",
        "Contact",
        "Contract",
        "Ref",
        "PersonRef",
        "Department",
        "HookContext",
        "ActionResult",
        "Account",
        "Permission",
        "Correlation",
        "Change",
        "Blocked",
        "PluginAbout",
        "PluginKind",
        "ActionKind",
        "ActionStatus",
        "ActionEvent",
        "RunSummary",
    ]
    exported = [getattr(model, n) for n in model.__all__ if inspect.isclass(getattr(model, n))]
    known = [c for n in order for c in exported if c.__name__ == n]
    return known + sorted((c for c in exported if c not in known), key=lambda c: c.__name__)


def _model_links(here: str) -> dict[str, str]:
    prefix = "" if here == "model" else "model.md"
    return {c.__name__: f"{prefix}#{_anchor(c.__name__)}" for c in model_classes()}


def _members(cls: type) -> Iterator[tuple[str, str]]:
    """Public properties and methods defined on the class itself, with their docstrings."""
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, property):
            yield f"`{name}` (property)", value.__doc__ or ""
        elif isinstance(value, classmethod | staticmethod):
            function = value.__func__
            yield f"`{name}{_signature(function)}`", function.__doc__ or ""
        elif inspect.isfunction(value):
            yield f"`{name}{_signature(value)}`", value.__doc__ or ""


def _signature(function: Callable[..., Any]) -> str:
    parameters = []
    for p in inspect.signature(function).parameters.values():
        if p.name in ("self", "cls"):
            continue
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            parameters.append(f"**{p.name}")
        elif p.kind is inspect.Parameter.VAR_POSITIONAL:
            parameters.append(f"*{p.name}")
        elif p.default is inspect.Parameter.empty:
            parameters.append(p.name)
        else:
            parameters.append(f"{p.name}={p.default!r}")
    return f"({', '.join(parameters)})"


def render_model() -> str:
    """The data model reference: fields, properties and methods of every exported class."""
    links = _model_links("model")
    out = []
    for cls in model_classes():
        name = cls.__name__
        out.append(f"## {name} {{#{_anchor(name)}}}\n")
        out.append(_md(cls.__doc__, links) + "\n")
        if issubclass(cls, enum.Enum):
            out.append(", ".join(f"`{m.value}`" for m in cls) + "\n")
            continue
        if issubclass(cls, BaseModel) and cls.model_fields:
            out.append(_fields_table(cls, links, key="field") + "\n")
        members = list(_members(cls))
        if members:
            out.append(
                "\n".join(f"- {title}: {_cell(_md(doc, links))}" for title, doc in members) + "\n"
            )
    return "\n".join(out)


# --- hooks ----------------------------------------------------------------------------------

_SECTION = re.compile(r"^# --- (.+?) -+$")
_DEF = re.compile(r"^def (idsync_\w+)\(")


def hookspecs() -> list[tuple[str, str, Callable[..., Any]]]:
    """``(section, name, function)`` for every hook specification, in the order of the module."""
    from idsync import hookspecs as module

    section = "hooks"
    order: list[tuple[str, str]] = []
    for line in inspect.getsource(module).splitlines():
        heading = _SECTION.match(line)
        if heading:
            section = heading.group(1)
        defined = _DEF.match(line)
        if defined:
            order.append((section, defined.group(1)))
    specs = {
        name: function
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if hasattr(function, f"{module.PROJECT}_spec")
    }
    listed: list[tuple[str, str, Callable[..., Any]]] = [
        (section, name, specs[name]) for section, name in order if name in specs
    ]
    missing = sorted(set(specs) - {name for _, name, _ in listed})
    return listed + [("hooks", name, specs[name]) for name in missing]


def _hook_signature(function: Callable[..., Any]) -> str:
    signature = inspect.signature(function)
    parameters = ", ".join(
        f"{p.name}: {p.annotation}" if p.annotation is not inspect.Parameter.empty else p.name
        for p in signature.parameters.values()
    )
    returns = signature.return_annotation
    arrow = "" if returns is inspect.Signature.empty else f" -> {returns}"
    return f"def {function.__name__}({parameters}){arrow}: ..."


def render_hooks() -> str:
    """The hook reference: an overview table, then every hook with its contract."""
    from idsync import hookspecs as module

    links = _model_links("hooks")
    specs = hookspecs()
    out = [_md(module.__doc__, links).split("\n\n", 1)[1] + "\n"]
    out.append("| hook | group | answered by | contract |\n|---|---|---|---|")
    for section, name, function in specs:
        options = getattr(function, f"{module.PROJECT}_spec")
        who = "one plugin" if options.get("firstresult") else "every plugin"
        summary = _cell(_md(_first_paragraph(function.__doc__ or ""), links))
        out.append(f"| [`{name}`](#{_anchor(name)}) | {section} | {who} | {summary} |")
    out.append("")
    current = None
    for section, name, function in specs:
        if section != current:
            current = section
            out.append(f"## {section.capitalize()} {{#{_section_anchor(section)}}}\n")
        options = getattr(function, f"{module.PROJECT}_spec")
        out.append(f"### {name} {{#{_anchor(name)}}}\n")
        out.append(f"```python\n{_hook_signature(function)}\n```\n")
        if options.get("firstresult"):
            out.append("*Answered by one plugin:* the first non-`None` result is used.\n")
        else:
            out.append("*Called on every plugin that implements it;* all results are used.\n")
        out.append(_md(function.__doc__, links) + "\n")
    return "\n".join(out)


# --- the command line -----------------------------------------------------------------------


_METAVARS: dict[Any, str] = {int: "INTEGER", float: "NUMBER", Path: "PATH", str: "TEXT"}


def cli_commands() -> list[tuple[str, Callable[..., Any]]]:
    """``(name, function)`` for every ``idsync`` command, in the order they are defined."""
    from idsync.cli import app

    out = []
    for info in app.registered_commands:
        callback = info.callback
        if callback is None:
            continue
        name = info.name or callback.__name__.removesuffix("_cmd").replace("_", "-")
        out.append((name, callback))
    return out


def _parameters(function: Callable[..., Any]) -> list[dict[str, Any]]:
    """The typer arguments and options of a command function."""
    import typer.models

    hints = typing.get_type_hints(function, include_extras=True)
    out = []
    for name, parameter in inspect.signature(function).parameters.items():
        hint = hints.get(name)
        extras = typing.get_args(hint)[1:] if typing.get_origin(hint) is typing.Annotated else ()
        info = next((e for e in extras if isinstance(e, typer.models.ParameterInfo)), None)
        if info is None:
            continue
        default = parameter.default
        if isinstance(info, typer.models.ArgumentInfo):
            out.append(
                {
                    "names": [info.metavar or name.upper()],
                    "argument": True,
                    "required": default is inspect.Parameter.empty,
                    "default": None if default is inspect.Parameter.empty else default,
                    "help": info.help or "",
                    "repeatable": False,
                }
            )
            continue
        # In Annotated[..., typer.Option("--json")] the first declaration arrives as default.
        first = [info.default] if isinstance(info.default, str) else []
        decls = [d for d in (*first, *(info.param_decls or ())) if d.startswith("-")]
        names = decls or [f"--{name.replace('_', '-')}"]
        typ = typing.get_args(hint)[0]
        inner = [a for a in typing.get_args(typ) if a is not type(None)] or [typ]
        repeatable = any(typing.get_origin(a) is list for a in (typ, *inner))
        base = typing.get_args(inner[0])[0] if typing.get_origin(inner[0]) is list else inner[0]
        flag = typ is bool
        out.append(
            {
                "names": names,
                "argument": False,
                "required": default is inspect.Parameter.empty,
                "default": _option_default(default, flag),
                "help": info.help or "",
                "repeatable": repeatable,
                "value": None if flag else _METAVARS.get(base, "TEXT"),
            }
        )
    return out


def _option_default(default: Any, flag: bool) -> Any:
    if default is inspect.Parameter.empty or (flag and not default):
        return None
    return "on" if flag else default


def _parameters_table(parameters: list[dict[str, Any]]) -> str:
    rows = ["| argument or option | default | what |", "|---|---|---|"]
    for p in parameters:
        if p["argument"]:
            label = f"`{p['names'][0]}`"
        else:
            value = f" {p['value']}" if p.get("value") else ""
            label = ", ".join(f"`{n}{value}`" for n in p["names"])
        default = "required" if p["required"] else ""
        if p["default"] is not None:
            default = f"`{p['default']}`"
        what = p["help"]
        if p["repeatable"] and "repeatable" not in what.lower():
            what += " Repeatable."
        rows.append(f"| {label} | {_cell(default)} | {_cell(what)} |")
    return "\n".join(rows)


def _usage(name: str, parameters: list[dict[str, Any]]) -> str:
    words = ["idsync", "[GLOBAL OPTIONS]", name]
    if any(not p["argument"] for p in parameters):
        words.append("[OPTIONS]")
    words += [
        p["names"][0] if p["required"] else f"[{p['names'][0]}]"
        for p in parameters
        if p["argument"]
    ]
    return " ".join(words)


def render_cli() -> str:
    """The command reference: global options, then one section per command."""
    from idsync.cli import app

    callback = app.registered_callback.callback if app.registered_callback else None
    out = []
    if callback is not None:
        out.append("## Global options {#global-options}\n")
        out.append("They go before the command: `idsync --log-json run pipeline.yaml`.\n")
        out.append(_parameters_table(_parameters(callback)) + "\n")
    for name, function in cli_commands():
        parameters = _parameters(function)
        out.append(f"## idsync {name} {{#{name}}}\n")
        out.append(_md(function.__doc__) + "\n")
        out.append(f"```console\n{_usage(name, parameters)}\n```\n")
        if parameters:
            out.append(_parameters_table(parameters) + "\n")
    return "\n".join(out)


# --- mkdocs events --------------------------------------------------------------------------

RENDERERS: dict[str, Callable[[], str]] = {
    "pipeline": render_pipeline,
    "hooks": render_hooks,
    "model": render_model,
    "cli": render_cli,
}


def render(markdown: str) -> str:
    """``markdown`` with every ``<!-- idsync:generate NAME -->`` marker replaced."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in RENDERERS:
            raise ValueError(f"unknown generated section {name!r}: use {sorted(RENDERERS)}")
        return RENDERERS[name]()

    return MARKER.sub(replace, markdown)


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Fill the generated sections of a page."""
    return render(markdown)
