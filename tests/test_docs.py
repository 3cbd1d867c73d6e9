"""The documentation keeps up with the code.

The reference pages hold their generated parts in the repository, written by cog from the code
(``docs/_cog/reference.py``, ``make reference``); the tutorial holds the example plugin's code
the same way. ``cog --check`` fails here when a page is stale. The pages are then checked
against the code from an independent angle: pluggy's view of the hook specifications, click's
view of the commands, pydantic's JSON Schema of the pipeline file. These tests also check what
``mkdocs build --strict`` would only find later (pages missing from the navigation), that the
expression examples hold, and the tutorial's plugin, whose own tests (the contract kit's
included) must pass.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy
import pytest
import yaml
from idsync import hookspecs
from idsync.config import Pipeline
from idsync.expressions import Expressions
from idsync.model import Person
from idsync.sandbox import hookspecs as sandbox_hookspecs

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIAL = DOCS / "writing-plugins" / "phonebook"


COG = ["-I", str(DOCS / "_cog")]
"""cog's options: the generator module's directory on the import path."""


@pytest.fixture(scope="module")
def ref() -> ModuleType:
    """The docs' generator module, loaded from its file as cog imports it."""
    path = DOCS / "_cog" / "reference.py"
    spec = importlib.util.spec_from_file_location("idsync_docs_reference", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _page(name: str) -> str:
    return (DOCS / "reference" / name).read_text(encoding="utf-8")


def _cogged() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*.md") if "[[[cog" in p.read_text(encoding="utf-8"))


def test_the_generated_parts_of_the_pages_are_up_to_date() -> None:
    pages = _cogged()
    assert {p.relative_to(DOCS).as_posix() for p in pages} >= {
        "reference/cli.md",
        "reference/hooks.md",
        "reference/model.md",
        "reference/pipeline.md",
        "writing-plugins/tutorial.md",
        "writing-plugins/contract-kit.md",
        "writing-plugins/http.md",
    }
    result = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "--diff", *COG, *map(str, pages)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        "pages are stale: run `make reference` and commit them\n"
        + result.stdout[-6000:]
        + result.stderr[-2000:]
    )


@pytest.fixture(scope="module")
def mkdocs_config() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    return config


def _section(markdown: str, anchor: str) -> str:
    """The text of the ``##`` section whose heading carries ``{#anchor}``."""
    match = re.search(rf"^## .*\{{#{re.escape(anchor)}\}}$", markdown, re.M)
    assert match, f"no section #{anchor}"
    rest = markdown[match.end() :]
    following = re.search(r"^## ", rest, re.M)
    return rest[: following.start()] if following else rest


# --- hooks ----------------------------------------------------------------------------------


def _pluggy_hooks() -> dict[str, ModuleType]:
    """Every hook pluggy knows from the specification modules, with its module: the
    production contract and the sandbox's own."""
    out = {}
    for module in (hookspecs, sandbox_hookspecs):
        manager = pluggy.PluginManager(hookspecs.PROJECT)
        manager.add_hookspecs(module)
        out |= {n: module for n in vars(manager.hook) if n.startswith(f"{hookspecs.PROJECT}_")}
    return out


def test_every_hookspec_has_a_docstring() -> None:
    undocumented = [
        name
        for name, module in _pluggy_hooks().items()
        if not (getattr(module, name).__doc__ or "").strip()
    ]
    assert not undocumented, f"hooks without a docstring: {undocumented}"


def test_the_sandbox_hook_is_outside_the_production_contract() -> None:
    hooks = _pluggy_hooks()
    assert hooks["idsync_sandbox"] is sandbox_hookspecs
    assert not hasattr(hookspecs, "idsync_sandbox")


def test_the_hook_reference_has_every_hookspec(ref: ModuleType) -> None:
    page = _page("hooks.md")
    assert {function.name for _, function in ref.hookspecs()} == set(_pluggy_hooks())
    links = ref.model_links("model.md")
    for name, module in _pluggy_hooks().items():
        assert f"### {name} {{#{ref.anchor(name)}}}" in page, f"{name} has no section"
        shown = ref.md(getattr(module, name).__doc__, links)
        assert shown in page, f"{name}: its docstring is not shown"


# --- the command line -----------------------------------------------------------------------


def test_every_command_has_a_section_in_the_cli_reference(ref: ModuleType) -> None:
    from idsync.cli import app
    from typer.main import get_command

    group: Any = get_command(app)
    page = _page("cli.md")
    for name, command in group.commands.items():
        heading = f"### `idsync {name}`"
        assert heading in page, f"idsync {name} has no section"
        section = page.split(heading, 1)[1].split("\n### ", 1)[0]
        for parameter in command.params:
            for opt in parameter.opts:
                if opt.startswith("-"):
                    assert f"`{opt}" in section, f"idsync {name} {opt} is not in its section"


def test_every_command_of_a_group_has_a_section_in_the_cli_reference() -> None:
    from idsync.cli import app
    from typer.main import get_command

    group: Any = get_command(app)
    page = _page("cli.md")
    groups = {name: c for name, c in group.commands.items() if hasattr(c, "commands")}
    assert "users" in groups
    for name, sub in groups.items():
        for sub_name, command in sub.commands.items():
            heading = f"# `idsync {name} {sub_name}`"
            assert heading in page, f"idsync {name} {sub_name} has no section"
            section = page.split(heading, 1)[1].split("\n#", 1)[0]
            for parameter in command.params:
                for opt in parameter.opts:
                    if opt.startswith("-"):
                        assert f"`{opt}" in section, f"idsync {name} {sub_name} {opt} is missing"


def test_the_global_options_are_in_the_cli_reference(ref: ModuleType) -> None:
    from idsync.cli import app
    from typer.main import get_command

    group: Any = get_command(app)
    section = _page("cli.md").split("\n### ", 1)[0]
    for parameter in group.params:
        for opt in parameter.opts:
            assert f"`{opt}" in section, f"global option {opt} is not in the CLI reference"


# --- the pipeline file ----------------------------------------------------------------------


def test_every_pipeline_field_is_in_the_pipeline_reference(ref: ModuleType) -> None:
    page = _page("pipeline.md")
    schema = Pipeline.model_json_schema()
    models = {"Pipeline": schema, **schema.get("$defs", {})}
    for section in ref.builtin_sections().values():  # the built-in plugins' sections
        extra = section.model_json_schema()
        models |= {section.__name__: extra, **extra.get("$defs", {})}
    for name, model in models.items():
        if "properties" not in model:
            continue  # an enum
        section = _section(page, name.lower())
        for field in model["properties"]:
            assert f"| `{field}` |" in section, f"{name}.{field} is not in the pipeline reference"


def test_every_pipeline_field_is_described(ref: ModuleType) -> None:
    bare = [
        f"{model.__name__}.{name}"
        for model, _ in ref.config_models()
        for name in model.model_fields
        if not ref.field_description(model, name).strip()
    ]
    assert not bare, (
        f"pipeline fields without a description: {bare}; give each a docstring under the "
        "field (or a description) in its model"
    )


def test_field_notes_describe_fields_that_exist(ref: ModuleType) -> None:
    models = {model.__name__: model for model, _ in ref.config_models()}
    stale = [
        key
        for key in ref.FIELD_NOTES
        if key.partition(".")[0] not in models
        or key.partition(".")[2] not in models[key.partition(".")[0]].model_fields
    ]
    assert not stale, f"FIELD_NOTES name fields that no longer exist: {stale}"
    assert set(ref.MODEL_NOTES) <= set(models)


def test_every_model_class_is_in_the_data_model_reference(ref: ModuleType) -> None:
    from idsync import model

    page = _page("model.md")
    for name in model.__all__:
        if inspect.isclass(getattr(model, name)):
            assert f"## {name} {{#{name.lower()}}}" in page, f"{name} is not in the data model"


# --- the site -------------------------------------------------------------------------------


def _nav_files(nav: Any) -> list[str]:
    if isinstance(nav, list):
        return [f for item in nav for f in _nav_files(item)]
    if isinstance(nav, dict):
        return [f for value in nav.values() for f in _nav_files(value)]
    return [nav] if isinstance(nav, str) else []


def _pages(config: dict[str, Any]) -> set[str]:
    excluded = [line.strip() for line in config.get("exclude_docs", "").splitlines() if line]
    return {
        path.relative_to(DOCS).as_posix()
        for path in DOCS.rglob("*.md")
        if not any(path.relative_to(DOCS).as_posix().startswith(e) for e in excluded)
    }


def test_mkdocs_fails_on_broken_links_and_anchors(mkdocs_config: dict[str, Any]) -> None:
    validation = mkdocs_config["validation"]
    assert mkdocs_config["strict"] is True
    for key in ("not_found", "anchors", "unrecognized_links", "absolute_links"):
        assert validation["links"][key] == "warn", f"validation.links.{key}"
    for key in ("not_found", "omitted_files"):
        assert validation["nav"][key] == "warn", f"validation.nav.{key}"
    assert "hooks" not in mkdocs_config, "the pages hold their reference: no build-time hooks"


def test_every_page_is_in_the_nav_and_every_nav_entry_exists(
    mkdocs_config: dict[str, Any],
) -> None:
    listed = set(_nav_files(mkdocs_config["nav"]))
    pages = _pages(mkdocs_config)
    assert pages <= listed, f"pages missing from the nav in mkdocs.yml: {sorted(pages - listed)}"
    missing = listed - pages
    assert not missing, f"nav entries without a page: {sorted(missing)}"


def test_the_expression_examples_hold() -> None:
    page = (DOCS / "reference" / "expressions.md").read_text(encoding="utf-8")
    person_yaml = re.search(r"<!-- example-person -->\s*```yaml\n(.*?)```", page, re.S)
    table = re.search(r"<!-- examples -->(.*?)<!-- /examples -->", page, re.S)
    assert person_yaml
    assert table
    person = Person.model_validate(yaml.safe_load(person_yaml.group(1)))
    contract = person.contracts[0]
    context = {
        "person": person,
        "contract": contract,
        "contracts": [contract],
        "department": contract.department,
        "as_of": dt.date(2026, 12, 1),
        "accounts": {"helloid": {"userName": "elise.vandam@example.org"}},
    }
    expressions = Expressions()
    rows = re.findall(r"^\| `(.+?)` \| (.+?) \|$", table.group(1), re.M)
    assert len(rows) > 10
    for expression, shown in rows:
        if "{{" in expression:
            got = expressions.render(expression, context)
            expected = "" if shown == "(empty)" else shown.strip("`")
        else:
            got = str(expressions.test(expression, context)).lower()
            expected = shown
        assert got == expected, f"{expression} gives {got!r}, the page says {shown!r}"


# --- the tutorial's plugin ------------------------------------------------------------------


def test_the_tutorial_plugin_passes_its_own_tests() -> None:
    env = {**os.environ, "PYTHONPATH": str(TUTORIAL / "src")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", str(TUTORIAL / "tests")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\b\d+ passed\b", result.stdout)
