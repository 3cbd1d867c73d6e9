"""Rules and templates: rendered against the person model, sandboxed, forgiving of missing data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from idsync.expressions import ExpressionError, Expressions, ascii_fold, slug
from idsync.hookspecs import hookimpl
from idsync.model import Contract, Person, PluginAbout, PluginKind
from idsync.plugins import FunctionConflict, Registry
from pydantic import BaseModel


@pytest.fixture
def person() -> Person:
    return Person.model_validate(
        {
            "external_id": "1042",
            "name": {
                "given": "Ëlise",
                "nick": "Lies",
                "family": "Berg",
                "family_prefix": "van der",
                "partner": "Çelik",
                "convention": "BP",
            },
            "contact": {"email": "lies@example.org"},
            "extra": {"badge": "B-77", "flags": {"remote": True}},
            "contracts": [
                {
                    "external_id": "c1",
                    "start": "2020-01-01",
                    "department": {"code": "ICT", "name": "ICT Beheer"},
                    "title": {"code": "SYS", "name": "Systeembeheerder"},
                    "fte": 0.8,
                },
                {"external_id": "c2", "start": "2024-01-01"},
            ],
        }
    )


@pytest.fixture
def ex() -> Expressions:
    return Expressions()


def _ctx(person: Person, contract: int = 0) -> dict[str, Any]:
    return {"person": person, "contract": person.contracts[contract]}


# --- rendering ------------------------------------------------------------------------


def test_templates_render_against_the_person_model(ex: Expressions, person: Person) -> None:
    ctx = _ctx(person)
    assert ex.render("{{ person.name.first | lower }}.{{ person.name.family | slug }}", ctx) == (
        "lies.berg"
    )
    assert ex.render("{{ person.name.full_family }}", ctx) == "van der Berg-Çelik"
    assert ex.render("{{ person.display_name }}", ctx) == "Lies van der Berg-Çelik"
    assert (
        ex.render("{{ contract.department.name }} ({{ contract.fte }})", ctx) == "ICT Beheer (0.8)"
    )
    assert ex.render("{{ person.extra.badge }}", ctx) == "B-77"
    assert ex.render("{% if person.extra.flags.remote %}remote{% endif %}", ctx) == "remote"


def test_non_templates_are_taken_as_they_are(ex: Expressions, person: Person) -> None:
    ctx = _ctx(person)
    assert ex.render("Local", ctx) == "Local"
    assert ex.render(True, ctx) is True
    assert ex.render(42, ctx) == 42
    assert ex.render(None, ctx) is None
    assert ex.render("{ not a template }", ctx) == "{ not a template }"


def test_rules_evaluate_per_contract(ex: Expressions, person: Person) -> None:
    rule = "contract.department.code == 'ICT' and contract.fte >= 0.5"
    assert ex.test(rule, _ctx(person, 0)) is True
    assert ex.test(rule, _ctx(person, 1)) is False
    assert ex.test("person.external_id in ['1042', '2000']", _ctx(person)) is True
    assert ex.test(None, {}) is True


def test_missing_data_is_undefined_not_an_error(ex: Expressions, person: Person) -> None:
    bare = _ctx(person, 1)  # a contract without department, title or fte
    assert ex.render("{{ contract.department.code }}", bare) == ""
    assert ex.render("dept_{{ contract.department.code | slug }}", bare) == "dept_"
    assert ex.render("{{ contract.title.name | upper }}", bare) == ""
    assert ex.test("contract.department.code != 'EXT'", bare) is True
    assert ex.test("contract.department.code == 'EXT'", bare) is False
    assert ex.test("contract.department.code", bare) is False
    assert ex.test("contract.department.code is defined", bare) is False
    assert ex.render("{{ person.contact.phone }}", bare) == ""
    assert ex.render("{{ person.extra.nothing.deeper }}", bare) == ""


def test_none_renders_as_empty(ex: Expressions) -> None:
    contract = Contract(external_id="c", start=dt.date(2024, 1, 1))
    assert ex.render("[{{ contract.end }}]", {"contract": contract}) == "[]"


def test_errors_at_run_time_are_expression_errors(ex: Expressions, person: Person) -> None:
    with pytest.raises(ExpressionError, match=r"failed: ZeroDivisionError"):
        ex.render("{{ 1 / 0 }}", _ctx(person))
    with pytest.raises(ExpressionError, match=r"rule 'contract.fte > \"a\"' failed: TypeError"):
        ex.test('contract.fte > "a"', _ctx(person))
    with pytest.raises(ExpressionError, match="does not compile"):
        ex.rule("person.name ==")
    with pytest.raises(ExpressionError, match="does not compile"):
        ex.template("{{ person.name ")


def test_compiled_expressions_are_cached(ex: Expressions) -> None:
    assert ex.rule("person.inactive") is ex.rule("person.inactive")
    assert ex.template("{{ person.external_id }}") is ex.template("{{ person.external_id }}")


# --- the sandbox ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ person.__class__.__mro__ }}",
        "{{ ''.__class__.__subclasses__() }}",
        "{{ person.name.__init__.__globals__ }}",
        "{{ person['__class__'] }}",
        "{{ person | attr('__dict__') }}",
        "{{ person._defaults_and_unique_contracts }}",
        "{{ contract.active_at.__func__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os.system('true') }}",
        "{{ person.contracts.append(1) }}",
        "{{ person.extra.update({'badge': 'X'}) }}",
        "{{ person.extra.pop('badge') }}",
    ],
)
def test_the_sandbox_blocks_escapes(ex: Expressions, person: Person, source: str) -> None:
    before = person.model_dump()
    with pytest.raises(ExpressionError, match="is not allowed"):
        ex.render(source, _ctx(person))
    assert person.model_dump() == before


@pytest.mark.parametrize("source", ["person.__class__", "().__class__.__base__.__subclasses__()"])
def test_rules_are_sandboxed_too(ex: Expressions, person: Person, source: str) -> None:
    with pytest.raises(ExpressionError, match="is not allowed"):
        ex.test(source, _ctx(person))


def test_model_methods_return_copies_and_leave_the_person_alone(
    ex: Expressions, person: Person
) -> None:
    before = person.model_dump()
    rendered = ex.render(
        "{{ person.model_copy(update={'external_id': 'X'}).external_id }}", _ctx(person)
    )
    assert rendered == "X"
    assert person.model_dump() == before


# --- filters and functions ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("van der Berg-Ëlise", "vanderberg-elise"),
        ("O'Brien", "obrien"),
        ("d'Ancona Çelik", "danconacelik"),
        ("Jan.Peter", "jan.peter"),
        ("Zoë 2", "zoe2"),
        (None, ""),
    ],
)
def test_slug(value: Any, expected: str) -> None:
    assert slug(value) == expected


def test_filters_in_templates(ex: Expressions, person: Person) -> None:
    ctx = _ctx(person)
    assert ex.render("{{ person.name.given | ascii }}", ctx) == "Elise"
    assert ex.render("{{ person.name.full_family | ascii }}", ctx) == "van der Berg-Celik"
    assert ex.render("{{ person.name.full_family | slug }}", ctx) == "vanderberg-celik"
    assert ex.render("{{ 'Jan-Peter van Dijk' | initials }}", ctx) == "JPVD"
    assert ex.render("{{ 'j.p.  de  vries' | initials }}", ctx) == "JPDV"
    assert ex.render("{{ slug(person.name.given) }}.{{ ascii('Ö') }}", ctx) == "elise.O"
    assert ascii_fold("Ş İ ñ") == "S I n"


class _NoSettings(BaseModel):
    pass


class _Functions:
    """A plugin that contributes functions to the expression language."""

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        return PluginAbout(name="fn", kind=PluginKind.TARGET, version="1", settings=_NoSettings)

    @hookimpl
    def idsync_expression_functions(self) -> Mapping[str, Callable[..., Any]]:
        return {"upn": lambda user, domain="example.org": f"{user}@{domain}", "shout": str.upper}


class _MoreFunctions(_Functions):
    @hookimpl
    def idsync_expression_functions(self) -> Mapping[str, Callable[..., Any]]:
        return {"shout": lambda s: f"{s}!"}


class _OtherFunctions(_Functions):
    @hookimpl
    def idsync_expression_functions(self) -> Mapping[str, Callable[..., Any]]:
        return {"whisper": str.lower}


class _Slugger(_Functions):
    @hookimpl
    def idsync_expression_functions(self) -> Mapping[str, Callable[..., Any]]:
        return {"slug": lambda s: "-"}


def test_plugin_functions_are_available_in_rules_and_templates(person: Person) -> None:
    registry = Registry(extra={"fn": _Functions}, entry_points=False)
    functions = registry.expression_functions()
    assert set(functions) == {"upn", "shout"}
    ex = Expressions(functions)
    ctx = _ctx(person)
    assert ex.render("{{ upn(person.name.first | slug) }}", ctx) == "lies@example.org"
    assert ex.render("{{ upn('x', domain='corp.nl') }}", ctx) == "x@corp.nl"
    assert ex.test("shout(contract.department.code) == 'ICT'", ctx) is True
    without = Expressions()
    with pytest.raises(ExpressionError):
        without.render("{{ upn('x') }}", ctx)


def test_contributions_of_several_plugins_are_merged(person: Person) -> None:
    registry = Registry(extra={"fn": _Functions, "other": _OtherFunctions}, entry_points=False)
    functions = registry.expression_functions()
    assert set(functions) == {"upn", "shout", "whisper"}
    ex = Expressions(functions)
    assert ex.render("{{ upn('a') }} {{ whisper('B') }}", _ctx(person)) == "a@example.org b"


def test_a_function_two_plugins_contribute_is_an_error_naming_both() -> None:
    registry = Registry(extra={"fn": _Functions, "more": _MoreFunctions}, entry_points=False)
    with pytest.raises(FunctionConflict) as raised:
        registry.expression_functions(["fn", "more"])
    assert str(raised.value) == (
        "the expression function 'shout' is contributed by plugin 'fn' and by plugin 'more': "
        "a pipeline cannot use both (rename it in one of them)"
    )
    assert raised.value.plugins == ("fn", "more")
    # A pipeline that uses only one of them is not concerned by the other.
    assert set(registry.expression_functions(["more"])) == {"shout"}
    assert set(registry.expression_functions(["fn"])) == {"upn", "shout"}


def test_one_plugin_class_installed_under_two_names_contributes_its_functions_once() -> None:
    # Two entry points of one class (say a directory plugin for AD and for LDAP): the
    # function each instance returns is the same function, so a pipeline can use both.
    registry = Registry(extra={"fn": _Functions, "fn-too": _Functions}, entry_points=False)
    assert set(registry.expression_functions(["fn", "fn-too"])) == {"upn", "shout"}


def test_a_plugin_function_cannot_replace_one_of_the_language() -> None:
    registry = Registry(extra={"slugger": _Slugger}, entry_points=False)
    with pytest.raises(
        FunctionConflict, match="'slug' is contributed by idsync itself and by plugin 'slugger'"
    ):
        registry.expression_functions(["slugger"])
    assert registry.expression_functions([]) == {}  # unused, it changes nothing
