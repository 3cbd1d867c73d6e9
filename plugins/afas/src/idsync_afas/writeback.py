"""The write-back target: e-mail, phone, UPN and InSite written to existing AFAS employees.

Account keys are the ``T4E_HelloID_Users_v2`` field names (so correlation, the values read
back and the values written speak the same names):

=======================  =====================  ===========================
account key              UpdateConnector        AFAS field
=======================  =====================  ===========================
``Email_werk``           ``KnEmployee``         ``KnPerson.EmAd``
``Email_portal``         ``KnEmployee``         ``KnPerson.EmailPortal``
``Telefoonnr_werk``      ``KnEmployee``         ``KnPerson.TeNr``
``Mobielnr_werk``        ``KnEmployee``         ``KnPerson.MbNr``
``UPN``                  ``KnUser``             ``Upn``
``Email_werk_gebruiker`` ``KnUser``             ``EmAd``
``InSite``               ``KnUser``             ``InSi``
``OutSite``              ``KnUser``             ``Site``
=======================  =====================  ===========================

AFAS rejects a field set to the value it already holds, so every write first reads the
employee's current row and sends only the fields whose value differs. Employees are never
created (create only correlates) nor deleted (delete clears the unique fields).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from idsync import Account

from idsync_afas.client import AfasClient, AfasError
from idsync_afas.settings import WRITABLE_FIELDS, AfasSettings

__all__ = [
    "EMPLOYEE_FIELDS",
    "READ_ONLY_FIELDS",
    "USER_FIELDS",
    "Write",
    "account_data",
    "apply",
    "current_row",
    "plan",
]

EMPLOYEE_FIELDS = {
    "Email_werk": "EmAd",
    "Email_portal": "EmailPortal",
    "Telefoonnr_werk": "TeNr",
    "Mobielnr_werk": "MbNr",
}
"""Account key to ``KnEmployee``/``KnPerson`` field."""

USER_FIELDS = {
    "UPN": "Upn",
    "Email_werk_gebruiker": "EmAd",
    "InSite": "InSi",
    "OutSite": "Site",
}
"""Account key to ``KnUser`` field."""

READ_ONLY_FIELDS = ("Medewerker", "Persoonsnummer", "Gebruiker")
"""Keys an account may carry (for correlation) but the write-back never changes."""

_BOOLEANS = frozenset({"InSite", "OutSite"})
_TRUE = frozenset({"true", "1", "yes", "ja", "y", "j"})
_FALSE = frozenset({"false", "0", "no", "nee", "n", ""})


def _normal(key: str, value: Any) -> Any:
    """A value as AFAS compares it: booleans as bool, text trimmed, empty as None."""
    if key in _BOOLEANS:
        if isinstance(value, bool):
            return value
        text = "" if value is None else str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"{key}: {value!r} is not true or false")
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def account_data(row: Mapping[str, Any]) -> dict[str, Any]:
    """The account as the write-back sees it: identifiers and writable fields of a Users row."""
    data = {key: _normal(key, row.get(key)) for key in READ_ONLY_FIELDS}
    data.update({key: _normal(key, row.get(key)) for key in WRITABLE_FIELDS})
    return data


def current_row(client: AfasClient, settings: AfasSettings, number: str) -> dict[str, Any] | None:
    """The employee's Users row, or None when AFAS does not list the employee."""
    rows = client.find(settings.users_connector, "Medewerker", number)
    if len(rows) > 1:
        raise AfasError(
            f"employee {number} appears {len(rows)} times in {settings.users_connector}"
        )
    return rows[0] if rows else None


@dataclass
class Write:
    """What one write sends: the fields per UpdateConnector and the values as written."""

    employee: dict[str, Any] = field(default_factory=dict)
    user: dict[str, Any] = field(default_factory=dict)
    written: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.employee or self.user)

    def describe(self) -> str:
        """``Email_werk, UPN`` — the keys that change."""
        return ", ".join(self.written)


def plan(row: Mapping[str, Any], desired: Mapping[str, Any]) -> Write:
    """The fields of ``desired`` whose value differs from the employee's current ``row``.

    Raises ``ValueError`` for a key the write-back does not know, a read-only key that would
    change, or a value that cannot be written.
    """
    write = Write()
    unknown = [k for k in desired if k not in WRITABLE_FIELDS and k not in READ_ONLY_FIELDS]
    if unknown:
        raise ValueError(
            f"unknown account keys {unknown}; the AFAS write-back knows "
            f"{list(WRITABLE_FIELDS)} (and {list(READ_ONLY_FIELDS)} for correlation)"
        )
    for key, value in desired.items():
        want, have = _normal(key, value), _normal(key, row.get(key))
        if key in READ_ONLY_FIELDS:
            if want is not None and want != have:
                raise ValueError(f"{key} cannot be changed by the write-back ({have!r} → {want!r})")
            continue
        if want == have:
            continue
        sent: Any = want if want is not None else ""
        if key in EMPLOYEE_FIELDS:
            write.employee[EMPLOYEE_FIELDS[key]] = sent
        else:
            write.user[USER_FIELDS[key]] = sent
        write.written[key] = want
    return write


def employee_body(row: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """A ``KnEmployee`` update: the employee by ``@EmId``, the person matched on ``BcCo``."""
    person_fields = {"MatchPer": 0, "BcCo": row.get("Persoonsnummer"), **fields}
    return {
        "AfasEmployee": {
            "Element": {
                "@EmId": row.get("Medewerker"),
                "Objects": [{"KnPerson": {"Element": {"Fields": person_fields}}}],
            }
        }
    }


def user_body(row: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    """A ``KnUser`` update of the employee's AFAS user (mutation code 1 = update)."""
    return {"KnUser": {"Element": {"@UsId": row.get("Gebruiker"), "Fields": {"MtCd": 1, **fields}}}}


def apply(client: AfasClient, settings: AfasSettings, row: Mapping[str, Any], write: Write) -> None:
    """Send a planned write: ``KnEmployee`` first, then ``KnUser``.

    A failure half-way is safe to repeat: the next attempt reads the current values again
    and sends only what still differs.
    """
    if write.user and not row.get("Gebruiker"):
        keys = [k for k in write.written if k in USER_FIELDS]
        raise AfasError(
            f"employee {row.get('Medewerker')} has no AFAS user (Gebruiker is empty), "
            f"so {', '.join(keys)} cannot be written"
        )
    if write.employee:
        client.update(settings.employee_update_connector, employee_body(row, write.employee))
    if write.user:
        client.update(settings.user_update_connector, user_body(row, write.user))


def accounts(rows: Iterable[Mapping[str, Any]]) -> Iterable[Account]:
    """Users rows as accounts (reference = employee number)."""
    for row in rows:
        number = _normal("Medewerker", row.get("Medewerker"))
        if number:
            yield Account(reference=number, data=account_data(row))
