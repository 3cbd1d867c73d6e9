"""Sections of the pipeline file that plugins add (``idsync_pipeline_sections``): validated with
the plugin's model under the file's rules, read back with ``Pipeline.section``, and never
taking one of the core's own keys."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from idsync.config import ConfigError, load_pipeline
from idsync.hookspecs import hookimpl
from idsync.plugins import Registry
from idsync.secrets import redact
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from rig import HR, MemorySource


class Export(BaseModel):
    """An observer plugin's own section."""

    model_config = ConfigDict(extra="forbid")
    folder: str
    every: int = Field(default=1, ge=1)
    token: SecretStr | None = None


class Exporter:
    """Observes, and reads ``export:``; it also asks for ``state``, which is the core's."""

    @hookimpl
    def idsync_pipeline_sections(self) -> Mapping[str, type[BaseModel]]:
        return {"export": Export, "state": Export}

    @hookimpl
    def idsync_run_finished(self, summary: Any) -> None:
        return None


@pytest.fixture
def registry() -> Registry:
    hr = HR()
    return Registry(
        entry_points=False,
        extra={"memhr": lambda settings=None: MemorySource(hr, settings), "exporter": Exporter},
    )


def _file(tmp_path: Path, section: str) -> Path:
    path = tmp_path / "pipeline.yaml"
    text = f"state: sqlite:///{tmp_path / 'state.db'}\nsources:\n  hr: {{plugin: memhr}}\n"
    path.write_text(text + section, encoding="utf-8")
    return path


def test_a_plugins_section_is_validated_and_read_back(registry: Registry, tmp_path: Path) -> None:
    path = _file(tmp_path, 'export: {folder: /srv/out, token: "${EXPORT_TOKEN}"}\n')
    pipeline = load_pipeline(path, registry, env={"EXPORT_TOKEN": "exp-0f1e2d3c4b"})
    section = pipeline.section("export")
    assert isinstance(section, Export)
    assert (section.folder, section.every) == ("/srv/out", 1)
    assert redact("sent exp-0f1e2d3c4b") == "sent ***"  # its secret is redacted everywhere
    # The core keeps its own keys: the plugin's "state" is not taken from the file.
    assert pipeline.state == f"sqlite:///{tmp_path / 'state.db'}"
    assert pipeline.section("state") is None
    assert load_pipeline(_file(tmp_path, ""), registry, env={}).section("export") is None


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("export: {every: 0}", ("export.folder", "Field required")),
        ("export: {folder: x, every: 0}", ("export.every", "greater than or equal to 1")),
        (
            "export: {folder: x, token: plain}",
            ("export.token", "a secret must come from the environment: write ${VARIABLE}"),
        ),
        ("exports: {folder: x}", ("exports", "Extra inputs are not permitted")),
    ],
)
def test_a_plugins_section_is_held_to_the_files_rules(
    registry: Registry, tmp_path: Path, section: str, problem: tuple[str, str]
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_pipeline(_file(tmp_path, section + "\n"), registry, env={})
    where, message = problem
    assert any(p == where and message in m for p, m in raised.value.errors), raised.value.errors
