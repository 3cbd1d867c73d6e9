"""The simulator's data: employees, users, employments, positions and units, in memory.

The rows are kept in the GetConnectors' own Dutch field names. What each GetConnector
returns is computed on every call, so writes through ``KnEmployee`` and ``KnUser`` show up in
the next read. The standard connectors' fixed filters apply: contracts that start more than
three months from today or ended more than three months ago are left out, and so are
employees without such a contract and employments of type ``N``.
"""

from __future__ import annotations

import calendar
import datetime as dt
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from idsync_afas import connectors
from idsync_afas.simulator._query import Fault

__all__ = ["AfasData", "afas_date"]

_USER_FIELDS = (
    "Gebruiker",
    "Geblokkeerd",
    "UPN",
    "Email_werk_gebruiker",
    "Profit_Windows",
    "Connector",
    "Reservekopieen_via_commandline",
    "Commandline",
    "InSite",
    "OutSite",
)

EMPLOYEE_FIELDS = {
    "EmAd": "Email_werk",
    "EmailPortal": "Email_portal",
    "TeNr": "Telefoonnr_werk",
    "MbNr": "Mobielnr_werk",
}
"""``KnPerson`` field to the Users field it changes."""
USER_FIELDS = {"Upn": "UPN", "EmAd": "Email_werk_gebruiker", "InSi": "InSite", "Site": "OutSite"}
"""``KnUser`` field to the Users field it changes."""
_USER_FLAGS = frozenset({"Acon", "Abac", "Acom", "OcUs", "PoMa", "AcUs", "Awin"})
_BOOLEAN_FIELDS = frozenset({"InSite", "OutSite", "Geblokkeerd"})

NOT_FOUND_NUMBER = -2147220469
_PER_EMPLOYEE = frozenset({connectors.USERS, connectors.EMPLOYMENTS, connectors.POSITIONS})


def afas_date(value: Any) -> Any:
    """A date as AFAS writes it (``2024-01-31T00:00:00Z``); other values pass unchanged."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return f"{value.isoformat()}T00:00:00Z"
    if isinstance(value, str) and len(value) == 10:
        try:
            return f"{dt.date.fromisoformat(value).isoformat()}T00:00:00Z"
        except ValueError:
            return value
    return value


def _parse(value: Any) -> dt.date | None:
    if isinstance(value, str) and len(value) >= 10:
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _value(value: Any, field: str) -> Any:
    """A written value as the Users row holds it: booleans as bool, empty text as None."""
    if field in _BOOLEAN_FIELDS:
        if value is None or isinstance(value, bool):
            return bool(value)
        text = str(value).strip().lower()
        if text in ("true", "1"):
            return True
        if text in ("false", "0", ""):
            return False
        raise Fault(500, f"De waarde '{value}' is ongeldig voor een ja/nee-veld.")
    if value is None:
        return None
    text = str(value).strip()
    return text or None


class AfasData:
    """All rows of one simulated AFAS environment, guarded by one lock."""

    def __init__(self, today: dt.date, *, member: str = "12345", window_months: int | None = 3):
        self.today = today
        self.member = member
        self.window_months = window_months
        self.people: list[dict[str, Any]] = []
        """Employee rows (Users fields of the person); ``_listed`` lists one whatever its contracts."""
        self.users: list[dict[str, Any]] = []
        """AFAS users (``_USER_FIELDS`` + ``Persoonsnummer`` = the person they belong to)."""
        self.employments: list[dict[str, Any]] = []
        self.positions: list[dict[str, Any]] = []
        self.units: list[dict[str, Any]] = []
        self.groups: list[dict[str, Any]] = []
        self.user_groups: list[dict[str, Any]] = []
        self.lock = threading.RLock()
        self._by_number: dict[str, dict[str, Any]] = {}
        self._users_by_id: dict[str, dict[str, Any]] = {}
        self._users_by_person: dict[str, dict[str, Any]] = {}
        self._employments_by_number: dict[str, list[dict[str, Any]]] = {}
        self._cache: dict[str, list[dict[str, Any]]] = {}
        self._person_numbers: dict[str, str] = {}
        self._positions_by_number: dict[str, list[dict[str, Any]]] = {}
        self._upns: dict[str, dict[str, Any]] = {}

    def changed(self) -> None:
        """Rebuild the indexes and forget cached rows; call after changing rows directly."""
        with self.lock:
            self._cache.clear()
            self._by_number = {}
            for person in self.people:
                self._by_number.setdefault(str(person["Medewerker"]).casefold(), person)
            self._person_numbers = {p["Medewerker"]: p["Persoonsnummer"] for p in self.people}
            self._users_by_id = {u["Gebruiker"]: u for u in self.users}
            self._users_by_person = {}
            self._upns = {}
            for user in self.users:
                self._users_by_person.setdefault(user["Persoonsnummer"], user)
                if user.get("UPN"):
                    self._upns.setdefault(str(user["UPN"]).casefold(), user)
            self._employments_by_number = {}
            for row in self.employments:
                self._employments_by_number.setdefault(row["Medewerker"], []).append(row)
            self._positions_by_number = {}
            for row in self.positions:
                self._positions_by_number.setdefault(row["Medewerker"], []).append(row)

    # --- reading -------------------------------------------------------------------------

    def _in_window(self, start: Any, end: Any) -> bool:
        if self.window_months is None:
            return True
        first, last = _parse(start), _parse(end)
        if (start is not None and first is None) or (end is not None and last is None):
            return True  # a value that is not a date cannot be filtered out
        if first is not None and last is not None and last < first:
            return True  # broken dates are listed, so the source sees (and blocks) them
        if first is not None and first >= _add_months(self.today, self.window_months):
            return False
        return not (last is not None and last <= _add_months(self.today, -self.window_months))

    def _employment_listed(self, row: Mapping[str, Any]) -> bool:
        return row.get("Soort_medewerker_code") != "N" and self._in_window(
            row.get("Begindatum_contract"), row.get("Einddatum_contract")
        )

    def employee(self, number: str) -> dict[str, Any] | None:
        """The first employee with this employee number."""
        return self._by_number.get(number.casefold())

    def user_of(self, person_number: Any) -> dict[str, Any] | None:
        """The AFAS user linked to a person number."""
        if person_number in (None, ""):
            return None
        return self._users_by_person.get(person_number)

    def user(self, user_id: str) -> dict[str, Any] | None:
        """The AFAS user with this user id."""
        return self._users_by_id.get(user_id)

    def rows(self, connector: str, *, employee: str | None = None) -> list[dict[str, Any]]:
        """The rows a standard GetConnector returns now (before the caller's filters).

        ``employee`` restricts the Users, Employments and Positions rows to one employee
        number (a shortcut for an equality filter on ``Medewerker``, which still applies).
        """
        with self.lock:
            if connector not in connectors.GET_CONNECTORS:
                raise Fault(
                    500,
                    "GetConnector niet ondersteund voor deze app of de gebruiker is niet geautoriseerd",
                )
            if employee is not None and connector in _PER_EMPLOYEE:
                person = self.employee(employee)
                if person is None:
                    return []
                return self._rows(connector, [person])
            if connector not in self._cache:
                self._cache[connector] = self._rows(connector, self.people)
            return self._cache[connector]

    def _rows(self, connector: str, people: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if connector == connectors.USERS:
            return self._users_rows(people)
        if connector == connectors.EMPLOYMENTS:
            return [
                self._with_manager(_select(r, connectors.EMPLOYMENTS_FIELDS))
                for r in self._each(self._employments_by_number, people)
                if self._employment_listed(r)
                and self._in_window(r.get("Begindatum_functie"), r.get("Einddatum_functie"))
            ]
        if connector == connectors.POSITIONS:
            employments = {
                (e["Medewerker"], e["ExternalID"]): e
                for e in self._each(self._employments_by_number, people)
            }
            return [
                self._with_manager(_select(r, connectors.POSITIONS_FIELDS))
                for r in self._each(self._positions_by_number, people)
                if self._in_window(r.get("Begindatum_functie"), r.get("Einddatum_functie"))
                and employments.get((r["Medewerker"], r["EmploymentExternalID"]), {}).get(
                    "Soort_medewerker_code"
                )
                != "N"
            ]
        if connector == connectors.ORGANIZATIONAL_UNITS:
            return [_select(r, connectors.ORGANIZATIONAL_UNITS_FIELDS) for r in self.units]
        if connector == connectors.GROUPS:
            return [
                _select(g, connectors.GROUPS_FIELDS)
                for g in self.groups
                if str(g["GroupId"]).casefold() != "iedereen" and not g.get("_blocked")
            ]
        blocked = {u["Gebruiker"] for u in self.users if u.get("Geblokkeerd")}
        return [
            _select(m, connectors.USER_GROUPS_FIELDS)
            for m in self.user_groups
            if str(m["GroupId"]).casefold() != "iedereen"
            and m.get("UserId")
            and m["UserId"] not in blocked
        ]

    @staticmethod
    def _each(
        index: Mapping[str, list[dict[str, Any]]], people: list[dict[str, Any]]
    ) -> Iterable[dict[str, Any]]:
        seen: set[str] = set()
        for person in people:
            number = person["Medewerker"]
            if number not in seen:
                seen.add(number)
                yield from index.get(number, [])

    def _with_manager(self, row: dict[str, Any]) -> dict[str, Any]:
        manager = row.get("Medewerkernummer_leidinggevende")
        if manager and not row.get("Persoonsnummer_leidinggevende"):
            row["Persoonsnummer_leidinggevende"] = self._person_numbers.get(manager)
        return row

    def _users_rows(self, people: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        rows = []
        for person in people:
            employments = self._employments_by_number.get(person["Medewerker"], [])
            if not (person.get("_listed") or any(self._employment_listed(r) for r in employments)):
                continue
            user = self.user_of(person.get("Persoonsnummer")) or {}
            row = {**{f: user.get(f) for f in _USER_FIELDS}, **person}
            rows.append(_select(row, connectors.USERS_FIELDS))
        return rows

    # --- writing -------------------------------------------------------------------------

    def update_employee(self, body: Any, *, insert: bool) -> dict[str, Any]:
        """Apply a ``KnEmployee`` body; raises :class:`Fault` as AFAS would."""
        element = _element(body, "AfasEmployee", {"@EmId", "Fields", "Objects"})
        number = str(_required(element, "@EmId"))
        fields: dict[str, Any] = {}
        objects = element.get("Objects") or []
        if not isinstance(objects, list):
            raise Fault(400, "Het element 'Objects' moet een lijst zijn.")
        for item in objects:
            if not isinstance(item, dict) or set(item) != {"KnPerson"}:
                name = next(iter(item), "?") if isinstance(item, dict) and item else "?"
                raise Fault(500, f"Het object '{name}' wordt niet ondersteund in 'AfasEmployee'.")
            fields = _fields(_element(item, "KnPerson", {"Fields"}), "KnPerson")
        if _fields(element, "AfasEmployee"):
            name = next(iter(element["Fields"]))
            raise Fault(500, f"Het veld '{name}' is onbekend in 'AfasEmployee'.")
        with self.lock:
            person = self.employee(number)
            if insert:
                if person is not None:
                    raise Fault(500, f"Medewerker '{number}' bestaat al.")
                raise Fault(
                    500,
                    "Een medewerker kan niet zonder dienstverband (AfasContract) worden aangemaakt.",
                )
            if person is None:
                raise Fault(
                    500, "De ingevulde waarde bij 'Medewerker' bestaat niet.", NOT_FOUND_NUMBER
                )
            if _mutation_code(fields.pop("MatchPer", 0), "MatchPer") != 0:
                raise Fault(500, "Alleen MatchPer 0 (match op persoonsnummer) wordt ondersteund.")
            code = fields.pop("BcCo", None)
            if code in (None, ""):
                raise Fault(500, "Het veld 'BcCo' is verplicht bij MatchPer 0.")
            if code != person["Persoonsnummer"]:
                raise Fault(500, f"Persoon '{code}' hoort niet bij medewerker '{number}'.")
            person.update(_changes(person, fields, EMPLOYEE_FIELDS, "KnPerson"))
            self._cache.clear()
        return {"results": {"KnEmployee": {"EmId": number}}}

    def update_user(self, body: Any, *, insert: bool) -> dict[str, Any]:
        """Apply a ``KnUser`` body: create (``MtCd`` 1 for an unknown ``@UsId``), update (1),
        block (2), unblock (6), rename (4 with ``UsIdNew``) or remove (0)."""
        element = _element(body, "KnUser", {"@UsId", "Fields"})
        user_id = str(_required(element, "@UsId"))
        fields = _fields(element, "KnUser")
        mutation = _mutation_code(fields.pop("MtCd", 1), "MtCd")
        for flag in _USER_FLAGS:
            if flag in fields:
                _value(fields.pop(flag), "Geblokkeerd")  # a yes/no field, like InSi
        name = fields.pop("Nm", None)
        _text(name, "Nm")
        with self.lock:
            self._cache.clear()
            user = self.user(user_id)
            if user is None or insert:
                if user is not None:
                    raise Fault(500, f"Gebruiker '{user_id}' bestaat al.")
                return self._create_user(user_id, fields, name, mutation)
            code = fields.pop("BcCo", None)
            if code not in (None, "", user["Persoonsnummer"]):
                raise Fault(500, f"Gebruiker '{user_id}' hoort niet bij persoon '{code}'.")
            if mutation == 0:
                self._remove_user(user)
                return {"results": {"KnUser": {"UsId": user_id}}}
            blocked = user["Geblokkeerd"]
            if mutation == 4:
                self._rename_user(user, str(fields.pop("UsIdNew", "") or "").strip())
            elif mutation in (2, 6):
                blocked = mutation == 2
                if blocked == user["Geblokkeerd"]:
                    state = "geblokkeerd" if blocked else "niet geblokkeerd"
                    raise Fault(500, f"Gebruiker '{user_id}' is al {state}.")
            elif mutation != 1:
                raise Fault(500, f"Mutatiecode '{mutation}' wordt niet ondersteund.")
            changes = _changes(user, fields, USER_FIELDS, "KnUser")
            self._set_user(user, changes)
            user["Geblokkeerd"] = blocked
            if name is not None:
                user["_name"] = name
        return {"results": {"KnUser": {"UsId": user["Gebruiker"]}}}

    def _create_user(
        self, user_id: str, fields: dict[str, Any], name: Any, mutation: int
    ) -> dict[str, Any]:
        code = fields.pop("BcCo", None)
        if mutation != 1 or code in (None, ""):
            raise Fault(500, f"De gebruiker '{user_id}' bestaat niet.", NOT_FOUND_NUMBER)
        if fields.pop("UsIdNew", user_id) != user_id:
            raise Fault(500, "Bij een nieuwe gebruiker moet 'UsIdNew' gelijk zijn aan '@UsId'.")
        password = fields.pop("Pw", None)
        if not isinstance(password, str) or not password:
            raise Fault(500, "Het veld 'Wachtwoord' (Pw) is verplicht bij een nieuwe gebruiker.")
        if not any(p["Persoonsnummer"] == code for p in self.people):
            raise Fault(500, "De ingevulde waarde bij 'Persoon' bestaat niet.", NOT_FOUND_NUMBER)
        if self.user_of(code) is not None:
            raise Fault(500, f"Persoon '{code}' heeft al een gebruiker.")
        user = _new_user(user_id, code, name, in_site=False)
        changes = _changes(user, fields, USER_FIELDS, "KnUser", allow_same=True)
        self._add_user(user)
        self._set_user(user, changes)
        return {"results": {"KnUser": {"UsId": user_id}}}

    def _add_user(self, user: dict[str, Any]) -> None:
        if user.get("UPN") and self._upn_holder(user["UPN"]) is not None:
            raise Fault(500, f"De UPN '{user['UPN']}' is al in gebruik.")
        self.users.append(user)
        self._users_by_id[user["Gebruiker"]] = user
        self._users_by_person.setdefault(user["Persoonsnummer"], user)
        if user.get("UPN"):
            self._upns[str(user["UPN"]).casefold()] = user

    def _remove_user(self, user: dict[str, Any]) -> None:
        self.users.remove(user)
        self._users_by_id.pop(user["Gebruiker"], None)
        if self._users_by_person.get(user["Persoonsnummer"]) is user:
            del self._users_by_person[user["Persoonsnummer"]]
        if user.get("UPN"):
            self._upns.pop(str(user["UPN"]).casefold(), None)
        self.user_groups = [m for m in self.user_groups if m["UserId"] != user["Gebruiker"]]

    def _rename_user(self, user: dict[str, Any], new_id: str) -> None:
        if not new_id or new_id in self._users_by_id:
            raise Fault(500, f"De nieuwe gebruikerscode '{new_id}' is leeg of bestaat al.")
        for membership in self.user_groups:
            if membership["UserId"] == user["Gebruiker"]:
                membership["UserId"] = new_id
        del self._users_by_id[user["Gebruiker"]]
        user["Gebruiker"] = new_id
        self._users_by_id[new_id] = user

    def _upn_holder(self, upn: Any) -> dict[str, Any] | None:
        return self._upns.get(str(upn).casefold()) if upn else None

    def _set_user(self, user: dict[str, Any], changes: Mapping[str, Any]) -> None:
        if "UPN" in changes:
            holder = self._upn_holder(changes["UPN"])
            if holder is not None and holder is not user:
                raise Fault(
                    500,
                    f"De UPN '{changes['UPN']}' is al in gebruik bij gebruiker '{holder['Gebruiker']}'.",
                )
            if user.get("UPN"):
                self._upns.pop(str(user["UPN"]).casefold(), None)
            if changes["UPN"]:
                self._upns[str(changes["UPN"]).casefold()] = user
        user.update(changes)

    # --- seeding -------------------------------------------------------------------------

    def remove_employees(self, numbers: Iterable[str]) -> None:
        """Drop employees with their employments, positions and users, as if HR lost them."""
        gone = {str(n) for n in numbers}
        with self.lock:
            persons = {p["Persoonsnummer"] for p in self.people if p["Medewerker"] in gone}
            self.people = [p for p in self.people if p["Medewerker"] not in gone]
            self.employments = [e for e in self.employments if e["Medewerker"] not in gone]
            self.positions = [p for p in self.positions if p["Medewerker"] not in gone]
            self.users = [u for u in self.users if u["Persoonsnummer"] not in persons]
            self.changed()

    def add_unit(
        self, external_id: str, name: str, parent: str | None, manager: str | None
    ) -> None:
        """Add an organisational unit."""
        with self.lock:
            self.units.append(
                {
                    "ExternalId": external_id,
                    "DisplayName": name,
                    "ParentExternalId": parent,
                    "ManagerExternalId": manager,
                    "Huidige_vervanger": None,
                }
            )
            self._cache.clear()

    def add_person(
        self,
        person: Mapping[str, Any],
        *,
        listed: bool = False,
        with_user: bool = True,
    ) -> None:
        """Add one person in the core model's shape (a dump or a raw, possibly invalid, dict).

        A contract id ``position~employment`` makes a position of that employment; several
        positions may share one employment. Other contract ids are employments without
        positions. ``listed`` shows the employee in the Users connector whatever the
        contract dates (for rows whose dates are broken). Call :meth:`changed` when done.
        """
        number = _str(person.get("external_id")) or ""
        name = _mapping(person.get("name"))
        contact = _mapping(person.get("contact"))
        extra = _mapping(person.get("extra"))
        person_number = _str(extra.get("Persoonsnummer")) or (f"P{number}" if number else "")
        convention = name.get("convention", "B")
        display = _str(person.get("display_name")) or ""
        row = {
            "Medewerker": number,
            "Persoonsnummer": person_number,
            "DisplayName": display,
            "Voorletters": name.get("initials"),
            "Roepnaam": name.get("nick"),
            "Voornaam": name.get("given"),
            "Voorvoegsel": name.get("family_prefix"),
            "Geboortenaam": name.get("family"),
            "Geboortenaam_partner": name.get("partner"),
            "Voorvoegsel_partner": name.get("partner_prefix"),
            "Naamgebruik_code": connectors.CODE_BY_CONVENTION.get(str(convention), convention),
            "Mobielnr_werk": contact.get("mobile"),
            "Telefoonnr_werk": contact.get("phone"),
            "Email_werk": contact.get("email"),
            "Email_portal": extra.get("Email_portal"),
            "_listed": listed,
        }
        manager = _mapping(person.get("manager")).get("external_id")
        with self.lock:
            self.people.append(row)
            if with_user and number:
                user = _new_user(
                    _str(extra.get("Gebruiker")) or f"{self.member}.{number}",
                    person_number,
                    display,
                    in_site=True,
                )
                user["UPN"] = extra.get("UPN")
                user["Email_werk_gebruiker"] = extra.get("Email_werk_gebruiker")
                self.users.append(user)
            self._add_contracts(row, person.get("contracts") or [], manager)

    def _add_contracts(
        self, person: Mapping[str, Any], contracts: Iterable[Any], person_manager: Any
    ) -> None:
        # One employment per plain contract (duplicates stay duplicates, as broken data
        # would); positions ``p~e`` share the employment ``e``.
        groups: list[tuple[str, list[tuple[str | None, Mapping[str, Any]]]]] = []
        shared: dict[str, list[tuple[str | None, Mapping[str, Any]]]] = {}
        for index, raw in enumerate(contracts, start=1):
            contract = _mapping(raw)
            contract_id = _str(contract.get("external_id")) or f"{person['Medewerker']}-{index}"
            position, sep, employment = contract_id.partition("~")
            if sep and position and employment:
                if employment not in shared:
                    shared[employment] = []
                    groups.append((employment, shared[employment]))
                shared[employment].append((position, contract))
            else:
                groups.append((contract_id, [(None, contract)]))
        for sequence, (employment_id, items) in enumerate(groups, start=1):
            first = items[0][1]
            start, end = _span([c for _, c in items])
            fte = first.get("fte")
            contract_type = _mapping(first.get("type"))
            self.employments.append(
                {
                    **_contract_common(person, first, _manager(first, person_manager)),
                    "Type_contract": "O" if end is None else "B",
                    "Dienstverband": "01",
                    "Volgnummer_contract": first.get("sequence") or sequence,
                    "Begindatum_contract": afas_date(start),
                    "Einddatum_contract": afas_date(end),
                    "Begindatum_functie": afas_date(start),
                    "Einddatum_functie": afas_date(end),
                    "Uren_per_week": first.get("hours_per_week"),
                    "Parttime_percentage": _percentage(fte),
                    "FTE": fte,
                    "Persoonsnummer_VervangendLeidinggevende": None,
                    "Medewerkernummer_VervangendLeidinggevende": None,
                    "ExternalID": employment_id,
                    "Soort_medewerker": contract_type.get("name"),
                    "Soort_medewerker_code": contract_type.get("code"),
                    "Dienstbetrekking": True,
                }
            )
            for position_id, contract in items:
                if position_id is None:
                    continue
                self.positions.append(
                    {
                        **_contract_common(person, contract, _manager(contract, person_manager)),
                        "Begindatum_functie": afas_date(contract.get("start")),
                        "Einddatum_functie": afas_date(contract.get("end")),
                        "Percentage": _percentage(contract.get("fte")),
                        "Persoonsnummer_VervangendLeidinggevende": None,
                        "Medewerkernummer_VervangendLeidinggevende": None,
                        "EmploymentExternalID": employment_id,
                        "ExternalID": position_id,
                    }
                )


def _new_user(user_id: str, person_number: Any, name: Any, *, in_site: bool) -> dict[str, Any]:
    return {
        "Gebruiker": user_id,
        "Persoonsnummer": person_number,
        "Geblokkeerd": False,
        "UPN": None,
        "Email_werk_gebruiker": None,
        "Profit_Windows": False,
        "Connector": False,
        "Reservekopieen_via_commandline": False,
        "Commandline": False,
        "InSite": in_site,
        "OutSite": False,
        "_name": name,
    }


def _span(contracts: list[Mapping[str, Any]]) -> tuple[Any, Any]:
    """An employment's first start and last end (None when a position is open-ended)."""
    if len(contracts) == 1:
        return contracts[0].get("start"), contracts[0].get("end")
    starts = [c.get("start") for c in contracts]
    ends = [c.get("end") for c in contracts]
    start = min(starts, key=lambda v: str(afas_date(v)))
    end = None if any(e is None for e in ends) else max(ends, key=lambda v: str(afas_date(v)))
    return start, end


def _contract_common(
    person: Mapping[str, Any], contract: Mapping[str, Any], manager: str | None
) -> dict[str, Any]:
    department = _mapping(contract.get("department"))
    title = _mapping(contract.get("title"))
    cost_center = _mapping(contract.get("cost_center"))
    employer = _mapping(contract.get("employer"))
    return {
        "Medewerker": person["Medewerker"],
        "Persoonsnummer": person["Persoonsnummer"],
        "Naam": person["DisplayName"],
        "Organisatorische_eenheid_code": _code(department),
        "Organisatorische_eenheid_omschrijving": department.get("name"),
        "Functie_code": _code(title),
        "Functie_omschrijving": title.get("name"),
        "Kostenplaats_code": _code(cost_center),
        "Kostenplaats_omschrijving": cost_center.get("name"),
        "Werkgever_code": _code(employer),
        "Werkgever_omschrijving": employer.get("name"),
        "Persoonsnummer_leidinggevende": None,
        "Medewerkernummer_leidinggevende": manager,
    }


def _manager(contract: Mapping[str, Any], person_manager: Any) -> str | None:
    return _str(_mapping(contract.get("manager")).get("external_id")) or _str(person_manager)


def _code(ref: Mapping[str, Any]) -> Any:
    return ref.get("external_id") or ref.get("code")


def _percentage(fte: Any) -> Any:
    return (
        round(fte * 100, 2) if isinstance(fte, int | float) and not isinstance(fte, bool) else None
    )


def _str(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if text.strip() else None


def _mapping(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if hasattr(value, "model_dump"):
        dumped: Mapping[str, Any] = value.model_dump()
        return dumped
    return {}


def _select(row: Mapping[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    return {f: row.get(f) for f in fields}


def _element(body: Any, name: str, allowed: set[str]) -> dict[str, Any]:
    """``body[name]["Element"]``, refusing any other key on the way (AFAS knows its schema)."""
    if not isinstance(body, dict) or not isinstance(body.get(name), dict):
        raise Fault(400, f"Het element '{name}' ontbreekt in het bericht.")
    if set(body) != {name}:
        other = sorted(set(body) - {name})[0]
        raise Fault(400, f"Het element '{other}' is onbekend naast '{name}'.")
    wrapper = body[name]
    if not isinstance(wrapper.get("Element"), dict):
        raise Fault(400, "Het element 'Element' ontbreekt in het bericht.")
    if set(wrapper) != {"Element"}:
        other = sorted(set(wrapper) - {"Element"})[0]
        raise Fault(400, f"Het element '{other}' is onbekend in '{name}'.")
    element: dict[str, Any] = wrapper["Element"]
    unknown = set(element) - allowed
    if unknown:
        raise Fault(400, f"Het element '{sorted(unknown)[0]}' is onbekend in '{name}'.")
    return element


def _fields(element: Mapping[str, Any], name: str) -> dict[str, Any]:
    """An element's ``Fields`` (an object of plain values), as a copy."""
    fields = element.get("Fields") or {}
    if not isinstance(fields, dict):
        raise Fault(400, f"'Fields' van '{name}' moet een object zijn.")
    for key, value in fields.items():
        if isinstance(value, dict | list):
            raise Fault(500, f"De waarde van veld '{key}' in '{name}' is geen enkelvoudige waarde.")
    return dict(fields)


def _mutation_code(value: Any, field: str) -> int:
    """A numeric code (``MtCd``, ``MatchPer``) as a number or a string of digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise Fault(500, f"De waarde '{value}' is ongeldig voor '{field}'.")


def _text(value: Any, field: str) -> None:
    """Refuse a yes/no value for a text field (numbers AFAS writes as their text)."""
    if isinstance(value, bool):
        raise Fault(500, f"De waarde '{value}' is ongeldig voor tekstveld '{field}'.")


def _required(element: Mapping[str, Any], key: str) -> Any:
    value = element.get(key)
    if value in (None, ""):
        raise Fault(400, f"Het element '{key}' ontbreekt in het bericht.")
    return value


def _changes(
    row: Mapping[str, Any],
    fields: Mapping[str, Any],
    known: Mapping[str, str],
    element: str,
    *,
    allow_same: bool = False,
) -> dict[str, Any]:
    """The row changes a set of UpdateConnector fields makes; a field that would keep its
    current value is refused, as AFAS refuses it."""
    changes = {}
    for name, value in fields.items():
        if name not in known:
            raise Fault(500, f"Het veld '{name}' is onbekend in '{element}'.")
        target = known[name]
        if target not in _BOOLEAN_FIELDS:
            _text(value, name)
        new = _value(value, target)
        if not allow_same and new == _value(row.get(target), target):
            raise Fault(
                500,
                f"De waarde van veld '{name}' is niet gewijzigd: '{value}' is de huidige waarde.",
            )
        changes[target] = new
    return changes
