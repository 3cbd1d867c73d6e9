"""Mapping keys as SCIM attribute paths: parsing, reading, writing, PATCH operations."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from idsync_scim._keys import (
    KeyProblem,
    apply_values,
    flatten,
    key_of,
    patch_operations,
    read,
)

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

USER: dict[str, Any] = {
    "schemas": [CORE, ENT],
    "id": "u1",
    "meta": {"version": 'W/"3"'},
    "userName": "jan@example.org",
    "name": {"givenName": "Jan", "familyName": "de Vries"},
    "emails": [
        {"type": "work", "value": "jan@example.org", "primary": True},
        {"type": "home", "value": "jan@home.example"},
    ],
    "active": True,
    ENT: {"employeeNumber": "1001", "manager": {"value": "m1"}},
}


@pytest.mark.parametrize(
    ("text", "path", "value"),
    [
        ("userName", "userName", "jan@example.org"),
        ("USERNAME", "USERNAME", "jan@example.org"),
        ("name.givenName", "name.givenName", "Jan"),
        ("Name.FamilyName", "Name.FamilyName", "de Vries"),
        ('emails[type eq "work"].value', 'emails[type eq "work"].value', "jan@example.org"),
        ('emails[type eq "WORK"].primary', 'emails[type eq "WORK"].primary', True),
        ('emails[type eq "other"].value', 'emails[type eq "other"].value', None),
        (f"{ENT}:employeeNumber", f"{ENT}:employeeNumber", "1001"),
        (f"{ENT}:manager.value", f"{ENT}:manager.value", "m1"),
        (f"{CORE}:userName", "userName", "jan@example.org"),
        ("title", "title", None),
    ],
)
def test_a_key_reads_its_value(text: str, path: str, value: Any) -> None:
    key = key_of(text, CORE)
    assert key.path == path
    assert read(USER, key) == value


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("emails[", "is not a SCIM attribute path"),
        ('emails[type eq "work"]', "names a whole entry"),
        ('emails[value co "x"].type', "selects an entry with one equality"),
        ('emails[type eq "a" or type eq "b"].value', "selects an entry with one equality"),
        ('userName eq "x"', "is a filter"),
    ],
)
def test_a_key_that_is_not_a_writable_path_is_refused(text: str, problem: str) -> None:
    with pytest.raises(KeyProblem, match=problem):
        key_of(text, CORE)


def test_a_filter_quotes_the_value() -> None:
    assert key_of("userName", CORE).filter('a"b\\c') == 'userName eq "a\\"b\\\\c"'
    assert key_of(f"{ENT}:employeeNumber", CORE).filter("7") == f'{ENT}:employeeNumber eq "7"'
    work = key_of('emails[type eq "work"].value', CORE)
    assert work.filter("j@x") == 'emails[type eq "work" and value eq "j@x"]'
    assert key_of("active", CORE).filter(True) == "active eq true"


def test_apply_values_adds_and_removes_entries_and_extensions() -> None:
    k = {t: key_of(t, CORE) for t in ['phoneNumbers[type eq "work"].value', "name.givenName"]}
    ent = key_of(f"{ENT}:department", CORE)
    home = key_of('emails[type eq "home"].value', CORE)
    result = apply_values(
        USER,
        {
            k['phoneNumbers[type eq "work"].value']: "+31 20 1",
            k["name.givenName"]: None,
            ent: "ICT",
            home: None,
        },
    )
    assert result["phoneNumbers"] == [{"type": "work", "value": "+31 20 1"}]
    assert result["name"] == {"familyName": "de Vries"}
    assert result[ENT]["department"] == "ICT"
    assert result["emails"] == [USER["emails"][0]]  # the emptied home entry is gone
    assert USER["emails"][1]["value"] == "jan@home.example"  # the original is untouched
    gone = apply_values({"userName": "x", ENT: {"department": "HR"}}, {ent: None})
    assert gone == {"userName": "x"}


def test_patch_operations_replace_remove_and_add_whole_entries() -> None:
    values = {
        key_of("name.familyName", CORE): "Vries",
        key_of("title", CORE): None,
        key_of('emails[type eq "work"].value', CORE): "j@new.example",
        key_of('phoneNumbers[type eq "work"].value', CORE): "+31 20 1",
        key_of('phoneNumbers[type eq "work"].primary', CORE): True,
        key_of(f"{ENT}:employeeNumber", CORE): "1002",
    }
    assert patch_operations(USER, values) == [
        {"op": "replace", "path": "name.familyName", "value": "Vries"},
        {"op": "remove", "path": "title"},
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "j@new.example"},
        {
            "op": "add",
            "path": "phoneNumbers",
            "value": [{"type": "work", "value": "+31 20 1", "primary": True}],
        },
        {"op": "replace", "path": f"{ENT}:employeeNumber", "value": "1002"},
    ]


def test_flatten_names_values_as_keys_read_them() -> None:
    flat = flatten(USER, [ENT])
    assert flat == {
        "userName": "jan@example.org",
        "name.givenName": "Jan",
        "name.familyName": "de Vries",
        'emails[type eq "work"].value': "jan@example.org",
        'emails[type eq "work"].primary': True,
        'emails[type eq "home"].value': "jan@home.example",
        "active": True,
        f"{ENT}:employeeNumber": "1001",
        f"{ENT}:manager.value": "m1",
    }
    for text, value in flat.items():
        assert read(USER, key_of(text, CORE)) == value


_KEYS = [
    "userName",
    "title",
    "name.givenName",
    "name.familyName",
    'emails[type eq "work"].value',
    'emails[type eq "work"].display',
    'phoneNumbers[type eq "mobile"].value',
    f"{ENT}:department",
    f"{ENT}:manager.value",
]
_VALUES = st.one_of(st.none(), st.text(min_size=1, max_size=8))


# The machine may be shared: generation time is not what this checks.
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.sampled_from(_KEYS), _VALUES),
    st.dictionaries(st.sampled_from(_KEYS), _VALUES),
)
def test_what_is_written_reads_back_and_nothing_else_moves(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    start = apply_values({"userName": "u"}, {key_of(k, CORE): v for k, v in first.items()})
    keys = {key_of(k, CORE): v for k, v in second.items()}
    after = apply_values(start, keys)
    for key, value in keys.items():
        assert read(after, key) == value
    for text in set(_KEYS) - set(second):
        assert read(after, key_of(text, CORE)) == read(start, key_of(text, CORE))
