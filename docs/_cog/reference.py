"""The reference pages' generated parts, written into the pages by cog (``make reference``).

Each reference page (``docs/reference/*.md``) holds a ``[[[cog ... ]]]`` block that calls one
function here; cog writes its Markdown below the block, so the page reads complete in the
repository and on the site, and ``tests/test_docs.py`` fails when a page is stale
(``cog --check``). The facts come from well-kept tools, not from parsing of our own:

- griffe reads the hook specifications, the models and their attribute docstrings
  (:mod:`idsync.hookspecs` and the sandbox's :mod:`idsync.sandbox.hookspecs`,
  :mod:`idsync.model`, :mod:`idsync.config`, :mod:`idsync.http`);
- pydantic says which fields a model has and their defaults;
- typer writes the command-line reference itself (``typer.cli.get_docs_for_click``).

What is left here is layout: headings, tables and links.
"""

from __future__ import annotations

import enum
import functools
import inspect
import json
import re
import textwrap
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import griffe
from pydantic import BaseModel
from pydantic.fields import FieldInfo

__all__ = [
    "FIELD_NOTES",
    "MODEL_NOTES",
    "SPEC_MODULES",
    "builtin_sections",
    "class_reference",
    "cli",
    "config_models",
    "field_description",
    "hooks",
    "hookspecs",
    "include",
    "model",
    "model_classes",
    "pipeline",
]

_ROLE = re.compile(r":(?:class|meth|func|mod|attr|data|obj):`~?([^`]+)`")
_LITERAL = re.compile(r"``([^`]+)``")


def md(text: str | None, links: dict[str, str] | None = None) -> str:
    """A docstring in reStructuredText habits as Markdown: ``x`` and :class:`~a.B` become
    code, linked when ``links`` knows the name."""
    if not text:
        return ""
    links = links or {}

    def role(match: re.Match[str]) -> str:
        name = match.group(1).rsplit(".", 1)[-1].removesuffix("()")
        return f"[`{name}`]({links[name]})" if name in links else f"`{name}`"

    return _LITERAL.sub(r"`\1`", _ROLE.sub(role, inspect.cleandoc(text)))


def _cell(text: str) -> str:
    """One line, fit for a table cell: pipes outside code spans escaped."""
    parts = " ".join(text.split()).split("`")
    return "`".join(p if i % 2 else p.replace("|", "\\|") for i, p in enumerate(parts))


def anchor(name: str) -> str:
    """The anchor of a heading written ``{#anchor}``."""
    return name.lower().replace("_", "-")


@functools.cache
def _module(path: str) -> griffe.Module:
    module = griffe.load(path)
    assert isinstance(module, griffe.Module)
    return module


def _griffe_class(cls: type) -> griffe.Class | None:
    found = _module(cls.__module__).members.get(cls.__name__)
    return found if isinstance(found, griffe.Class) else None


def _annotation(cls: type, name: str, links: dict[str, str]) -> str:
    """A field's type as the code writes it, with the names of documented classes linked."""
    found = _griffe_class(cls)
    member = found.members.get(name) if found is not None else None
    text = str(member.annotation) if member is not None and member.annotation else "Any"
    text = re.sub(r"^Annotated\[([^,\[]+), .*\]$", r"\1", text)  # the type, not its metadata
    return re.sub(
        r"\b[A-Z]\w*\b",
        lambda m: f"[{m.group(0)}]({links[m.group(0)]})" if m.group(0) in links else m.group(0),
        text.replace("|", "or"),
    )


def _attribute_doc(cls: type, name: str) -> str:
    for klass in cls.__mro__:
        found = _griffe_class(klass) if klass.__module__.startswith("idsync") else None
        member = found.members.get(name) if found is not None else None
        if member is not None and member.docstring is not None:
            return str(member.docstring.value)
    return ""


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    factory = field.default_factory
    if factory is not None:
        name = getattr(factory, "__name__", "computed")
        if name == "today":
            return "today"
        if name.startswith("_"):  # a private factory: show what it makes
            return f"`{json.dumps(factory(), default=str)}`"
        return f"`{name}()`"
    value = field.default.value if isinstance(field.default, enum.Enum) else field.default
    return f"`{json.dumps(value, default=str)}`"


FIELD_NOTES: dict[str, str] = {
    "Pipeline.state": "Where idsync keeps what it knows and did: a SQLAlchemy URL, "
    "`sqlite:///idsync.db` (a file, relative to the directory idsync runs in) or "
    "`postgresql+psycopg://…`. `${VARIABLE}` references work here too. Many pipelines in one "
    "PostgreSQL database: `{url: …, per_pipeline: true}` keeps this one in the schema "
    "`idsync_<name>` ([many pipelines in one database](../operations/state-store.md#shared)).",
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
    "SourceConfig.enabled": "`false` leaves the source out of every run. Its last accepted "
    "snapshot stands: its persons are not taken as gone.",
    "TargetConfig.plugin": "The plugin, by the name `idsync plugins` lists.",
    "TargetConfig.settings": "The plugin's settings, validated by its settings model (see "
    "the plugin's page). Secrets only as `${VARIABLE}`.",
    "TargetConfig.enabled": "`false` leaves the target out of plans and runs.",
    "TargetConfig.account": "Who gets an account, with which attributes, and when.",
    "TargetConfig.permissions": "Permission rules: static grants and dynamic ones.",
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
    "Threshold.count": "The most persons (for a source: persons; for `resource`: resources) allowed.",
    "Threshold.percent": "The most allowed, as a percentage of the base.",
    "SourceThresholds.removed": "Persons present in the last snapshot and missing from this import.",
    "SourceThresholds.added": "Persons that are new since the last snapshot.",
    "SourceThresholds.emptied": "Persons with a field that had a value and is empty now.",
}
"""Descriptions of fields whose model carries none yet, by ``Model.field``. The model's own
description or attribute docstring always wins; ``tests/test_docs.py`` fails on a key that names
no field, so these cannot outlive the fields they describe."""

MODEL_NOTES: dict[str, str] = {
    "Pipeline": "Plugins may add top-level sections of their own (`idsync_pipeline_sections`): "
    "the built-in notifier adds [`notifications`](#notifications).",
    "Threshold": "Written as a count (`10`), a percentage (`5%`), a mapping with `count`, "
    "`percent` and `floor`, or `off`.",
}
"""A line added under a model's docstring, by model name (tested like ``FIELD_NOTES``)."""


def _limits(field: FieldInfo) -> str:
    words = []
    for item in field.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(item, attr, None)
            if value is not None:
                words.append(f"{sign} {value}")
        if getattr(item, "min_length", None) == 1:
            words.append("not empty")
    return ", ".join(words)


def field_description(model: type[BaseModel], name: str) -> str:
    """A field's description: its own, else its attribute docstring, else ``FIELD_NOTES``."""
    field = model.model_fields[name]
    return (
        field.description
        or _attribute_doc(model, name)
        or FIELD_NOTES.get(f"{model.__name__}.{name}", "")
    )


def _fields_table(model: type[BaseModel], links: dict[str, str], key: str = "key") -> str:
    rows = [f"| {key} | type | default | description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        kind = _annotation(model, name, links)
        limits = _limits(field)
        if limits:
            kind = f"{kind}, {limits}"
        text = md(field_description(model, name), links)
        rows.append(f"| `{name}` | {_cell(kind)} | {_cell(_default(field))} | {_cell(text)} |")
    return "\n".join(rows)


# --- the pipeline file ----------------------------------------------------------------------


def _nested(annotation: Any, path: str) -> Iterator[tuple[type[BaseModel], str]]:
    """The models inside a field's type, each with the key path it sits at."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        yield annotation, path
    elif origin is dict and args:
        label = (
            "<kind>" if inspect.isclass(args[0]) and issubclass(args[0], enum.Enum) else "<name>"
        )
        yield from _nested(args[1], f"{path}.{label}")
    elif origin is list and args:
        yield from _nested(args[0], f"{path}[]")
    else:
        for arg in args:
            yield from _nested(arg, path)


def builtin_sections() -> dict[str, type[BaseModel]]:
    """The pipeline-file sections idsync's built-in plugins add, by key."""
    import pluggy
    from idsync.builtin import BUILTIN_PLUGINS
    from idsync.plugins import new_manager

    manager: pluggy.PluginManager = new_manager()
    for name, factory in BUILTIN_PLUGINS.items():
        manager.register(factory(), name=name)
    return {k: v for part in manager.hook.idsync_pipeline_sections() for k, v in part.items()}


def config_models() -> list[tuple[type[BaseModel], list[str]]]:
    """Every model of the pipeline file, top down, with the key paths where each appears
    (the built-in plugins' sections last)."""
    from idsync.config import Pipeline

    found: dict[type[BaseModel], list[str]] = {}

    def visit(model: type[BaseModel], path: str) -> None:
        seen = model in found
        found.setdefault(model, []).append(path)
        if not seen:
            for name, field in model.model_fields.items():
                for sub, where in _nested(field.annotation, f"{path}.{name}" if path else name):
                    visit(sub, where)

    visit(Pipeline, "")
    for key, model in builtin_sections().items():
        visit(model, key)
    return list(found.items())


def pipeline() -> str:
    """The pipeline file reference: one section per model, from the file's top down."""
    models = config_models()
    links = {m.__name__: f"#{anchor(m.__name__)}" for m, _ in models}
    out = []
    for model, paths in models:
        name = model.__name__
        where = ", ".join(f"`{p}`" for p in paths if p) or "the top level"
        out += [f"## {name} {{#{anchor(name)}}}", "", f"*In the file:* {where}", ""]
        out += [md(model.__doc__, links), ""]
        if name in MODEL_NOTES:
            out += [MODEL_NOTES[name], ""]
        out += [_fields_table(model, links), ""]
    return "\n".join(out)


# --- the data model -------------------------------------------------------------------------

_MODEL_ORDER = [
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


def model_classes() -> list[type]:
    """Every class :mod:`idsync.model` exports, persons first, then what hooks exchange."""
    from idsync import model as module

    exported = [getattr(module, n) for n in module.__all__ if inspect.isclass(getattr(module, n))]
    known = [c for n in _MODEL_ORDER for c in exported if c.__name__ == n]
    return known + sorted((c for c in exported if c not in known), key=lambda c: c.__name__)


def model_links(prefix: str = "") -> dict[str, str]:
    """Links to the data model's sections (``prefix``: the page, from elsewhere)."""
    return {c.__name__: f"{prefix}#{anchor(c.__name__)}" for c in model_classes()}


def _members(cls: type, links: dict[str, str]) -> list[str]:
    """Public properties and methods defined on the class itself, with their docstrings."""
    found = _griffe_class(cls)
    lines = []
    for name, member in found.members.items() if found is not None else ():
        prop = "property" in member.labels
        if name.startswith("_") or not (prop or member.is_function):
            continue
        doc = md(member.docstring.value if member.docstring else "", links)
        if prop:
            title = f"`{name}` (property)"
        else:
            assert isinstance(member, griffe.Function)
            params = [_parameter(p) for p in member.parameters if p.name not in ("self", "cls")]
            title = f"`{name}({', '.join(params)})`"
        lines.append(f"- {title}: {_cell(doc)}")
    return lines


def _parameter(parameter: griffe.Parameter) -> str:
    """One parameter as a signature writes it: ``*args``, ``**kwargs``, ``name=default``."""
    if parameter.kind is griffe.ParameterKind.var_positional:
        return f"*{parameter.name}"
    if parameter.kind is griffe.ParameterKind.var_keyword:
        return f"**{parameter.name}"
    default = parameter.default
    return parameter.name if default is None else f"{parameter.name}={default}"


def model() -> str:
    """The data model reference: fields, properties and methods of every exported class."""
    links = model_links()
    module = _module("idsync.model")
    out = []
    for alias in ("Text", "Identifier"):
        doc = module.members[alias].docstring
        out.append(f"- `{alias}`: {md(doc.value if doc else '', links)}")
    out.append("")
    for cls in model_classes():
        name = cls.__name__
        out += [f"## {name} {{#{anchor(name)}}}", "", md(cls.__doc__, links), ""]
        if issubclass(cls, enum.Enum):
            out += [", ".join(f"`{m.value}`" for m in cls), ""]
            continue
        if issubclass(cls, BaseModel) and cls.model_fields:
            out += [_fields_table(cls, links, key="field"), ""]
        members = _members(cls, links)
        if members:
            out += [*members, ""]
    return "\n".join(out)


def class_reference(
    path: str, names: list[str], links: dict[str, str] | None = None, level: int = 2
) -> str:
    """Classes of the module at ``path``: the docstring, the constructor, every public method
    (class headings at ``level``, methods one below)."""
    module = _module(path)
    links = links or {}
    out = []
    for name in names:
        cls = module.members[name]
        assert isinstance(cls, griffe.Class)
        out += [
            f"{'#' * level} {name} {{#{anchor(name)}}}",
            "",
            md(cls.docstring.value if cls.docstring else "", links),
            "",
        ]
        for member_name, member in cls.members.items():
            if not isinstance(member, griffe.Function):
                continue
            if member_name.startswith("_") and member_name != "__init__":
                continue
            params = ", ".join(_parameter(p) for p in member.parameters if p.name != "self")
            title = name if member_name == "__init__" else f"{name}.{member_name}"
            out += [
                f"{'#' * (level + 1)} `{title}({params})` "
                f"{{#{anchor(name)}-{anchor(member_name.strip('_'))}}}",
                "",
            ]
            if member.docstring:
                out += [md(member.docstring.value, links), ""]
    return "\n".join(out)


# --- hooks ----------------------------------------------------------------------------------

_SECTION = re.compile(r"^# --- (.+?) -+$")


SPEC_MODULES = ("idsync.hookspecs", "idsync.sandbox.hookspecs")
"""The hook specification modules: the production contract, then the sandbox's own."""


def hookspecs(path: str | None = None) -> list[tuple[str, griffe.Function]]:
    """``(section, function)`` for every hook specification of the module ``path`` (by
    default, of every module in :data:`SPEC_MODULES`), in the order of the module."""
    if path is None:
        return [spec for each in SPEC_MODULES for spec in hookspecs(each)]
    module = _module(path)
    source = (
        module.filepath.read_text(encoding="utf-8") if not isinstance(module.filepath, list) else ""
    ).splitlines()
    functions = sorted(
        (
            m
            for m in module.members.values()
            if isinstance(m, griffe.Function) and m.name.startswith("idsync_")
        ),
        key=lambda f: f.lineno or 0,
    )
    out = []
    for function in functions:
        section = "hooks"
        for line in source[: (function.lineno or 1) - 1]:
            heading = _SECTION.match(line)
            if heading:
                section = heading.group(1)
        out.append((section, function))
    return out


def _hook_signature(function: griffe.Function) -> str:
    parameters = ", ".join(f"{p.name}: {p.annotation}" for p in function.parameters)
    return f"def {function.name}({parameters}) -> {function.returns}: ..."


def _first_paragraph(text: str) -> str:
    return text.strip().split("\n\n", 1)[0]


def hooks() -> str:
    """The hook reference: an overview table, then every hook with its contract (the
    sandbox's development hook last, introduced by its module's docstring)."""
    import importlib

    from idsync import hookspecs as module

    links = model_links("model.md")
    specs = [(path, *spec) for path in SPEC_MODULES for spec in hookspecs(path)]
    modules = {path: importlib.import_module(path) for path in SPEC_MODULES}
    out = [md(module.__doc__, links).split("\n\n", 1)[1], ""]
    out += ["| hook | group | answered by | contract |", "|---|---|---|---|"]
    for path, section, function in specs:
        options = getattr(getattr(modules[path], function.name), f"{module.PROJECT}_spec")
        who = "one plugin" if options.get("firstresult") else "every plugin"
        doc = function.docstring.value if function.docstring else ""
        summary = _cell(md(_first_paragraph(doc), links))
        out.append(
            f"| [`{function.name}`](#{anchor(function.name)}) | {section} | {who} | {summary} |"
        )
    out.append("")
    current = None
    for path, section, function in specs:
        if section != current:
            current = section
            out += [
                f"## {section.capitalize()} {{#{re.sub(r'[^a-z0-9]+', '-', section.lower())}}}",
                "",
            ]
            if path != SPEC_MODULES[0]:
                out += [f"*Specified in* `{path}`. " + md(modules[path].__doc__, links), ""]
        options = getattr(getattr(modules[path], function.name), f"{module.PROJECT}_spec")
        out += [f"### {function.name} {{#{anchor(function.name)}}}", ""]
        out += ["```python", _hook_signature(function), "```", ""]
        if options.get("firstresult"):
            out += ["*Answered by one plugin:* the first non-`None` result is used.", ""]
        else:
            out += ["*Called on every plugin that implements it;* all results are used.", ""]
        out += [md(function.docstring.value if function.docstring else "", links), ""]
    return "\n".join(out)


# --- code from files -----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def _lines(spec: str) -> list[str]:
    path, _, section = spec.partition(":")
    lines = (ROOT / path).read_text(encoding="utf-8").splitlines()
    if section:
        start = next(i for i, line in enumerate(lines) if f"--8<-- [start:{section}]" in line)
        end = next(i for i, line in enumerate(lines) if f"--8<-- [end:{section}]" in line)
        lines = textwrap.dedent("\n".join(lines[start + 1 : end])).splitlines()
    body = [line for line in lines if "--8<-- [" not in line]
    while body and not body[-1].strip():
        body.pop()
    return body


def include(*specs: str, lang: str = "python", title: str = "", indent: int = 0) -> str:
    """A fenced code block of files (``path``, from the repository root) or parts of them
    (``path:section``: the lines between the ``--8<-- [start:section]`` and
    ``--8<-- [end:section]`` markers, which are left out). The files stay the ones that are
    tested; the page shows them."""
    body = [line for spec in specs for line in _lines(spec)]
    head = f'```{lang} title="{title}"' if title else f"```{lang}"
    pad = " " * indent
    return "\n".join(f"{pad}{line}".rstrip() for line in [head, *body, "```"])


# --- the contract kit's mutation catalogue -----------------------------------------------


def mutants() -> str:
    """The kit's mutation catalogue (``core/tests/test_contract_kit.py``) as a table."""
    import importlib.util
    import sys

    path = ROOT / "core" / "tests" / "test_contract_kit.py"
    spec = importlib.util.spec_from_file_location("idsync_kit_catalogue", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    catalogue = module.MUTANTS
    rows = [
        f"The catalogue holds **{len(catalogue)} broken plugins**; the kit fails every one, "
        "with a message that names the hook and the broken promise.",
        "",
        "| broken plugin | what it breaks | failed by |",
        "|---|---|---|",
    ]
    for mutant in catalogue:
        check = f"`{mutant.check}`"
        if mutant.param:
            check = f"`{mutant.check}[{mutant.param.removeprefix('idsync_')}]`"
        rows.append(f"| `{mutant.id}` | {_cell(mutant.broken)} | {check} |")
    return "\n".join(rows)


# --- the command line -----------------------------------------------------------------------


def cli() -> str:
    """The command reference, as typer writes it, one heading level down."""
    import typer
    from idsync.cli import app
    from typer.cli import get_docs_for_click
    from typer.main import get_command

    command = get_command(app)
    text = get_docs_for_click(obj=command, ctx=typer.Context(command), name="idsync")
    return re.sub(r"^(#+) ", r"#\1 ", text.strip(), flags=re.M)
