"""The pipeline file: loading with the installed plugins' settings, and errors that say where."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from idsync.config import ConfigError, Threshold, load_pipeline
from idsync.model import ActionKind
from idsync.plugins import Registry
from idsync.secrets import MASK, redact
from pydantic import SecretStr, ValidationError

INSTALLED = ", ".join(sorted(entry_points(group="idsync.plugins").names))
"""The plugins installed next to the core, as the messages list them."""

Write = Callable[[str, str], Path]

AFAS_TOKEN = "<token><version>1</version><data>af4s-t0ken-data-1234</data></token>"
ENV = {
    "AFAS_TOKEN": AFAS_TOKEN,
    "HELLOID_API_KEY": "hid-key-5c1f0a",
    "HELLOID_API_SECRET": "hid-secret-9e7d2b",
    "HELLOID_HOST": "enyoi.helloid.com",
}

GOOD = """\
name: nightly
state: sqlite:///state.db
sources:
  hr:
    plugin: afas
    settings:
      base_url: https://12345.rest.afas.online/profitrestservices/
      token: ${AFAS_TOKEN}
    thresholds:
      removed: "5%"
      added: 10
      emptied: {count: 3, percent: 2.5}
targets:
  helloid:
    plugin: helloid
    settings:
      base_url: https://${HELLOID_HOST}
      api_key: ${HELLOID_API_KEY}
      api_secret: ${HELLOID_API_SECRET}
      page_size: 250
    account:
      when: "contract.department.code != 'EXT'"
      correlate: {person: external_id, account: userAttributes.employeeId}
      mapping:
        userName: "{{ person.name.first | slug }}.{{ person.name.full_family | slug }}"
        firstName: "{{ person.name.first }}"
        userAttributes.employeeId: "{{ person.external_id }}"
        isLocked: false
      unique:
        userName:
          - "{{ person.name.first | slug }}.{{ person.name.full_family | slug }}"
          - "{{ person.name.first[:1] | slug }}.{{ person.name.full_family | slug }}"
      lifecycle: {create_days_before_start: 10, enable_days_before_start: 1}
    permissions:
      - grant: "group:Everyone"
      - when: "contract.department.code == 'ICT'"
        dynamic: "group:dept_{{ contract.department.code }}"
    resources: ["group:department_{{ department.code }}"]
    thresholds:
      delete: 10
      disable: "5%"
"""


def _errors(exc: ConfigError) -> dict[str, str]:
    """``{key path: problem}``; a path that appears twice fails the test."""
    paths = [path for path, _ in exc.errors]
    assert len(paths) == len(set(paths)), exc.errors
    return dict(exc.errors)


def _load_error(path: Path, registry: Registry, env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_pipeline(path, registry, env=ENV if env is None else env)
    assert info.value.file == str(path)
    return info.value


# --- a good file ----------------------------------------------------------------------


def test_good_file_loads_with_plugin_settings(write: Write, registry: Registry) -> None:
    path = write("pipeline.yaml", GOOD)
    pipeline = load_pipeline(path, registry, env=ENV)

    assert pipeline.label == "nightly"
    assert pipeline.path == path
    assert pipeline.state == "sqlite:///state.db"
    assert pipeline.sources["hr"].plugin == "afas"

    afas = pipeline.settings_for("hr")
    assert type(afas).__name__ == "AfasSettings"
    assert afas.base_url == "https://12345.rest.afas.online/profitrestservices"  # type: ignore[attr-defined]
    assert isinstance(afas.token, SecretStr)  # type: ignore[attr-defined]
    assert afas.token.get_secret_value() == AFAS_TOKEN  # type: ignore[attr-defined]
    assert AFAS_TOKEN not in repr(afas)

    helloid = pipeline.settings_for("helloid")
    assert type(helloid).__name__ == "HelloIDSettings"
    assert helloid.base_url == "https://enyoi.helloid.com/api/v1"  # type: ignore[attr-defined]
    assert helloid.api_secret.get_secret_value() == ENV["HELLOID_API_SECRET"]  # type: ignore[attr-defined]
    assert helloid.page_size == 250  # type: ignore[attr-defined]

    target = pipeline.targets["helloid"]
    assert target.account.correlate is not None
    assert target.account.correlate.account == "userAttributes.employeeId"
    assert target.account.mapping["isLocked"] is False
    assert target.account.lifecycle.create_days_before_start == 10
    assert target.account.lifecycle.delete_days_after_disable == 30
    assert [r.grant or r.dynamic for r in target.permissions] == [
        "group:Everyone",
        "group:dept_{{ contract.department.code }}",
    ]
    assert target.thresholds[ActionKind.DELETE].count == 10
    assert target.thresholds[ActionKind.DISABLE].percent == 5.0
    thresholds = pipeline.sources["hr"].thresholds
    assert thresholds.removed is not None
    assert thresholds.removed.percent == 5.0
    assert thresholds.added is not None
    assert thresholds.added.count == 10
    assert thresholds.emptied == Threshold(count=3, percent=2.5)


def test_resolved_secrets_are_registered_for_redaction(write: Write, registry: Registry) -> None:
    env = ENV | {"HELLOID_API_KEY": "plain-name-key-7f3a", "HELLOID_API_SECRET": "zz-4b9c-01"}
    text = GOOD.replace("${HELLOID_API_SECRET}", "${HID_S}")  # a name that does not look secret
    load_pipeline(write("p.yaml", text), registry, env=env | {"HID_S": "zz-4b9c-01"})
    line = f"token={AFAS_TOKEN} key=plain-name-key-7f3a secret=zz-4b9c-01"
    assert redact(line) == f"token={MASK} key={MASK} secret={MASK}"


def test_secret_looking_variables_are_redacted_wherever_they_are_used(
    write: Write, registry: Registry
) -> None:
    """A ``${…TOKEN}`` in a plain setting is still a secret; a ``${…HOST}`` is not."""
    text = GOOD.replace("      page_size: 250\n", "      source: ${DIRECTORY_TOKEN}\n")
    env = ENV | {"DIRECTORY_TOKEN": "dir-t0k-6a1f", "HELLOID_HOST": "tenant-8842.helloid.com"}
    pipeline = load_pipeline(write("p.yaml", text), registry, env=env)
    assert pipeline.settings_for("helloid").source == "dir-t0k-6a1f"  # type: ignore[attr-defined]
    assert redact("src=dir-t0k-6a1f") == f"src={MASK}"
    assert redact("host=tenant-8842.helloid.com") == "host=tenant-8842.helloid.com"


def test_environment_is_read_when_no_env_is_given(
    write: Write, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    pipeline = load_pipeline(write("p.yaml", GOOD), registry)
    assert pipeline.settings_for("helloid").api_key.get_secret_value() == ENV["HELLOID_API_KEY"]  # type: ignore[attr-defined]


def test_label_falls_back_to_the_file_stem(write: Write, registry: Registry) -> None:
    pipeline = load_pipeline(
        write("payroll.yaml", GOOD.replace("name: nightly\n", "")), registry, env=ENV
    )
    assert pipeline.label == "payroll"


# --- every error at once --------------------------------------------------------------

BAD = """\
sources:
  hr:
    plugin: afas
    settings:
      base_url: ftp://12345.rest.afas.online
      token: "<token><version>1</version><data>written-in-the-file</data></token>"
  desk:
    plugin: nosuch
targets:
  helloid:
    plugin: helloid
    settings:
      base_url: https://enyoi.helloid.com
      api_key: ${NOT_SET_KEY}
      api_secret: literally-secret
      colour: blue
    account:
      when: "contract.department.code =="
      mapping:
        userName: "{{ person.name.first | slug "
        mail: "{{ person.contact.email }}"
      unique:
        userName: ["{% if %}"]
    permissions:
      - when: "person.external_id in"
        grant: "group:Everyone"
      - dynamic: "group:{{ contract.title.code "
    resources: ["group:{{ department.code }"]
"""


def test_bad_file_reports_every_error_at_once(write: Write, registry: Registry) -> None:
    path = write("bad.yaml", BAD)
    errors = _errors(_load_error(path, registry, env={}))
    assert set(errors) == {
        "sources.hr.settings.base_url",
        "sources.hr.settings.token",
        "sources.desk.plugin",
        "targets.helloid.settings.api_key",
        "targets.helloid.settings.api_secret",
        "targets.helloid.settings.colour",
        "targets.helloid.account.when",
        "targets.helloid.account.mapping.userName",
        "targets.helloid.account.mapping.mail",
        "targets.helloid.account.unique.userName.0",
        "targets.helloid.permissions.0.when",
        "targets.helloid.permissions.1.dynamic",
        "targets.helloid.resources.0",
    }
    assert "must start with https://" in errors["sources.hr.settings.base_url"]
    secret_message = "a secret must come from the environment: write ${VARIABLE}"
    assert errors["sources.hr.settings.token"] == secret_message
    assert errors["targets.helloid.settings.api_secret"] == secret_message
    assert (
        errors["targets.helloid.settings.api_key"] == "environment variable NOT_SET_KEY is not set"
    )
    assert errors["targets.helloid.settings.colour"] == "Extra inputs are not permitted"
    assert errors["sources.desk.plugin"] == (f"no plugin named 'nosuch' (installed: {INSTALLED})")
    assert errors["targets.helloid.account.when"].startswith(
        "rule 'contract.department.code ==' does not compile"
    )
    assert errors["targets.helloid.account.mapping.userName"].startswith("template ")
    assert errors["targets.helloid.account.mapping.mail"].startswith(
        "the helloid target has no account attribute 'mail'"
    )
    assert "does not compile" in errors["targets.helloid.resources.0"]


def test_error_text_has_file_key_path_and_problem_and_no_secret(
    write: Write, registry: Registry
) -> None:
    path = write("bad.yaml", BAD)
    text = str(_load_error(path, registry, env={}))
    assert (
        f"{path}: targets.helloid.settings.api_key: environment variable NOT_SET_KEY is not set"
        in (text.splitlines())
    )
    assert "literally-secret" not in text
    assert "written-in-the-file" not in text


def test_missing_environment_variables_each_reported(write: Write, registry: Registry) -> None:
    errors = _errors(
        _load_error(write("p.yaml", GOOD), registry, env={"HELLOID_HOST": "x.helloid.com"})
    )
    assert errors == {
        "sources.hr.settings.token": "environment variable AFAS_TOKEN is not set",
        "targets.helloid.settings.api_key": "environment variable HELLOID_API_KEY is not set",
        "targets.helloid.settings.api_secret": "environment variable HELLOID_API_SECRET is not set",
    }


def test_a_literal_secret_is_an_error_even_when_valid(write: Write, registry: Registry) -> None:
    text = GOOD.replace("${HELLOID_API_KEY}", "hid-key-literal")
    errors = _errors(_load_error(write("p.yaml", text), registry))
    assert errors == {
        "targets.helloid.settings.api_key": "a secret must come from the environment: write ${VARIABLE}"
    }


def test_structure_errors_are_all_reported_with_their_paths(
    write: Write, registry: Registry
) -> None:
    text = """\
sources: {}
targets:
  t:
    plugin: helloid
    enabled: sometimes
    concurrency: 0
    thresholds: {delete: lots, explode: 3}
    account:
      lifecycle: {create_days_before_start: 0, enable_days_before_start: 5}
    permissions:
      - grant: Everyone
      - {}
typo: 1
"""
    errors = _errors(_load_error(write("p.yaml", text), registry))
    assert set(errors) == {
        "sources",
        "targets.t.enabled",
        "targets.t.concurrency",
        "targets.t.thresholds.delete",
        "targets.t.thresholds.explode",
        "targets.t.account.lifecycle",
        "targets.t.permissions.0",
        "targets.t.permissions.1",
        "typo",
    }
    assert "at least one source is required" in errors["sources"]
    assert (
        "'lots' is neither a count (10) nor a percentage ('5%')"
        in errors["targets.t.thresholds.delete"]
    )
    assert (
        "create_days_before_start must be at least enable_days_before_start"
        in (errors["targets.t.account.lifecycle"])
    )
    assert "'Everyone' is not of the form 'kind:name'" in errors["targets.t.permissions.0"]
    assert "exactly one of 'grant' or 'dynamic'" in errors["targets.t.permissions.1"]
    assert errors["typo"] == "Extra inputs are not permitted"


def test_plugin_in_the_wrong_role_and_names_used_twice(write: Write, registry: Registry) -> None:
    wrong_role = GOOD.replace("plugin: afas", "plugin: helloid", 1)
    errors = _errors(_load_error(write("a.yaml", wrong_role), registry))
    assert errors == {"sources.hr.plugin": "plugin 'helloid' is not a source (target)"}
    twice = GOOD.replace("  helloid:\n    plugin: helloid", "  hr:\n    plugin: helloid")
    errors = _errors(_load_error(write("b.yaml", twice), registry))
    assert "names used for a source and a target: ['hr']" in errors[""]


def test_yaml_syntax_error_gives_line_and_column(write: Write, registry: Registry) -> None:
    path = write("p.yaml", "sources:\n  hr:\n    plugin: afas\n   settings: [\n")
    errors = _load_error(path, registry).errors
    assert len(errors) == 1
    where, problem = errors[0]
    assert where == ""
    assert problem.startswith("not valid YAML: line 4, column 4: ")
    unclosed = write("q.yaml", 'sources:\n  hr: {plugin: "afas\n')
    ((_, problem),) = _load_error(unclosed, registry).errors
    assert "line 3, column 1" in problem


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "", "42\n"])
def test_a_file_that_is_not_a_mapping(write: Write, registry: Registry, text: str) -> None:
    error = _load_error(write("p.yaml", text), registry)
    assert error.errors == [("", "the file must be a mapping with 'sources' and 'targets'")]


def test_unreadable_and_non_utf8_files(tmp_path: Path, registry: Registry) -> None:
    missing = _load_error(tmp_path / "absent.yaml", registry)
    assert missing.errors == [("", "cannot read the file: No such file or directory")]
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("sources: {hr: {plugin: 'caf\xe9'}}\n".encode("latin-1"))
    assert _load_error(latin, registry).errors == [("", "the file is not UTF-8 text")]


# --- thresholds -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "count", "percent"),
    [
        ("5%", None, 5.0),
        (" 12.5% ", None, 12.5),
        (10, 10, None),
        ("10", 10, None),
        (0, 0, None),
        ({"count": 3, "percent": 2.5}, 3, 2.5),
        ({"percent": 100}, None, 100.0),
    ],
)
def test_thresholds_parse(value: Any, count: int | None, percent: float | None) -> None:
    threshold = Threshold.model_validate(value)
    assert (threshold.count, threshold.percent) == (count, percent)


@pytest.mark.parametrize(
    "value", [True, "lots", "x%", "5 %%", -1, "150%", {"count": -2}, {"each": 1}]
)
def test_bad_thresholds_are_rejected(value: Any) -> None:
    with pytest.raises(ValidationError):
        Threshold.model_validate(value)


def test_threshold_limit_takes_the_stricter_of_count_and_percent() -> None:
    both = Threshold(count=10, percent=5)
    assert both.limit(100) == 5
    assert both.limit(1000) == 10
    assert Threshold(percent=2.5).limit(99) == 2
    assert str(both) == "10 or 5%"


# --- safeguards: thresholds, the grace for missing persons, the time zone -----------------


@pytest.mark.parametrize(
    ("old", "new", "where", "problem"),
    [
        (
            'removed: "5%"',
            "removed: {floor: 5}",
            "sources.hr.thresholds.removed",
            "give a count, a percentage",
        ),
        (
            'removed: "5%"',
            'removed: "150%"',
            "sources.hr.thresholds.removed.percent",
            "less than or equal to 100",
        ),
        ('removed: "5%"', 'removed: "lots"', "sources.hr.thresholds.removed", "neither a count"),
        (
            "delete: 10",
            "delete: {count: 2, percent: 10, floor: 5}",
            "targets.helloid.thresholds.delete",
            "floor 5 is above count 2",
        ),
        ("delete: 10", "leavers: 10", "targets.helloid.thresholds.leavers", "'leaver'"),
        (
            "delete: 10",
            "delete: -1",
            "targets.helloid.thresholds.delete.count",
            "greater than or equal to 0",
        ),
        (
            "name: nightly",
            "name: nightly\ntimezone: Europe/Amsterdm",
            "timezone",
            "unknown time zone 'Europe/Amsterdm'",
        ),
        (
            '    thresholds:\n      removed: "5%"',
            '    missing: {days: -1}\n    thresholds:\n      removed: "5%"',
            "sources.hr.missing.days",
            "greater than or equal to 0",
        ),
        (
            '    thresholds:\n      removed: "5%"',
            '    missing: {imports: 0}\n    thresholds:\n      removed: "5%"',
            "sources.hr.missing.imports",
            "greater than or equal to 1",
        ),
    ],
)
def test_a_safeguard_setting_that_makes_no_sense_is_refused_with_its_key(
    write: Write, registry: Registry, old: str, new: str, where: str, problem: str
) -> None:
    assert old in GOOD
    errors = _errors(_load_error(write("p.yaml", GOOD.replace(old, new, 1)), registry))
    assert set(errors) == {where}
    assert problem in errors[where]


def test_safeguards_are_on_unless_turned_off_and_turning_one_off_is_a_warning(
    write: Write, registry: Registry
) -> None:
    bare = GOOD.replace(
        '      removed: "5%"\n      added: 10\n      emptied: {count: 3, percent: 2.5}\n',
        "      added: 10\n",
    )
    pipeline = load_pipeline(write("p.yaml", bare), registry, env=ENV)
    source = pipeline.sources["hr"]
    assert str(source.thresholds.removed) == "5% (at least 5)"
    assert str(source.thresholds.emptied) == "10% (at least 5)"
    assert (source.missing.days, source.missing.imports) == (3, 2)
    target = pipeline.targets["helloid"]
    assert set(target.active_thresholds()) == {"delete", "disable", "revoke"}
    assert str(target.thresholds["revoke"]) == "10% (at least 10)"
    assert pipeline.warnings() == []

    off = bare.replace("      added: 10\n", "      removed: off\n").replace(
        '    thresholds:\n      delete: 10\n      disable: "5%"\n', "    thresholds: off\n"
    )
    pipeline = load_pipeline(write("p.yaml", off), registry, env=ENV)
    assert pipeline.sources["hr"].thresholds.removed is None
    assert pipeline.targets["helloid"].active_thresholds() == {}
    warnings = dict(pipeline.warnings())
    assert set(warnings) == {"sources.hr.thresholds", "targets.helloid.thresholds"}
    assert "turned off: removed" in warnings["sources.hr.thresholds"]
    assert "turned off: disable, delete, revoke" in warnings["targets.helloid.thresholds"]


def test_today_is_the_date_in_the_pipelines_time_zone(write: Write, registry: Registry) -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    for zone in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):  # UTC+14 and UTC-11
        text = GOOD.replace("name: nightly", f"name: nightly\ntimezone: {zone}")
        pipeline = load_pipeline(write("p.yaml", text), registry, env=ENV)
        assert pipeline.today() == dt.datetime.now(ZoneInfo(zone)).date()
