"""Rules and templates type-checked against the person model, as a compiler checks names.

A name the model does not have is an error at load, naming the expression, the path read and
the nearest valid name; a value that is merely missing stays forgiving at run time, while an
unknown attribute at run time is an error too (never an empty value that matches nobody).
"""

from __future__ import annotations

import datetime as dt
import string
import typing
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from idsync.config import TargetConfig
from idsync.expressions import ExpressionError, Expressions
from idsync.model import Contact, Contract, Department, Name, Person, PersonRef, Ref
from idsync.typecheck import check_correlation, check_targets, model_names
from idsync.yamlfile import YamlProblem, load_yaml
from pydantic import BaseModel

EX = Expressions({"initials_of": lambda v: v})


def _target(**account: Any) -> TargetConfig:
    permissions = account.pop("permissions", [])
    resources = account.pop("resources", [])
    return TargetConfig.model_validate(
        {"plugin": "x", "account": account, "permissions": permissions, "resources": resources}
    )


def _problems(targets: dict[str, TargetConfig]) -> dict[str, str]:
    return dict(check_targets(targets, EX))


CASES = [
    # (where, expression, the nearest name the message must suggest, or None when valid)
    ("when", "contract.titel.code == 'ICT-ADM'", "did you mean contract.title?"),
    ("when", "contract.title.code == 'ICT-ADM'", None),
    ("when", "contract.department.cod != 'EXT'", "did you mean contract.department.code?"),
    ("when", "contrct.department.code != 'EXT'", "did you mean contract?"),
    ("when", "(contract.fte or 0) >= 0.8 and contract.end is none", None),
    ("when", "person.inactive or contract.type.code == 'EXT'", None),
    ("when", "person.extra.anything.below == 1", None),  # free-form: whatever the source adds
    ("when", "as_of.year > 2020 and as_of.yaer > 1", "a date has no attribute 'yaer'"),
    ("mapping", "{{ person.name.frist }}", "did you mean person.name.first?"),
    ("mapping", "{{ person.name.first | slug }}.{{ person.name.full_family | slug }}", None),
    ("mapping", "{{ person.contact.emial }}", "did you mean person.contact.email?"),
    ("mapping", "{{ person.manager.external_id }}", None),
    (
        "mapping",
        "{{ contract.manager.display_nme }}",
        "did you mean contract.manager.display_name?",
    ),
    ("mapping", "{{ department.name }} {{ department.code }}", None),
    ("mapping", "{{ department.parent }}", "a reference (Ref) has no attribute 'parent'"),
    ("mapping", "{% for c in contracts %}{{ c.department.nme }}{% endfor %}", "c.department.name"),
    (
        "mapping",
        "{% for c in contracts %}{{ c.department.name }}{{ loop.index }}{% endfor %}",
        None,
    ),
    ("mapping", "{{ person.primary_contract(as_of).titel }}", "did you mean title?"),
    ("mapping", "{{ person.contracts[0].start.isoformat() }}", None),
    ("mapping", "{{ person.name.first.lowr() }}", "text has no attribute 'lowr'"),
    ("mapping", "{{ person.name.first.lower() }}", None),
    ("mapping", "{{ initials_of(person.name.given) }}", None),  # a plugin's function
    ("mapping", "{{ slug(person.display_name) }}", None),
    ("mapping", "{% set n = person.name %}{{ n.famly }}", "did you mean n.family?"),
    ("mapping", "{{ person['external_id'] }} {{ person['externl_id'] }}", "external_id"),
    ("mapping", "{{ accounts.helloid.userName }}", None),
    ("mapping", "{{ accounts.helloid.userNme }}", "did you mean accounts.helloid.userName?"),
    ("mapping", "{{ accounts.hellid.userName }}", "did you mean accounts.helloid?"),
    ("mapping", "{{ accounts.helloid['userAttributes.title'] }}", None),
    (
        "mapping",
        "{{ accounts.helloid.userAttributes.title }}",
        "accounts.helloid['userAttributes.title']",
    ),
    ("mapping", "{{ suffix }}", "no such name is defined here"),  # only in unique candidates
    ("unique", "{{ person.name.first | slug }}{{ suffix }}", None),
    ("dynamic", "group:department_{{ contract.department.code }}", None),
    ("dynamic", "group:department_{{ contract.departmnt.code }}", "contract.department"),
    ("resource", "group:department_{{ department.code }}", None),
    ("resource", "group:{{ department.parent }}_{{ department.manger }}", "department.manager"),
    ("resource", "group:{{ person.name.first }}", "no such name is defined here"),
]


def _config(where: str, source: str) -> dict[str, TargetConfig]:
    helloid = _target(
        mapping={"userName": "x", "userAttributes.title": "{{ contract.title.name }}"}
    )
    if where == "when":
        other = _target(when=source)
    elif where == "mapping":
        other = _target(mapping={"key": source})
    elif where == "unique":
        other = _target(unique={"key": [source]})
    elif where == "dynamic":
        other = _target(permissions=[{"dynamic": source}])
    else:
        other = _target(resources=[source])
    return {"helloid": helloid, "other": other}


@pytest.mark.parametrize(("where", "source", "expected"), CASES)
def test_each_expression_is_checked_against_the_model(
    where: str, source: str, expected: str | None
) -> None:
    problems = _problems(_config(where, source))
    if expected is None:
        assert problems == {}
        return
    [(path, message)] = problems.items()
    assert path.startswith("targets.other.")
    assert message.startswith(f"{source!r} reads ")  # names the expression as written
    assert expected in message


def test_the_problem_names_the_key_path_of_every_place() -> None:
    target = _target(
        when="contract.titel == 1",
        mapping={"firstName": "{{ person.name.frist }}"},
        unique={"userName": ["{{ person.contact.email }}", "{{ person.nmae.first }}{{ suffix }}"]},
        permissions=[{"when": "contract.fte > 0", "grant": "group:A"}, {"dynamic": "g:{{ x.y }}"}],
        resources=["group:{{ department.nam }}"],
        correlate={"person": "contact.emial", "account": "userName"},
    )
    assert set(_problems({"t": target})) == {
        "targets.t.account.when",
        "targets.t.account.mapping.firstName",
        "targets.t.account.unique.userName.1",
        "targets.t.permissions.1.dynamic",
        "targets.t.resources.0",
        "targets.t.account.correlate.person",
    }
    # A unique attribute written as a mapping is found under its ``candidates``.
    written = _target(
        mapping={"userName": "x"},
        unique={"userName": {"candidates": ["x", "{{ person.nmae.first }}"], "rename": "keep"}},
    )
    assert set(_problems({"t": written})) == {"targets.t.account.unique.userName.candidates.1"}


@pytest.mark.parametrize(
    ("person", "expected"),
    [
        ("external_id", None),
        ("person.contact.email", None),
        ("name.full_family", None),
        ("extra.badge", None),
        ("contact.emial", "did you mean person.contact.email?"),
        ("person.nmae.first", "did you mean person.name?"),
        ("account.userName", None),
        ("account.userNme", "did you mean account.userName?"),
    ],
)
def test_correlation_paths_are_checked(person: str, expected: str | None) -> None:
    target = _target(correlate={"person": person, "account": "userName"}, mapping={"userName": "x"})
    problems = check_correlation("targets.t", target, frozenset(target.account.mapping))
    if expected is None:
        assert problems == []
    else:
        [(path, message)] = problems
        assert path == "targets.t.account.correlate.person"
        assert expected in message


# --- a property: every path through the model checks, every one-letter slip does not -------

_MODELS: dict[str, Any] = {"person": Person, "contract": Contract}


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds (``Ref | None`` → Ref); None for lists and plain values."""
    if typing.get_origin(annotation) is list:
        return None
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


def _paths(kind: type[BaseModel], prefix: str, depth: int) -> list[str]:
    out = []
    for name in model_names(kind):
        field = kind.model_fields.get(name)
        out.append(f"{prefix}.{name}")
        inner = _model_of(field.annotation) if field is not None else None
        if inner is not None and depth:
            out.extend(_paths(inner, f"{prefix}.{name}", depth - 1))
    return out


VALID = sorted({p for root, kind in _MODELS.items() for p in _paths(kind, root, 2)})


@given(path=st.sampled_from(VALID), data=st.data())
@settings(max_examples=150, deadline=None)
def test_every_model_path_checks_and_a_slip_in_one_step_is_named(
    path: str, data: st.DataObject
) -> None:
    assert _problems({"t": _target(when=f"{path} == 1")}) == {}
    steps = path.split(".")
    at = data.draw(st.integers(min_value=1, max_value=len(steps) - 1))
    step = steps[at]
    slip = data.draw(st.sampled_from(["drop", "double", "swap"]))
    i = data.draw(st.integers(min_value=0, max_value=len(step) - 1))
    if slip == "drop" and len(step) > 3:
        wrong = step[:i] + step[i + 1 :]
    elif slip == "swap" and i + 1 < len(step):
        wrong = step[:i] + step[i + 1] + step[i] + step[i + 2 :]
    else:
        wrong = step[:i] + step[i] + step[i:]
    if wrong == step:
        return
    broken = ".".join([*steps[:at], wrong, *steps[at + 1 :]])
    problems = _problems({"t": _target(when=f"{broken} == 1")})
    models = (Person, Contract, Name, Ref, Department, Contact, PersonRef)
    if wrong in {n for kind in models for n in model_names(kind)}:
        return  # the slip made another real name
    [(key, message)] = problems.items()
    assert key == "targets.t.account.when"
    assert f"reads {'.'.join([*steps[:at], wrong])}," in message
    assert "did you mean" in message or "has:" in message


# --- at run time: a missing value is forgiving, an unknown attribute is not ------------------

_CONTRACT = Contract(external_id="c1", start=dt.date(2024, 1, 1))


def test_a_missing_value_is_undefined_but_an_unknown_attribute_fails() -> None:
    context = {"contract": _CONTRACT, "person": None}
    assert EX.render("{{ contract.department.code }}", context) == ""  # no department: missing
    assert EX.test("contract.department.code == 'EXT'", context) is False
    with pytest.raises(ExpressionError, match="Contract has no attribute 'titel'"):
        EX.test("contract.titel.code == 'ICT-ADM'", context)
    with pytest.raises(ExpressionError, match="unknown attribute"):
        EX.render("{{ contract['titel'] }}", context)


@given(name=st.text(alphabet=string.ascii_lowercase, min_size=3, max_size=12))
@settings(max_examples=60, deadline=None)
def test_any_name_a_contract_lacks_fails_at_run_time(name: str) -> None:
    if name in model_names(Contract) or hasattr(Contract, name):
        return
    with pytest.raises(ExpressionError, match="unknown attribute"):
        EX.test(f"contract.{name} == 1", {"contract": _CONTRACT})


# --- YAML: a key twice is an error, not a silent last-one-wins --------------------------------


def test_a_key_twice_in_one_mapping_is_an_error_with_its_path_and_lines() -> None:
    text = "targets:\n  helloid:\n    plugin: helloid\n  helloid:\n    plugin: topdesk\n"
    with pytest.raises(YamlProblem) as info:
        load_yaml(text)
    assert info.value.problems == [
        (
            "targets.helloid",
            "the key 'helloid' appears twice in one mapping (lines 2 and 4); "
            "YAML would keep only the last",
        )
    ]


def test_duplicates_are_found_at_any_depth_and_merge_keys_are_not_duplicates() -> None:
    text = (
        "base: &b {plugin: afas}\n"
        "sources:\n  hr:\n    <<: *b\n    plugin: topdesk\n"  # an override of a merge: fine
        "targets:\n  t:\n    permissions:\n      - {grant: 'group:A', grant: 'group:B'}\n"
    )
    with pytest.raises(YamlProblem) as info:
        load_yaml(text)
    assert [p for p, _ in info.value.problems] == ["targets.t.permissions.0.grant"]
    assert load_yaml("a: 1\n'1': x\n1: y\n") == {"a": 1, "1": "x", 1: "y"}  # 1 and '1' differ
