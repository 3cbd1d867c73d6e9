"""Pipeline files fuzzed with hypothesis: random YAML documents, and mutations of a valid file
(keys dropped, values replaced by other types, unknown keys, broken text). ``idsync check``
exits 2 with a message for every file it refuses, and never shows a traceback."""

from __future__ import annotations

import copy
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loguru import logger
from typer.testing import CliRunner

ENV = {
    "AFAS_BASE_URL": "http://127.0.0.1:9/profitrestservices",
    "AFAS_TOKEN": "<token><version>1</version><data>FUZZTOKEN0123456789</data></token>",
    "HELLOID_BASE_URL": "http://127.0.0.1:9/api/v1",
    "HELLOID_API_KEY": "FUZZKEYABCDEFGHIJ",
    "HELLOID_API_SECRET": "FuzzSecretAbcdefghij",
}

VALID: dict[str, Any] = {
    "name": "fuzz",
    "state": "sqlite:///fuzz.db",
    "sources": {
        "hr": {
            "plugin": "afas",
            "settings": {"base_url": "${AFAS_BASE_URL}", "token": "${AFAS_TOKEN}"},
            "thresholds": {"removed": "5%", "added": 10, "emptied": {"count": 3}},
        }
    },
    "targets": {
        "helloid": {
            "plugin": "helloid",
            "settings": {
                "base_url": "${HELLOID_BASE_URL}",
                "api_key": "${HELLOID_API_KEY}",
                "api_secret": "${HELLOID_API_SECRET}",
            },
            "concurrency": 4,
            "account": {
                "when": "contract.department.code != 'EXT'",
                "correlate": {"person": "account.userName", "account": "userName"},
                "unique": {"userName": ["{{ person.contact.email }}"]},
                "mapping": {
                    "firstName": "{{ person.name.first }}",
                    "userAttributes.department": "{{ contract.department.name }}",
                },
                "lifecycle": {"create_days_before_start": 14, "enable_days_before_start": 3},
            },
            "permissions": [
                {"when": "contract.fte >= 0.8", "grant": "product:Laptop"},
                {"dynamic": "group:department_{{ contract.department.code }}"},
            ],
            "resources": ["group:department_{{ department.code }}"],
            "thresholds": {"delete": "10%", "disable": 5},
        }
    },
}

_runner = CliRunner()


@contextmanager
def _restored_logging() -> Iterator[None]:
    try:
        yield
    finally:
        logger.remove()
        logger.configure(patcher=None)
        logger.add(sys.stderr, level="WARNING")


def check(text: str) -> tuple[int, str]:
    """``idsync check`` on a file holding ``text``: the exit code and everything printed.

    Fails the test on a traceback or an exception that escaped the command.
    """
    from idsync.cli import app

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pipeline.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        with _restored_logging():
            result = _runner.invoke(app, ["check", str(path)], env=ENV)
    printed = result.output + (result.stderr if result.stderr_bytes is not None else "")
    escaped = result.exception if not isinstance(result.exception, SystemExit) else None
    assert escaped is None, f"{type(escaped).__name__}: {escaped}\n{text[:2000]}"
    assert "Traceback" not in printed, printed
    return result.exit_code, printed


def _assert_refused_or_accepted(text: str) -> None:
    code, printed = check(text)
    assert code in (0, 2), (code, printed, text[:2000])
    if code == 2:
        assert "problem(s)" in printed or "error:" in printed, printed
        assert any(line.strip() for line in printed.splitlines()[1:]) or "error:" in printed


# --- strategies --------------------------------------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(
        ["${AFAS_TOKEN}", "${MISSING_VAR}", "5%", "abc%", "{{ person.", "{% for %}", "group:x"]
    )
)
_documents = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["sources", "targets", "state", "name", "plugin", "settings"])
            | st.text(max_size=10),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


_ALL_PATHS = [p for p in _paths(VALID) if p]


@st.composite
def _mutated(draw: st.DrawFn) -> str:
    """The valid pipeline with one to four random changes, dumped to YAML."""
    doc = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(_ALL_PATHS))
        parent: Any = doc
        try:
            for part in path[:-1]:
                parent = parent[part]
        except (KeyError, IndexError, TypeError):
            continue
        last = path[-1]
        if not isinstance(parent, dict | list):
            continue
        if isinstance(parent, list) and (not isinstance(last, int) or last >= len(parent)):
            continue
        if isinstance(parent, dict) and last not in parent:
            continue
        how = draw(st.sampled_from(["drop", "replace", "unknown key", "nest"]))
        if how == "drop":
            del parent[last]
        elif how == "replace":
            parent[last] = draw(_documents)
        elif how == "unknown key" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = draw(_scalars)
        else:
            parent[last] = {"value": parent[last]}
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


@st.composite
def _broken_text(draw: st.DrawFn) -> str:
    """The valid file's YAML text with a slice cut out or replaced by random characters."""
    text = yaml.safe_dump(VALID, sort_keys=False)
    start = draw(st.integers(min_value=0, max_value=len(text)))
    end = draw(st.integers(min_value=start, max_value=min(len(text), start + 40)))
    insert = draw(
        st.text(max_size=12)
        | st.sampled_from(["\t", ":", "- ", "{", "&a *a", "!!python/object:os.system"])
    )
    return text[:start] + insert + text[end:]


_FUZZ = settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def test_the_valid_file_is_accepted() -> None:
    code, printed = check(yaml.safe_dump(VALID, sort_keys=False))
    assert code == 0, printed


@_FUZZ
@given(_documents)
def test_random_yaml_documents_are_refused_with_a_message(document: Any) -> None:
    _assert_refused_or_accepted(yaml.safe_dump(document, allow_unicode=True))


@_FUZZ
@given(_mutated())
def test_mutations_of_a_valid_file_are_refused_with_a_message(text: str) -> None:
    _assert_refused_or_accepted(text)


@_FUZZ
@given(_broken_text())
def test_broken_yaml_text_is_refused_with_a_message(text: str) -> None:
    _assert_refused_or_accepted(text)


@_FUZZ
@given(st.text(max_size=200))
def test_arbitrary_text_is_refused_with_a_message(text: str) -> None:
    _assert_refused_or_accepted(text)
