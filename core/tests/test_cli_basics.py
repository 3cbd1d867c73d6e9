"""The ``idsync`` command's basics: check (exit 0 / 2 / 1 with --connect), config-schema,
option errors that exit 2 with one line instead of a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

INSTALLED = ", ".join(sorted(entry_points(group="idsync.plugins").names))
"""The plugins installed next to the core, as the messages list them."""

Write = Callable[[str, str], Path]
Cli = Callable[..., Any]

ENV = {"DESK_PASSWORD": "desk-pw-2e8b41", "HID_KEY": "hid-k-73f0aa", "HID_SECRET": "hid-s-19cd02"}

GOOD = """\
sources:
  desk:
    plugin: topdesk
    settings:
      base_url: https://acme.topdesk.net
      username: operator
      password: ${DESK_PASSWORD}
targets:
  helloid:
    plugin: helloid
    settings:
      base_url: https://acme.helloid.com
      api_key: ${HID_KEY}
      api_secret: ${HID_SECRET}
    account:
      correlate: {person: external_id, account: userAttributes.employeeId}
      mapping:
        userName: "{{ person.name.first | slug }}.{{ person.name.full_family | slug }}"
        userAttributes.employeeId: "{{ person.external_id }}"
"""

BAD = """\
sources:
  desk:
    plugin: topdesk
    settings:
      base_url: acme.topdesk.net
      username: operator
      password: "typed-into-the-file"
  hr:
    plugin: absent
targets:
  helloid:
    plugin: helloid
    settings:
      base_url: https://acme.helloid.com
      api_key: ${NOT_SET_KEY}
      api_secret: ${HID_SECRET}
    account:
      when: "contract.fte >"
"""


def test_check_exits_0_on_a_good_file(write: Write, cli: Cli) -> None:
    path = write("pipeline.yaml", GOOD)
    result = cli("check", str(path), env=ENV)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"ok {path}: 1 source(s), 1 target(s)\n"
    assert result.stderr == ""


def test_check_warns_about_what_turns_a_safeguard_off(write: Write, cli: Cli) -> None:
    risky = GOOD.replace(
        "      correlate: {person: external_id, account: userAttributes.employeeId}\n", ""
    ).replace("    account:\n", "    thresholds: {disable: off}\n    account:\n")
    path = write("pipeline.yaml", risky)
    result = cli("check", str(path), env=ENV)
    assert result.exit_code == 0, result.stderr
    warnings = " ".join(result.stderr.split())
    assert "targets.helloid.account.correlate: not set" in warnings
    assert "targets.helloid.thresholds: turned off: disable" in warnings


def test_check_exits_2_and_prints_every_problem_on_its_own_line(write: Write, cli: Cli) -> None:
    path = write("bad.yaml", BAD)
    result = cli("check", str(path), env={"HID_SECRET": ENV["HID_SECRET"], "COLUMNS": "50"})
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"{path}: 5 problem(s)"
    problems = dict(line.removeprefix(f"  {path}: ").split(": ", 1) for line in lines[1:])
    assert len(problems) == len(lines) - 1 == 5
    assert problems == {
        "targets.helloid.settings.api_key": "environment variable NOT_SET_KEY is not set",
        "sources.desk.settings.password": "a secret must come from the environment: write ${VARIABLE}",
        "sources.desk.settings.base_url": problems["sources.desk.settings.base_url"],
        "sources.hr.plugin": f"no plugin named 'absent' (installed: {INSTALLED})",
        "targets.helloid.account.when": "rule 'contract.fte >' does not compile: unexpected 'end of template'",
    }
    assert "https://" in problems["sources.desk.settings.base_url"]
    assert "typed-into-the-file" not in result.stderr


def test_check_prints_text_that_looks_like_markup_as_it_is(write: Write, cli: Cli) -> None:
    text = GOOD.replace("userName:", '"[/x]":')
    text = text.replace("{{ person.name.first | slug }}", "{{ person. }}")
    path = write("[weird].yaml", text)
    result = cli("check", str(path), env=ENV)
    assert result.exit_code == 2
    assert f"  {path}: targets.helloid.account.mapping.[/x]: template " in result.stderr


def test_check_reports_yaml_and_file_errors_with_exit_2(write: Write, cli: Cli) -> None:
    path = write("p.yaml", "sources: [\n")
    result = cli("check", str(path))
    assert result.exit_code == 2
    assert f"{path}: (top): not valid YAML: line 2, column 1" in result.stderr
    missing = cli("check", str(path.with_name("absent.yaml")))
    assert missing.exit_code == 2
    assert "cannot read the file: No such file or directory" in missing.stderr


def test_check_connect_fails_when_a_system_cannot_be_reached(write: Write, cli: Cli) -> None:
    """--connect calls each plugin's connection test; nothing listens on port 9 of loopback."""
    text = GOOD.replace("https://acme.topdesk.net", "http://127.0.0.1:9")
    text = text.replace("https://acme.helloid.com", "http://127.0.0.1:9")
    text = text.replace("      password:", "      retries: 0\n      password:")
    text = text.replace("      api_key:", "      retries: 0\n      api_key:")
    path = write("p.yaml", text)
    result = cli("check", "--connect", str(path), env=ENV)
    assert result.exit_code == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ok ")
    assert lines[1].startswith("  failed sources.desk (topdesk): TOPdesk is unreachable")
    assert lines[2].startswith("  failed targets.helloid (helloid): HelloID at ")
    assert "could not be reached" in lines[2]
    assert lines[3].startswith("  ? state: sqlite:///idsync.db does not exist yet")
    assert len(lines) == 4
    for value in ENV.values():
        assert value not in result.stdout + result.stderr


def _walk(node: Any) -> list[Any]:
    out = [node]
    if isinstance(node, dict):
        for value in node.values():
            out.extend(_walk(value))
    elif isinstance(node, list):
        for value in node:
            out.extend(_walk(value))
    return out


def test_config_schema_is_json_schema_with_the_plugins_settings(cli: Cli) -> None:
    result = cli("config-schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["type"] == "object"
    assert schema["required"] == ["sources"]
    assert schema["additionalProperties"] is False
    assert {"state", "sources", "targets", "name", "timezone", "notifications"} == set(
        schema["properties"]
    )
    defs = schema["$defs"]

    # Structurally valid: every reference resolves, every type is a JSON Schema type,
    # every required name is a declared property.
    types = {"object", "array", "string", "integer", "number", "boolean", "null"}
    refs = 0
    for node in _walk(schema):
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("$ref"), str):
            refs += 1
            ref = node["$ref"]
            assert ref.startswith("#/$defs/"), ref
            assert ref.removeprefix("#/$defs/") in defs, ref
        if isinstance(node.get("type"), str):
            assert node["type"] in types, node
        if isinstance(node.get("required"), list) and isinstance(node.get("properties"), dict):
            assert set(node["required"]) <= set(node["properties"]), node
    assert refs > 10

    helloid = defs["HelloIDSettings"]
    assert helloid["additionalProperties"] is False
    assert {"base_url", "api_key", "api_secret"} <= set(helloid["required"])
    assert helloid["properties"]["api_key"]["writeOnly"] is True
    assert helloid["properties"]["api_key"]["description"]
    assert "token" in defs["AfasSettings"]["properties"]
    assert "password" in defs["TopdeskSettings"]["properties"]

    branches = defs["TargetConfig"]["allOf"]
    by_plugin = {b["if"]["properties"]["plugin"]["const"]: b["then"] for b in branches}
    assert set(by_plugin) == set(entry_points(group="idsync.plugins").names)
    assert by_plugin["helloid"] == {"properties": {"settings": {"$ref": "#/$defs/HelloIDSettings"}}}
    assert "allOf" in defs["SourceConfig"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--log-level", "LOUD", "plugins"], "--log-level 'LOUD' is not one of"),
        (["plan", "p.yaml", "--as-of", "2024-13-01"], "--as-of '2024-13-01' is not a date"),
        (["plugins", "--about", "helloid", "--format", "xml"], "--format 'xml' is not one of"),
    ],
)
def test_bad_options_exit_2_with_one_line(cli: Cli, args: list[str], message: str) -> None:
    result = cli(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {message}")
    assert "Traceback" not in result.stderr


def test_help_lists_the_commands(cli: Cli) -> None:
    result = cli("--help", env={"COLUMNS": "120"})
    assert result.exit_code == 0
    for command in ("plugins", "check", "config-schema", "plan", "run", "audit", "person"):
        assert f" {command} " in result.stdout
