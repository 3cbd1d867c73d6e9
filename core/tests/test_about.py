"""``idsync plugins --about NAME``: capabilities, permission kinds and settings, readable as
text, JSON and Markdown (a table that stays a table whatever the settings' types)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Literal

import pytest
from idsync.about import describe, settings_rows, type_name
from idsync.model import PluginAbout, PluginKind
from idsync.plugins import PluginInfo, Registry
from pydantic import BaseModel, ConfigDict, Field, SecretStr


class Retry(BaseModel):
    attempts: int = 3


class DemoSettings(BaseModel):
    """Every kind of setting a plugin has."""

    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(description="The API root.")
    token: SecretStr = Field(description="API token.")
    proxy_password: SecretStr | None = Field(default=None, description="Proxy password.")
    mode: Literal["fast", "safe"] = Field(default="safe", description="fast | safe:\nhow to go.")
    branch: str | None = Field(default=None, description="A branch, or none.")
    fields: list[str] = Field(default_factory=lambda: ["email"], description="Fields to clear.")
    limits: dict[str, int] = Field(default_factory=dict, description="Limits per kind.")
    retry: Retry = Field(default_factory=Retry, description="Retry policy.")


def _demo(error: str | None = None) -> PluginInfo:
    about = PluginAbout(
        name="demo",
        kind=PluginKind.TARGET,
        version="1.2.3",
        summary="A demo target",
        settings=DemoSettings,
        permission_kinds=["group", "role"],
    )
    return PluginInfo(
        name="demo",
        package="idsync-demo",
        version="1.2.3",
        about=None if error else about,
        hooks=[] if error else ["idsync_about", "idsync_correlate", "idsync_create"],
        error=error,
    )


def _cells(row: str) -> list[str]:
    """The cells of a Markdown table row, split on pipes that are not escaped."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]]


@pytest.mark.parametrize(
    ("annotation", "shown"),
    [
        (str, "str"),
        (SecretStr, "secret"),
        (SecretStr | None, "secret"),
        (str | None, "str | None"),
        (Literal["v2", "classic"], "one of: v2, classic"),
        (list[str], "list[str]"),
        (dict[str, int], "dict[str, int]"),
        (Retry, "Retry"),
        (float | int, "float | int"),
    ],
)
def test_type_names_read_well(annotation: Any, shown: str) -> None:
    assert type_name(annotation) == shown


def test_rows_give_choices_hide_secret_defaults_and_keep_descriptions_on_one_line() -> None:
    rows = {r["name"]: r for r in settings_rows(_demo())}
    assert rows["mode"]["choices"] == ["fast", "safe"]
    assert rows["mode"]["description"] == "fast | safe: how to go."
    assert rows["branch"]["choices"] is None
    assert rows["proxy_password"] == {
        "name": "proxy_password",
        "type": "secret",
        "required": False,
        "default": None,
        "secret": True,
        "choices": None,
        "description": "Proxy password.",
    }
    assert rows["fields"]["default"] == ["email"]
    assert rows["retry"]["default"] == {"attempts": 3}
    assert rows["token"]["required"] is True


def test_markdown_is_a_table_of_five_columns_with_capabilities_and_kinds() -> None:
    text = describe(_demo(), "markdown")
    assert text.startswith("# demo\n\nA demo target\n")
    assert "- capabilities: correlate, create\n" in text
    assert "- permission kinds: `group`, `role`\n" in text
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + len(DemoSettings.model_fields)
    assert all(len(_cells(row)) == 5 for row in rows), rows
    by_name = {_cells(r)[0]: _cells(r) for r in rows[2:]}
    assert by_name["`branch`"][1] == r"str \| None"
    assert by_name["`mode`"] == [
        "`mode`",
        "one of: fast, safe",
        "no",
        "`safe`",
        r"fast \| safe: how to go.",
    ]
    assert by_name["`token`"][1:4] == ["secret", "yes", ""]


def test_text_and_json_show_capabilities_kinds_and_settings() -> None:
    text = describe(_demo(), "text")
    assert text.splitlines()[:4] == [
        "demo (target) idsync-demo 1.2.3",
        "  A demo target",
        "  capabilities: correlate, create",
        "  permission kinds: group, role",
    ]
    assert "    mode: one of: fast, safe = 'safe'  fast | safe: how to go." in text
    assert "    token: secret (required)  API token." in text
    data = json.loads(describe(_demo(), "json"))
    assert data["capabilities"] == ["correlate", "create"]
    assert data["permission_kinds"] == ["group", "role"]
    assert [r["name"] for r in data["settings"]] == list(DemoSettings.model_fields)


def test_a_plugin_that_failed_to_load_shows_its_error_in_every_format() -> None:
    broken = _demo(error="ImportError: no module named 'demo_sdk'")
    assert "  error: ImportError: no module named 'demo_sdk'" in describe(broken, "text")
    assert "- error: ImportError: no module named 'demo_sdk'" in describe(broken, "markdown")
    data = json.loads(describe(broken, "json"))
    assert data["error"] == "ImportError: no module named 'demo_sdk'"
    assert data["settings"] == []
    assert data["permission_kinds"] == []


def test_unknown_formats_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        describe(_demo(), "xml")


@pytest.mark.parametrize("name", ["afas", "topdesk", "helloid"])
def test_installed_plugins_render_as_valid_markdown(
    cli: Callable[..., Any], registry: Registry, name: str
) -> None:
    result = cli("plugins", "--about", name, "--format", "markdown")
    assert result.exit_code == 0
    rows = [line for line in result.stdout.splitlines() if line.startswith("|")]
    info = registry.get(name)
    assert info is not None
    assert info.about is not None
    assert len(rows) == 2 + len(info.about.settings.model_fields)
    assert all(len(_cells(row)) == 5 for row in rows), [r for r in rows if len(_cells(r)) != 5]
    assert f"- capabilities: {', '.join(info.capabilities)}" in result.stdout
