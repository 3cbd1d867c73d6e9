"""The command line as operations use it: versioned JSON, plain output that reads at any
width, dates in the audit, exit codes that tell "nothing to do" from "changes pending",
unknown ids that say so, a blocked person with the reason, errors on stderr, validated
approvals, and a config schema that accepts every example."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from idsync import __version__
from support import ROOT, Org, edit_pipeline

JOINED, MOVED = "2026-01-20", "2026-02-02"
OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")
DATE = re.compile(r"^\d{4}-\d\d-\d\d$")


def _moments(data: Any, key: str = "") -> list[tuple[str, str]]:
    """Every string that looks like a date or a moment, with its key."""
    if isinstance(data, dict):
        return [m for k, v in data.items() for m in _moments(v, k)]
    if isinstance(data, list):
        return [m for v in data for m in _moments(v, key)]
    if isinstance(data, str) and re.match(r"^\d{4}-\d\d-\d\d", data):
        return [(key, data)]
    return []


def test_every_json_output_is_versioned_with_one_time_format(org: Org) -> None:
    p = str(org.pipeline)
    org.write_pipeline("    thresholds: {disable: 0}")
    outputs = {
        "plan": org.json("plan", p, "--as-of", JOINED, check=4),
        "run": org.json("run", p, "--as-of", JOINED),
        "held-run": org.json("run", p, "--as-of", MOVED, check=3),
        "audit": org.json("audit", p, "--limit", "5"),
        "person": org.json("person", p, "1002"),
        "status": org.json("status", p),
        "held": org.json("held", p),
        "reconcile": org.json("reconcile", p, "--as-of", MOVED, check=0),  # all in order
        "plugins": org.json("plugins"),
        "check": org.json("check", p, "--connect"),
    }
    for name, data in outputs.items():
        assert isinstance(data, dict), name
        assert next(iter(data)) == "schema_version", name
        assert data["schema_version"] == 1, name
        for key, value in _moments(data):
            assert OFFSET.match(value) or DATE.match(value), (name, key, value)
    assert _moments(outputs["audit"]["records"])  # there are moments to check
    at = dt.datetime.fromisoformat(outputs["audit"]["records"][0]["at"])
    assert at.utcoffset() is not None
    assert outputs["person"]["last_actions"][0]["at"].endswith("+00:00")


def test_without_a_terminal_tables_are_never_wrapped(org: Org) -> None:
    p = str(org.pipeline)
    org.idsync("run", p, "--as-of", JOINED)
    org.env["COLUMNS"] = "40"
    audit = org.idsync("audit", p, "--person", "1002")
    rows = [line for line in audit.stdout.splitlines() if "1002" in line]
    assert rows
    for row in rows:  # each record on one line, whatever the width asked for
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row), row
    assert any(re.search(r"created \w+ HelloID user a\.vanderberg@example\.org", r) for r in rows)
    plan = org.idsync("plan", p, "--as-of", MOVED, check=4)
    reasons = [
        line for line in plan.stdout.splitlines() if "last contract ended 2026-01-31" in line
    ]
    assert reasons
    assert all(line.lstrip().startswith("1003") for line in reasons)  # never folded


def test_plan_says_by_its_exit_code_whether_there_is_anything_to_do(org: Org) -> None:
    p = str(org.pipeline)
    assert org.idsync("plan", p, "--as-of", JOINED, check=4).returncode == 4
    org.idsync("run", p, "--as-of", JOINED)
    quiet = org.json("plan", p, "--as-of", JOINED, check=0)
    assert quiet["actions"] == []
    assert quiet["exit_code"] == 0
    org.write_pipeline("    thresholds: {disable: 0}")
    assert org.json("plan", p, "--as-of", MOVED, check=3)["exit_code"] == 3


def test_unknown_ids_say_so(org: Org) -> None:
    p = str(org.pipeline)
    org.idsync("run", p, "--as-of", JOINED)
    person = org.idsync("audit", p, "--person", "9999", check=1)
    assert "person '9999' is not in the state store" in person.stderr
    run = org.idsync("audit", p, "--run", "42", check=1)
    assert "there is no run 42 in the state store" in run.stderr
    target = org.idsync("audit", p, "--target", "helloidd", check=2)
    assert "no target named 'helloidd' in the pipeline (targets: helloid, afas)" in target.stderr
    for result in (person, run, target):
        assert result.stdout == ""
    # A known person (an external, linked in afas only) with no action in helloid: empty.
    assert org.json("audit", p, "--person", "1006", "--target", "helloid")["records"] == []


def test_person_shows_a_block_and_its_reason(org: Org) -> None:
    p = str(org.pipeline)
    org.idsync("run", p, "--as-of", JOINED)
    with org.afas.data.lock:  # HR empties a name: the row can no longer be a person
        for row in org.afas.data.people:
            if row["Medewerker"] == "1003":
                row["Geboortenaam"] = ""
        org.afas.data.changed()
    org.idsync("run", p, "--as-of", JOINED)
    view = org.json("person", p, "1003")
    [block] = view["blocked"]
    assert block["source"] == "hr"
    assert "family name" in block["problem"]
    assert OFFSET.match(block["since"])
    text = org.idsync("person", p, "1003")
    assert "blocked in hr: " in text.stdout
    assert "family name" in text.stdout
    assert "nothing changes for this person until the source row is fixed" in text.stdout


def test_errors_go_to_stderr_and_a_failed_source_prints_no_table(org: Org) -> None:
    p = str(org.pipeline)
    org.afas.app.faults.error_rate = 1.0
    result = org.idsync("run", p, "--as-of", JOINED, check=1)
    assert "nothing to do" not in result.stdout
    assert "error:" not in result.stdout
    assert "error:" in result.stderr


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("nosys:revoke", "no source or target named 'nosys' (hr, helloid, afas)"),
        ("helloid:import", "helloid is a target; approve one of its action kinds"),
        ("hr:delete", "hr is a source; what a source holds is its import (hr:import)"),
        ("delet", "cannot approve 'delet'"),
    ],
)
def test_every_approve_value_is_validated_against_the_pipeline(
    org: Org, value: str, problem: str
) -> None:
    result = org.idsync("run", str(org.pipeline), "--as-of", JOINED, "--approve", value, check=2)
    assert problem in result.stderr
    assert org.helloid_sim.log.all() == []
    assert not org.db.exists()


def test_version(org: Org) -> None:
    result = org.idsync("--version")
    lines = result.stdout.splitlines()
    assert lines[0] == f"idsync {__version__}"
    assert any(line.startswith("  helloid ") and "(idsync-helloid)" in line for line in lines)


def test_progress_is_counted_in_actions_and_never_passes_the_total(org: Org) -> None:
    """The bar counts the plan's actions once each: a create that links counts once, not as
    the link and the update it became."""
    from idsync.config import load_pipeline
    from idsync.engine import Engine, Progress
    from idsync.plugins import Registry

    seen: dict[str, list[int]] = {}

    class Count(Progress):
        def enforcing(self, target: str, total: int) -> Any:
            seen[target] = [0, total]

            def advance(_action: Any, _status: Any) -> None:
                seen[target][0] += 1

            return advance

    registry = Registry()
    pipeline = load_pipeline(org.pipeline, registry, env=org.env)
    engine = Engine(pipeline, registry)
    try:
        engine.run(dt.date.fromisoformat(JOINED), progress=Count(), time_travel=True)
    finally:
        engine.close()
    assert seen["helloid"][0] == seen["helloid"][1] > 0  # 1001 links: counted once
    assert seen["afas"][0] == seen["afas"][1]


# --- the config schema -------------------------------------------------------------------


def _schema(org: Org) -> dict[str, Any]:
    result = org.idsync("config-schema")
    schema: dict[str, Any] = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


@pytest.mark.parametrize(
    "example", sorted((ROOT.parent / "examples").glob("*.yaml")), ids=lambda p: p.name
)
def test_the_config_schema_accepts_every_example(org: Org, example: Path) -> None:
    validator = jsonschema.Draft202012Validator(_schema(org))
    errors = list(validator.iter_errors(yaml.safe_load(example.read_text(encoding="utf-8"))))
    assert errors == [], [(list(e.absolute_path), e.message) for e in errors]


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ('removed: "20%"', 'removed: "a fifth"', ["sources", "hr", "thresholds", "removed"]),
        (
            "    plugin: helloid\n",
            "    plugin: helloid\n    colour: blue\n",
            ["targets", "helloid"],
        ),
        ("page_size: 3,", "page_size: -1,", ["sources", "hr", "settings", "page_size"]),
    ],
)
def test_the_config_schema_refuses_what_the_loader_refuses(
    org: Org, old: str, new: str, where: list[str]
) -> None:
    validator = jsonschema.Draft202012Validator(_schema(org))
    assert list(validator.iter_errors(yaml.safe_load(org.pipeline.read_text()))) == []
    edit_pipeline(org, old, new)
    document = yaml.safe_load(org.pipeline.read_text(encoding="utf-8"))

    def every(errors: Any) -> Any:  # an anyOf's error holds its branches' errors
        for error in errors:
            yield error
            yield from every(error.context or [])

    paths = [list(e.absolute_path)[: len(where)] for e in every(validator.iter_errors(document))]
    assert where in paths, paths
    assert org.idsync("check", str(org.pipeline), check=2).returncode == 2
