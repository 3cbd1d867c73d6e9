"""AFAS rows to the person model: the source side of the plugin.

How the standard GetConnectors join (as the AFAS source connectors everyone knows do it):

- one person per ``T4E_HelloID_Users_v2`` row, ``external_id`` = ``Medewerker``;
- contracts from ``T4E_HelloID_Employments_v2`` and ``T4E_HelloID_Positions_v2``: in
  *positions* mode one contract per position (id ``{position}~{employment}``, dates, department,
  title, cost center, employer and manager from the position; FTE, hours, sequence and type from
  its employment), and an employment without positions as a contract of its own (id = the
  employment's ``ExternalID``); in *employments_only* mode one contract per employment;
- the naming convention from ``Naamgebruik_code`` (0 B, 1 PB, 2 P, 3 BP);
- departments from ``T4E_HelloID_OrganizationalUnits_v2`` with parent and manager, and each
  person's ``ManagerOf`` (the units they manage) in ``extra``.

A row that cannot become a valid person is yielded as :class:`~idsync.model.Blocked` with the
employee number, the AFAS field and the reason; the rest go on.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from idsync import Blocked, Person, validation_problem
from pydantic import ValidationError

from idsync_afas.client import AfasClient
from idsync_afas.connectors import CONVENTION_BY_CODE
from idsync_afas.settings import AfasSettings

__all__ = [
    "ContractRows",
    "department_from_row",
    "managers_of",
    "parse_date",
    "person_from_rows",
    "read_departments",
    "read_persons",
]

PositionsMode = Literal["positions", "employments_only"]

_EMPLOYMENT_KEEP = (
    "Medewerker",
    "Naam",
    "Organisatorische_eenheid_code",
    "Organisatorische_eenheid_omschrijving",
    "Functie_code",
    "Functie_omschrijving",
    "Kostenplaats_code",
    "Kostenplaats_omschrijving",
    "Werkgever_code",
    "Werkgever_omschrijving",
    "Volgnummer_contract",
    "Begindatum_contract",
    "Einddatum_contract",
    "Begindatum_functie",
    "Einddatum_functie",
    "Uren_per_week",
    "FTE",
    "Medewerkernummer_leidinggevende",
    "ExternalID",
    "Soort_medewerker",
    "Soort_medewerker_code",
)
_POSITION_KEEP = (
    "Medewerker",
    "Organisatorische_eenheid_code",
    "Organisatorische_eenheid_omschrijving",
    "Functie_code",
    "Functie_omschrijving",
    "Kostenplaats_code",
    "Kostenplaats_omschrijving",
    "Werkgever_code",
    "Werkgever_omschrijving",
    "Begindatum_functie",
    "Einddatum_functie",
    "Medewerkernummer_leidinggevende",
    "EmploymentExternalID",
    "ExternalID",
)

# Where a person-model field comes from, to name the AFAS field when validation fails.
_PERSON_FIELDS = {
    ("external_id",): "Medewerker",
    ("display_name",): "DisplayName",
    ("name", "given"): "Voornaam",
    ("name", "nick"): "Roepnaam",
    ("name", "initials"): "Voorletters",
    ("name", "family"): "Geboortenaam",
    ("name", "family_prefix"): "Voorvoegsel",
    ("name", "partner"): "Geboortenaam_partner",
    ("name", "partner_prefix"): "Voorvoegsel_partner",
    ("name", "convention"): "Naamgebruik_code",
    ("contact", "email"): "Email_werk",
    ("contact", "phone"): "Telefoonnr_werk",
    ("contact", "mobile"): "Mobielnr_werk",
}
_NO_VALUE = {"value_error", "string_pattern_mismatch", "string_too_long"}
"""Problems whose message says enough without the AFAS value (or that would repeat it)."""

_CONTRACT_FIELDS = {
    "external_id": "ExternalID",
    "start": "Begindatum_functie",
    "end": "Einddatum_functie",
    "department": "Organisatorische_eenheid_code",
    "title": "Functie_code",
    "cost_center": "Kostenplaats_code",
    "employer": "Werkgever_code",
    "manager": "Medewerkernummer_leidinggevende",
    "type": "Soort_medewerker_code",
    "fte": "FTE",
    "hours_per_week": "Uren_per_week",
    "sequence": "Volgnummer_contract",
}


class _Problem(Exception):
    """A row value that cannot be translated: which AFAS field, and why."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def _text(value: Any) -> str | None:
    """A row value as trimmed text; empty means absent."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text or None


def parse_date(value: Any) -> dt.date | None:
    """An AFAS date (``2024-01-31T00:00:00Z``, ``2024-01-31``) as a date; empty is None.

    Raises ``ValueError`` for anything else.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date")
    text = value.strip()
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        pass
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date") from None


def _date(row: Mapping[str, Any], name: str, what: str) -> dt.date | None:
    try:
        return parse_date(row.get(name))
    except ValueError as exc:
        raise _Problem(name, f"{what}: {exc}") from None


def _number(row: Mapping[str, Any], name: str, what: str) -> float | None:
    value = row.get(name)
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise _Problem(name, f"{what}: {value!r} is not a number") from None


def _ref(code: Any, name: Any) -> dict[str, Any] | None:
    code_text, name_text = _text(code), _text(name)
    if code_text is None and name_text is None:
        return None
    return {"external_id": code_text, "code": code_text, "name": name_text}


@dataclass
class ContractRows:
    """The employment and position rows of the employees, grouped for the join.

    Rows are kept slim (only the fields the join uses) and handed out once per employee, so
    memory holds each row once.
    """

    mode: PositionsMode = "positions"
    employments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    positions: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    """Employee number to name, for the managers' display names."""

    @classmethod
    def load(
        cls,
        employments: Iterable[Mapping[str, Any]],
        positions: Iterable[Mapping[str, Any]],
        mode: PositionsMode = "positions",
    ) -> ContractRows:
        """Group employment rows by employee and position rows by employee and employment."""
        grouped = cls(mode=mode)
        by_employee: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in employments:
            number = _text(row.get("Medewerker"))
            if number is None:
                continue
            by_employee[number].append({k: row.get(k) for k in _EMPLOYMENT_KEEP})
            name = _text(row.get("Naam"))
            if name:
                grouped.names.setdefault(number, name)
        grouped.employments = dict(by_employee)
        if mode == "positions":
            by_employment: defaultdict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
            for row in positions:
                number = _text(row.get("Medewerker"))
                employment = _text(row.get("EmploymentExternalID"))
                if number is None or employment is None:
                    continue
                by_employment[(number, employment)].append({k: row.get(k) for k in _POSITION_KEEP})
            grouped.positions = dict(by_employment)
        return grouped

    def take(self, number: str) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """Hand out (and forget) one employee's employments, each with its positions."""
        result = []
        for employment in self.employments.pop(number, []):
            key = (number, _text(employment.get("ExternalID")) or "")
            result.append((employment, self.positions.pop(key, [])))
        return result

    def manager(self, number: str | None, own: str) -> dict[str, Any] | None:
        """A manager reference; nobody is their own manager."""
        if number is None or number == own:
            return None
        return {"external_id": number, "display_name": self.names.get(number)}


def _pair(
    row: Mapping[str, Any], start_field: str, end_field: str, what: str
) -> tuple[dt.date | None, dt.date | None]:
    """One row's start and end, checked as a pair: an end before its own start is refused
    (naming the end's field), never paired with another field's start."""
    start, end = _date(row, start_field, what), _date(row, end_field, what)
    if start is not None and end is not None and end < start:
        raise _Problem(
            end_field, f"{what}: ends {end.isoformat()}, before it starts {start.isoformat()}"
        )
    return start, end


def _period(employment: Mapping[str, Any], what: str) -> tuple[dt.date | None, dt.date | None]:
    """An employment row's period: where it has both a contract and a function period, the
    days they share (the function under that contract); each pair is checked on its own."""
    function = _pair(employment, "Begindatum_functie", "Einddatum_functie", what)
    contract = _pair(employment, "Begindatum_contract", "Einddatum_contract", what)
    starts = [d for d in (contract[0], function[0]) if d is not None]
    ends = [d for d in (contract[1], function[1]) if d is not None]
    start, end = (max(starts) if starts else None), (min(ends) if ends else None)
    if start is not None and end is not None and end < start:
        raise _Problem(
            "Einddatum_contract" if end == contract[1] else "Einddatum_functie",
            f"{what}: the contract ({_span(contract)}) and the function ({_span(function)}) "
            "share no day",
        )
    return start, end


def _span(period: tuple[dt.date | None, dt.date | None]) -> str:
    start, end = period
    return f"{start.isoformat() if start else '?'} to {end.isoformat() if end else 'open'}"


def _contract(
    number: str,
    employment: Mapping[str, Any],
    position: Mapping[str, Any] | None,
    rows: ContractRows,
) -> dict[str, Any]:
    """One contract from an employment and (in positions mode) one of its positions."""
    employment_id = _text(employment.get("ExternalID"))
    if employment_id is None:
        raise _Problem("ExternalID", "an employment has no ExternalID")
    if position is not None:
        position_id = _text(position.get("ExternalID"))
        if position_id is None:
            raise _Problem(
                "ExternalID", f"a position of employment {employment_id} has no ExternalID"
            )
        contract_id = f"{position_id}~{employment_id}"
        what = f"position {position_id} of employment {employment_id}"
        start = _date(position, "Begindatum_functie", what)
        end = _date(position, "Einddatum_functie", what)
        source: Mapping[str, Any] = position
    else:
        contract_id = employment_id
        what = f"employment {employment_id}"
        start, end = _period(employment, what)
        source = employment
    if start is None:
        raise _Problem("Begindatum_functie", f"{what}: has no start date")
    if end is not None and end < start:
        raise _Problem(
            "Einddatum_functie",
            f"{what}: ends {end.isoformat()}, before it starts {start.isoformat()}",
        )
    sequence = _number(employment, "Volgnummer_contract", what)
    manager_number = _text(source.get("Medewerkernummer_leidinggevende")) or _text(
        employment.get("Medewerkernummer_leidinggevende")
    )
    return {
        "external_id": contract_id,
        "start": start,
        "end": end,
        "department": _ref(
            source.get("Organisatorische_eenheid_code"),
            source.get("Organisatorische_eenheid_omschrijving"),
        ),
        "title": _ref(source.get("Functie_code"), source.get("Functie_omschrijving")),
        "cost_center": _ref(
            source.get("Kostenplaats_code"), source.get("Kostenplaats_omschrijving")
        ),
        "employer": _ref(source.get("Werkgever_code"), source.get("Werkgever_omschrijving")),
        "manager": rows.manager(manager_number, number),
        "type": _ref(employment.get("Soort_medewerker_code"), employment.get("Soort_medewerker")),
        "fte": _number(employment, "FTE", what),
        "hours_per_week": _number(employment, "Uren_per_week", what),
        "sequence": int(sequence) if sequence is not None else None,
    }


def _contracts(number: str, rows: ContractRows) -> list[dict[str, Any]]:
    contracts: list[dict[str, Any]] = []
    for employment, positions in rows.take(number):
        if rows.mode == "positions" and positions:
            contracts.extend(_contract(number, employment, p, rows) for p in positions)
        else:
            contracts.append(_contract(number, employment, None, rows))
    seen: set[str] = set()
    for contract in contracts:
        if contract["external_id"] in seen:
            raise _Problem("ExternalID", f"contract {contract['external_id']} appears twice")
        seen.add(contract["external_id"])
    return contracts


def _convention(value: Any) -> str:
    if isinstance(value, bool):
        raise _Problem("Naamgebruik_code", f"{value!r} is not a naming convention code")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    code = _text(value)
    if code is None:
        return "B"
    if code in CONVENTION_BY_CODE:
        return CONVENTION_BY_CODE[code]
    raise _Problem(
        "Naamgebruik_code", f"{code!r} is not a naming convention code (0 B, 1 PB, 2 P, 3 BP)"
    )


def _field_of(loc: tuple[int | str, ...], contracts: list[dict[str, Any]]) -> tuple[str, str]:
    """The AFAS field behind a validation error location, and a prefix naming the contract."""
    if loc and loc[0] == "contracts" and len(loc) >= 2 and isinstance(loc[1], int):
        prefix = f"contract {contracts[loc[1]]['external_id']}: " if loc[1] < len(contracts) else ""
        if len(loc) >= 3 and isinstance(loc[2], str):
            return _CONTRACT_FIELDS.get(loc[2], str(loc[2])), prefix
        return "Einddatum_functie", prefix
    path = tuple(str(part) for part in loc)
    for size in (2, 1):
        if path[:size] in _PERSON_FIELDS:
            return _PERSON_FIELDS[path[:size]], ""
    return "ExternalID" if not loc else ".".join(map(str, loc)), ""


def person_from_rows(
    user: Mapping[str, Any],
    rows: ContractRows,
    *,
    manager_of: Mapping[str, list[str]],
    as_of: dt.date,
    row_label: str,
) -> Person | Blocked:
    """Translate one Users row (with its contracts from ``rows``) into a validated person.

    ``row_label`` names the row when it has no employee number. Returns :class:`Blocked`,
    naming the AFAS field, when the row cannot become a valid person. The person is validated
    here (to name the AFAS field of a problem), so the engine takes it as it is.
    """
    number = _text(user.get("Medewerker"))
    if number is None:
        return Blocked(
            person=row_label, field="Medewerker", problem="is empty (no employee number)"
        )
    try:
        family = _text(user.get("Geboortenaam"))
        if family is None:
            raise _Problem("Geboortenaam", "is empty: a person needs a (birth) family name")
        name = {
            "given": _text(user.get("Voornaam")),
            "nick": _text(user.get("Roepnaam")),
            "initials": _text(user.get("Voorletters")),
            "family": family,
            "family_prefix": _text(user.get("Voorvoegsel")),
            "partner": _text(user.get("Geboortenaam_partner")),
            "partner_prefix": _text(user.get("Voorvoegsel_partner")),
            "convention": _convention(user.get("Naamgebruik_code")),
        }
        contracts = _contracts(number, rows)
    except _Problem as exc:
        rows.take(number)
        return Blocked(person=number, field=exc.field, problem=exc.problem)
    person: dict[str, Any] = {
        "external_id": number,
        "display_name": _text(user.get("DisplayName")) or "",
        "name": name,
        "contact": {
            "email": _text(user.get("Email_werk")),
            "phone": _text(user.get("Telefoonnr_werk")),
            "mobile": _text(user.get("Mobielnr_werk")),
        },
        "contracts": contracts,
        "extra": {
            "Persoonsnummer": _text(user.get("Persoonsnummer")),
            "Gebruiker": _text(user.get("Gebruiker")),
            "UPN": _text(user.get("UPN")),
            "Email_werk_gebruiker": _text(user.get("Email_werk_gebruiker")),
            "Email_portal": _text(user.get("Email_portal")),
            "InSite": user.get("InSite"),
            "OutSite": user.get("OutSite"),
            "Geblokkeerd": user.get("Geblokkeerd"),
            "ManagerOf": list(manager_of.get(number, [])),
        },
    }
    try:
        model = Person.model_validate(person)
    except ValidationError as exc:
        error = exc.errors()[0]
        afas_field, prefix = _field_of(tuple(error["loc"]), contracts)
        message = validation_problem(error)
        if isinstance(error.get("input"), int | float | str) and error["type"] not in _NO_VALUE:
            message += f" (AFAS value {error['input']!r})"
        return Blocked(person=number, field=afas_field, problem=prefix + message)
    primary = model.primary_contract(as_of)
    if primary is not None and primary.manager is not None:
        model.manager = primary.manager
    return model


def department_from_row(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """One organisational unit as a department mapping (None for a row without ExternalId)."""
    external_id = _text(row.get("ExternalId"))
    if external_id is None:
        return None
    parent = _text(row.get("ParentExternalId"))
    return {
        "external_id": external_id,
        "name": _text(row.get("DisplayName")) or external_id,
        "code": external_id,
        "parent": parent if parent != external_id else None,
        "manager": _text(row.get("ManagerExternalId")),
    }


def managers_of(units: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Employee number to the units they manage (``ManagerOf``), in unit order."""
    result: defaultdict[str, list[str]] = defaultdict(list)
    for unit in units:
        manager, unit_id = _text(unit.get("ManagerExternalId")), _text(unit.get("ExternalId"))
        if manager and unit_id:
            result[manager].append(unit_id)
    return dict(result)


_ORDER = {
    "users": ["Medewerker"],
    "employments": ["ExternalID", "Medewerker", "Begindatum_functie"],
    "positions": ["ExternalID", "Medewerker"],
    "units": ["ExternalId"],
}


def read_persons(
    client: AfasClient, settings: AfasSettings, as_of: dt.date
) -> Iterator[Person | Blocked]:
    """Stream the persons of an AFAS environment (or :class:`Blocked` rows).

    Units, employments and positions are read first (each row held once, slim); the Users
    connector is then streamed page by page and each employee's rows are handed out and
    forgotten as the employee is translated.
    """
    units = list(client.rows(settings.organizational_units_connector, order_by=_ORDER["units"]))
    manager_of = managers_of(units)
    del units
    positions: Iterable[Mapping[str, Any]] = ()
    if settings.positions_mode == "positions":
        positions = client.rows(settings.positions_connector, order_by=_ORDER["positions"])
    rows = ContractRows.load(
        client.rows(settings.employments_connector, order_by=_ORDER["employments"]),
        positions,
        settings.positions_mode,
    )
    seen: set[str] = set()
    users = client.rows(settings.users_connector, order_by=_ORDER["users"])
    for index, user in enumerate(users, start=1):
        number = _text(user.get("Medewerker"))
        if number is not None and number in seen:
            yield Blocked(
                person=number,
                field="Medewerker",
                problem=f"appears twice in {settings.users_connector}",
            )
            continue
        if number is not None:
            seen.add(number)
        label = f"row {index} of {settings.users_connector}"
        result = person_from_rows(user, rows, manager_of=manager_of, as_of=as_of, row_label=label)
        if (
            isinstance(result, Person)
            and not result.contracts
            and settings.exclude_persons_without_contracts
        ):
            continue
        yield result


def read_departments(client: AfasClient, settings: AfasSettings) -> Iterator[dict[str, Any]]:
    """Stream the organisational units as departments."""
    for row in client.rows(settings.organizational_units_connector, order_by=_ORDER["units"]):
        department = department_from_row(row)
        if department is not None:
            yield department
