"""The person model: Dutch names, contracts in time, the primary-contract rule, permissions."""

from __future__ import annotations

import datetime as dt

import pytest
from idsync.model import (
    MAX_ID,
    MAX_TEXT,
    Blocked,
    Contract,
    Department,
    Name,
    Permission,
    Person,
    Ref,
    validation_problem,
)
from pydantic import ValidationError

D = dt.date


def _name(convention: str, partner: bool = True) -> Name:
    return Name.model_validate(
        {
            "given": "Jan",
            "family": "Vries",
            "family_prefix": "de",
            "partner": "Dam" if partner else None,
            "partner_prefix": "van" if partner else None,
            "convention": convention,
        }
    )


def _contract(cid: str, start: dt.date, end: dt.date | None = None, **extra: object) -> Contract:
    return Contract.model_validate({"external_id": cid, "start": start, "end": end, **extra})


def _person(*contracts: Contract, **extra: object) -> Person:
    return Person.model_validate(
        {"external_id": "1001", "name": {"given": "Jan", "family": "Jansen"}, **extra}
        | {"contracts": list(contracts)}
    )


# --- names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("convention", "family", "display"),
    [
        ("B", "de Vries", "Jan de Vries"),
        ("BP", "de Vries-van Dam", "Jan de Vries-van Dam"),
        ("P", "van Dam", "Jan van Dam"),
        ("PB", "van Dam-de Vries", "Jan van Dam-de Vries"),
    ],
)
def test_naming_conventions_compose_the_family_name(
    convention: str, family: str, display: str
) -> None:
    name = _name(convention)
    assert name.full_family == family
    assert name.display == display
    assert name.birth_family == "de Vries"
    assert name.partner_family == "van Dam"


@pytest.mark.parametrize("convention", ["B", "BP", "P", "PB"])
def test_conventions_without_a_partner_fall_back_to_the_birth_name(convention: str) -> None:
    name = _name(convention, partner=False)
    assert name.partner_family == ""
    assert name.full_family == "de Vries"
    assert name.display == "Jan de Vries"


def test_partner_without_prefix_and_birth_name_without_prefix() -> None:
    name = Name(given="Sanne", family="Bakker", partner="Smit", convention="PB")
    assert name.full_family == "Smit-Bakker"
    assert Name(
        family="Bakker", partner="Smit", partner_prefix="'t", convention="P"
    ).full_family == ("'t Smit")


def test_first_name_prefers_nick_then_given_then_initials() -> None:
    assert Name(given="Johannes", nick="Hans", family="Dijk").first == "Hans"
    assert Name(given="Johannes", family="Dijk").first == "Johannes"
    assert Name(initials="J.P.", family="Dijk").first == "J.P."
    assert Name(family="Dijk").first == ""
    assert Name(family="Dijk", family_prefix="van").display == "van Dijk"


def test_display_name_defaults_to_the_composed_name_but_a_given_one_is_kept() -> None:
    person = Person.model_validate(
        {
            "external_id": "7",
            "name": {
                "nick": "Els",
                "given": "Elisabeth",
                "family": "Berg",
                "family_prefix": "van den",
                "partner": "Wit",
                "partner_prefix": "de",
                "convention": "BP",
            },
        }
    )
    assert person.display_name == "Els van den Berg-de Wit"
    kept = Person.model_validate(
        {"external_id": "7", "display_name": "E. Berg", "name": {"family": "Berg"}}
    )
    assert kept.display_name == "E. Berg"


def test_names_are_stripped_and_validated() -> None:
    assert Name(family="  Vries ", family_prefix=" de ").birth_family == "de Vries"
    with pytest.raises(ValidationError, match="convention"):
        Name.model_validate({"family": "Vries", "convention": "X"})
    with pytest.raises(ValidationError, match="family"):
        Name.model_validate({"family": ""})
    with pytest.raises(ValidationError) as info:
        Person.model_validate({"external_id": "1\n2", "name": {"family": "Vries"}})
    assert [validation_problem(e) for e in info.value.errors()] == ["contains control characters"]


@pytest.mark.parametrize(
    ("where", "value", "problem"),
    [
        ("family", "Vr\x00ies", "contains control characters"),
        ("family", "Vries\u202e", "contains control characters"),
        ("family", "\x1b[31mVries", "contains control characters"),
        ("family", "Vr\x85ies", "contains control characters"),
        ("family", "Vr\x7fies", "contains control characters"),
        (
            "given",
            "x" * (MAX_TEXT + 1),
            f"is {MAX_TEXT + 1} characters long; at most 1000 are allowed",
        ),
        (
            "external_id",
            "1" * (MAX_ID + 1),
            f"is {MAX_ID + 1} characters long; at most 200 are allowed",
        ),
    ],
)
def test_unprintable_or_overlong_text_is_refused_in_words(
    where: str, value: str, problem: str
) -> None:
    row: dict[str, object] = {"external_id": "1", "name": {"family": "Vries"}}
    if where == "external_id":
        row["external_id"] = value
    else:
        row["name"] = {"family": "Vries", where: value}
    with pytest.raises(ValidationError) as info:
        Person.model_validate(row)
    assert [validation_problem(e) for e in info.value.errors()] == [problem]


def test_printable_text_beyond_ascii_passes_and_surrounding_blanks_are_trimmed() -> None:
    person = Person.model_validate(
        {"external_id": " 7 ", "name": {"given": "Ëlise\u00a0Zoë", "family": " Çelik "}}
    )
    assert (person.external_id, person.name.given, person.name.family) == (
        "7",
        "Ëlise\u00a0Zoë",
        "Çelik",
    )


# --- contracts in time ----------------------------------------------------------------


def test_active_at_boundaries_start_day_and_end_day_are_inclusive() -> None:
    contract = _contract("c1", D(2024, 3, 1), D(2024, 3, 31))
    assert not contract.active_at(D(2024, 2, 29))
    assert contract.active_at(D(2024, 3, 1))
    assert contract.active_at(D(2024, 3, 15))
    assert contract.active_at(D(2024, 3, 31))
    assert not contract.active_at(D(2024, 4, 1))


def test_open_end_never_ends_and_one_day_contract_is_one_day() -> None:
    open_end = _contract("c1", D(2020, 1, 1))
    assert open_end.end is None
    assert open_end.active_at(D(2020, 1, 1))
    assert open_end.active_at(D(2999, 12, 31))
    one_day = _contract("c2", D(2024, 5, 5), D(2024, 5, 5))
    assert [one_day.active_at(D(2024, 5, d)) for d in (4, 5, 6)] == [False, True, False]


def test_end_before_start_is_rejected_naming_the_contract() -> None:
    with pytest.raises(ValidationError) as info:
        _contract("EMP-42", D(2024, 6, 1), D(2024, 5, 31))
    message = str(info.value)
    assert "contract EMP-42" in message
    assert "end 2024-05-31 is before start 2024-06-01" in message


def test_end_before_start_inside_a_person_says_which_contract() -> None:
    with pytest.raises(ValidationError) as info:
        Person.model_validate(
            {
                "external_id": "1",
                "name": {"family": "Jansen"},
                "contracts": [
                    {"external_id": "ok", "start": "2024-01-01"},
                    {"external_id": "bad", "start": "2024-02-01", "end": "2024-01-01"},
                ],
            }
        )
    (error,) = info.value.errors()
    assert error["loc"][:2] == ("contracts", 1)
    assert "contract bad: end 2024-01-01 is before start 2024-02-01" in error["msg"]


def test_a_contract_id_may_appear_only_once() -> None:
    with pytest.raises(ValidationError, match="contract c1 appears twice"):
        _person(_contract("c1", D(2024, 1, 1)), _contract("c1", D(2025, 1, 1)))


def test_fte_and_hours_are_bounded() -> None:
    with pytest.raises(ValidationError, match="fte"):
        _contract("c1", D(2024, 1, 1), fte=-0.1)
    with pytest.raises(ValidationError, match="hours_per_week"):
        _contract("c1", D(2024, 1, 1), hours_per_week=169)


def test_person_without_contracts() -> None:
    person = _person()
    assert person.contracts == []
    assert person.active_contracts(D(2024, 1, 1)) == []
    assert person.primary_contract(D(2024, 1, 1)) is None


def test_overlapping_and_future_contracts_are_active_only_in_their_window() -> None:
    past = _contract("past", D(2019, 1, 1), D(2023, 12, 31))
    main = _contract("main", D(2022, 1, 1), fte=0.8)
    side = _contract("side", D(2024, 1, 1), D(2024, 6, 30), fte=0.2)
    future = _contract("future", D(2025, 1, 1), fte=1.0)
    person = _person(past, main, side, future)
    assert [c.external_id for c in person.active_contracts(D(2022, 6, 1))] == ["past", "main"]
    assert [c.external_id for c in person.active_contracts(D(2024, 3, 1))] == ["main", "side"]
    assert [c.external_id for c in person.active_contracts(D(2024, 7, 1))] == ["main"]
    assert [c.external_id for c in person.active_contracts(D(2025, 1, 1))] == ["main", "future"]
    # The future contract has the highest FTE but is not active yet: the active one wins.
    assert person.primary_contract(D(2024, 12, 31)).external_id == "main"  # type: ignore[union-attr]
    assert person.primary_contract(D(2025, 1, 1)).external_id == "future"  # type: ignore[union-attr]


# --- the primary-contract rule --------------------------------------------------------


def _primary(when: dt.date, *contracts: Contract) -> str | None:
    primary = _person(*contracts).primary_contract(when)
    return primary.external_id if primary else None


def test_primary_active_wins_over_inactive_with_more_fte() -> None:
    assert (
        _primary(
            D(2024, 3, 1),
            _contract("ended", D(2020, 1, 1), D(2024, 2, 29), fte=1.0),
            _contract("current", D(2024, 1, 1), fte=0.1),
        )
        == "current"
    )


def test_primary_highest_fte_among_active() -> None:
    assert (
        _primary(
            D(2024, 3, 1),
            _contract("a", D(2020, 1, 1), fte=0.4),
            _contract("b", D(2023, 1, 1), fte=0.6),
            _contract("c", D(2021, 1, 1)),
        )
        == "b"
    )


def test_primary_unknown_fte_counts_as_zero() -> None:
    assert (
        _primary(
            D(2024, 3, 1),
            _contract("none", D(2019, 1, 1)),
            _contract("small", D(2023, 1, 1), fte=0.1),
        )
        == "small"
    )


def test_primary_equal_fte_earliest_start_wins() -> None:
    assert (
        _primary(
            D(2024, 3, 1),
            _contract("A-late", D(2023, 1, 1), fte=0.5),
            _contract("B-early", D(2021, 1, 1), fte=0.5),
        )
        == "B-early"
    )


def test_primary_full_tie_lowest_id_wins_regardless_of_order() -> None:
    a = _contract("A-2", D(2021, 1, 1), fte=0.5)
    b = _contract("A-1", D(2021, 1, 1), fte=0.5)
    assert _primary(D(2024, 3, 1), a, b) == "A-1"
    assert _primary(D(2024, 3, 1), b, a) == "A-1"


def test_primary_without_active_contracts_uses_the_same_order() -> None:
    contracts = (
        _contract("old", D(2010, 1, 1), D(2015, 1, 1), fte=1.0),
        _contract("next", D(2030, 1, 1), fte=0.5),
    )
    assert _primary(D(2020, 1, 1), *contracts) == "old"


def test_primary_among_restricts_the_candidates() -> None:
    big = _contract("big", D(2020, 1, 1), fte=1.0)
    small = _contract("small", D(2020, 1, 1), fte=0.2)
    person = _person(big, small)
    assert person.primary_contract(D(2024, 1, 1)) is big
    assert person.primary_contract(D(2024, 1, 1), among=[small]) is small
    assert person.primary_contract(D(2024, 1, 1), among=[]) is None


# --- departments, blocked rows, permissions -------------------------------------------


def test_departments_and_refs() -> None:
    dept = Department(external_id="ICT", name="ICT", parent="ORG", manager="1001")
    assert (dept.parent, dept.manager) == ("ORG", "1001")
    with pytest.raises(ValidationError):
        Department(external_id="X", name="")
    contract = _contract("c", D(2024, 1, 1), department=Ref(code="ICT", name="ICT"))
    assert contract.department is not None
    assert contract.department.code == "ICT"
    assert str(Blocked(person="9", field="contracts.0.end", problem="before start")) == (
        "person 9: contracts.0.end: before start"
    )


@pytest.mark.parametrize(
    ("text", "kind", "name"),
    [
        ("group:ICT Admins", "group", "ICT Admins"),
        ("  product : Laptop  ", "product", "Laptop"),
        ("group:a:b", "group", "a:b"),
        ("group:Één", "group", "Één"),
    ],
)
def test_permission_parse(text: str, kind: str, name: str) -> None:
    permission = Permission.parse(text)
    assert (permission.kind, permission.name) == (kind, name)
    assert permission.key == f"{kind}:{name}"


@pytest.mark.parametrize("text", ["Sales", ":Sales", "group:", "group:   ", "", ":"])
def test_permission_parse_rejects_text_without_kind_and_name(text: str) -> None:
    with pytest.raises(ValueError, match="is not of the form 'kind:name'"):
        Permission.parse(text)


def test_permission_parse_keeps_extra_fields() -> None:
    permission = Permission.parse("group:department_ICT", reference="g-1", data={"code": "ICT"})
    assert permission.reference == "g-1"
    assert permission.data == {"code": "ICT"}


def test_extra_fields_have_one_order_whatever_order_the_source_gave() -> None:
    def person(extra: dict[str, object]) -> Person:
        return Person.model_validate(
            {"external_id": "1", "name": {"family": "Vries"}, "extra": extra}
        )

    one = person({"badge": "B1", "UPN": "j@x", "InSite": True})
    other = person({"InSite": True, "UPN": "j@x", "badge": "B1"})
    assert list(one.extra) == ["InSite", "UPN", "badge"]
    # The snapshot's fingerprint is taken of this JSON: equal data, equal fingerprint.
    assert one.model_dump_json() == other.model_dump_json()
    assert person({"badge": "B2", "UPN": "j@x", "InSite": True}).model_dump_json() != (
        one.model_dump_json()
    )
