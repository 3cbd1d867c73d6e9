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

The ``KnUser`` fields live on the employee's AFAS user (``Gebruiker``). An employee without
one cannot take them: the write is *blocked* until someone makes the user, unless the
settings let idsync make it (``manage_users``), as Tools4ever's AFAS Users connector does:
``KnUser`` mutation 1 with the new ``@UsId``, the person (``BcCo``), a name, a password AFAS
requires but nobody uses, and every extra right off. Users are blocked (mutation 2) and
unblocked (6) only with ``manage_users``, and never removed (0).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from idsync import Account

from idsync_afas.client import AfasClient, AfasError
from idsync_afas.settings import WRITABLE_FIELDS, AfasSettings

__all__ = [
    "EMPLOYEE_FIELDS",
    "MUTATION_BLOCK",
    "MUTATION_UNBLOCK",
    "NEW_USER_RIGHTS",
    "READ_ONLY_FIELDS",
    "USER_FIELDS",
    "Write",
    "account_data",
    "apply",
    "block_body",
    "current_row",
    "missing_user",
    "new_user_body",
    "new_user_id",
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

MUTATION_UPDATE: Final = 1
"""``KnUser`` mutation code (``MtCd``) of a create or an update."""
MUTATION_BLOCK: Final = 2
MUTATION_UNBLOCK: Final = 6

NEW_USER_RIGHTS = ("Awin", "Acon", "Abac", "Acom", "OcUs", "PoMa", "AcUs")
"""Rights of an AFAS user that a user idsync creates gets switched off: Profit Windows,
connector, backups and command line use, the co-worker licence, portal management and AFAS
Accept."""

USER_ID_LENGTH = 20
"""AFAS user ids are at most 20 characters."""

_PASSWORD_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "!#$%&*+-=?@_")

_BOOLEANS = frozenset({"InSite", "OutSite", "Geblokkeerd"})
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
    element = {"@UsId": row.get("Gebruiker"), "Fields": {"MtCd": MUTATION_UPDATE, **fields}}
    return {"KnUser": {"Element": element}}


def block_body(user_id: str, *, blocked: bool) -> dict[str, Any]:
    """A ``KnUser`` block (mutation 2) or unblock (mutation 6) of one user."""
    mutation = MUTATION_BLOCK if blocked else MUTATION_UNBLOCK
    return {"KnUser": {"Element": {"@UsId": user_id, "Fields": {"MtCd": mutation}}}}


def new_user_id(settings: AfasSettings, row: Mapping[str, Any]) -> str:
    """``{relation_number}.{Medewerker}``, cut to the 20 characters AFAS allows."""
    return f"{settings.relation_number}.{row.get('Medewerker')}"[:USER_ID_LENGTH]


def _password() -> str:
    chars = [secrets.choice(group) for group in _PASSWORD_CLASSES]
    alphabet = "".join(_PASSWORD_CLASSES)
    chars += [secrets.choice(alphabet) for _ in range(24 - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def new_user_body(
    settings: AfasSettings, row: Mapping[str, Any], fields: Mapping[str, Any]
) -> dict[str, Any]:
    """A ``KnUser`` create for the employee's person: mutation 1 with a new ``@UsId``.

    AFAS requires a password (``Pw``) although the user signs in otherwise; a random one is
    sent and kept nowhere.
    """
    values: dict[str, Any] = {
        "MtCd": MUTATION_UPDATE,
        "BcCo": row.get("Persoonsnummer"),
        "Nm": row.get("DisplayName"),
        **fields,
        **dict.fromkeys(NEW_USER_RIGHTS, False),
        "Pw": _password(),
    }
    return {"KnUser": {"Element": {"@UsId": new_user_id(settings, row), "Fields": values}}}


def missing_user(row: Mapping[str, Any], write: Write) -> str | None:
    """Why ``write`` cannot be sent as it stands: it has user fields and there is no user."""
    if not write.user or row.get("Gebruiker"):
        return None
    keys = [k for k in write.written if k in USER_FIELDS]
    return (
        f"employee {row.get('Medewerker')} has no AFAS user (Gebruiker is empty), so "
        f"{', '.join(keys)} cannot be written: create the user in AFAS Profit, or let idsync "
        "create it (setting manage_users)"
    )


def apply(
    client: AfasClient, settings: AfasSettings, row: Mapping[str, Any], write: Write
) -> str | None:
    """Send a planned write: ``KnEmployee`` first, then ``KnUser``; the id of a created user.

    An employee without an AFAS user gets one (``POST`` of a mutation 1) when the settings
    allow it; otherwise the write is refused before anything is sent. A failure half-way is
    safe to repeat: the next attempt reads the current values again and sends only what
    still differs.
    """
    reason = missing_user(row, write)
    if reason is not None and not settings.manage_users:
        raise AfasError(reason)
    if write.employee:
        client.update(settings.employee_update_connector, employee_body(row, write.employee))
    if not write.user:
        return None
    if reason is not None:
        body = new_user_body(settings, row, write.user)
        client.update(settings.user_update_connector, body, method="POST")
        return new_user_id(settings, row)
    client.update(settings.user_update_connector, user_body(row, write.user))
    return None


def user_enabled(row: Mapping[str, Any]) -> bool | None:
    """Whether the employee's AFAS user may sign in; None when the employee has no user."""
    if not row.get("Gebruiker"):
        return None
    return not _normal("Geblokkeerd", row.get("Geblokkeerd"))


def accounts(rows: Iterable[Mapping[str, Any]], *, users: bool = False) -> Iterable[Account]:
    """Users rows as accounts (reference = employee number).

    With ``users`` (``manage_users``) an account is enabled when its AFAS user is not blocked;
    otherwise the enabled state is not the write-back's to report.
    """
    for row in rows:
        number = _normal("Medewerker", row.get("Medewerker"))
        if number:
            enabled = user_enabled(row) if users else None
            yield Account(reference=number, data=account_data(row), enabled=enabled)
