"""The AFAS connectors idsync speaks: the standard GetConnectors and their Dutch field names.

The field lists are those of the ``T4E_HelloID_*_v2`` GetConnector definitions (the ``.gcn``
files most AFAS environments import for provisioning). The plugin reads these fields; the
simulator serves exactly these fields.
"""

from __future__ import annotations

from typing import Final, Literal

__all__ = [
    "CODE_BY_CONVENTION",
    "CONVENTION_BY_CODE",
    "EMPLOYMENTS",
    "EMPLOYMENTS_FIELDS",
    "GET_CONNECTORS",
    "GROUPS",
    "GROUPS_FIELDS",
    "ORGANIZATIONAL_UNITS",
    "ORGANIZATIONAL_UNITS_FIELDS",
    "POSITIONS",
    "POSITIONS_FIELDS",
    "USERS",
    "USERS_FIELDS",
    "USER_GROUPS",
    "USER_GROUPS_FIELDS",
]

USERS: Final = "T4E_HelloID_Users_v2"
EMPLOYMENTS: Final = "T4E_HelloID_Employments_v2"
POSITIONS: Final = "T4E_HelloID_Positions_v2"
ORGANIZATIONAL_UNITS: Final = "T4E_HelloID_OrganizationalUnits_v2"
GROUPS: Final = "T4E_HelloID_Groups_v2"
USER_GROUPS: Final = "T4E_HelloID_UserGroups_v2"

USERS_FIELDS: Final = (
    "Medewerker",
    "Gebruiker",
    "Persoonsnummer",
    "DisplayName",
    "Geblokkeerd",
    "UPN",
    "Email_werk_gebruiker",
    "Profit_Windows",
    "Connector",
    "Reservekopieen_via_commandline",
    "Commandline",
    "InSite",
    "OutSite",
    "Voorletters",
    "Roepnaam",
    "Voornaam",
    "Voorvoegsel",
    "Geboortenaam",
    "Geboortenaam_partner",
    "Voorvoegsel_partner",
    "Naamgebruik_code",
    "Mobielnr_werk",
    "Telefoonnr_werk",
    "Email_werk",
    "Email_portal",
)

_CONTRACT_COMMON: Final = (
    "Medewerker",
    "Persoonsnummer",
    "Naam",
    "Organisatorische_eenheid_code",
    "Organisatorische_eenheid_omschrijving",
    "Functie_code",
    "Functie_omschrijving",
    "Kostenplaats_code",
    "Kostenplaats_omschrijving",
    "Werkgever_code",
    "Werkgever_omschrijving",
)

EMPLOYMENTS_FIELDS: Final = (
    *_CONTRACT_COMMON,
    "Type_contract",
    "Dienstverband",
    "Volgnummer_contract",
    "Begindatum_contract",
    "Einddatum_contract",
    "Begindatum_functie",
    "Einddatum_functie",
    "Uren_per_week",
    "Parttime_percentage",
    "FTE",
    "Persoonsnummer_leidinggevende",
    "Medewerkernummer_leidinggevende",
    "Persoonsnummer_VervangendLeidinggevende",
    "Medewerkernummer_VervangendLeidinggevende",
    "ExternalID",
    "Soort_medewerker",
    "Soort_medewerker_code",
    "Dienstbetrekking",
)

POSITIONS_FIELDS: Final = (
    *_CONTRACT_COMMON,
    "Begindatum_functie",
    "Einddatum_functie",
    "Percentage",
    "Persoonsnummer_leidinggevende",
    "Medewerkernummer_leidinggevende",
    "Persoonsnummer_VervangendLeidinggevende",
    "Medewerkernummer_VervangendLeidinggevende",
    "EmploymentExternalID",
    "ExternalID",
)

ORGANIZATIONAL_UNITS_FIELDS: Final = (
    "ExternalId",
    "DisplayName",
    "ParentExternalId",
    "ManagerExternalId",
    "Huidige_vervanger",
)

GROUPS_FIELDS: Final = ("GroupId", "Description")
USER_GROUPS_FIELDS: Final = ("GroupId", "UserId")

GET_CONNECTORS: Final[dict[str, tuple[str, ...]]] = {
    USERS: USERS_FIELDS,
    EMPLOYMENTS: EMPLOYMENTS_FIELDS,
    POSITIONS: POSITIONS_FIELDS,
    ORGANIZATIONAL_UNITS: ORGANIZATIONAL_UNITS_FIELDS,
    GROUPS: GROUPS_FIELDS,
    USER_GROUPS: USER_GROUPS_FIELDS,
}
"""Each standard GetConnector and the fields of its rows, in definition order."""

Convention = Literal["B", "BP", "P", "PB"]

CONVENTION_BY_CODE: Final[dict[str, Convention]] = {"0": "B", "1": "PB", "2": "P", "3": "BP"}
"""``Naamgebruik_code`` to naming convention: 0 birth name, 1 partner-birth, 2 partner,
3 birth-partner."""

CODE_BY_CONVENTION: Final[dict[str, str]] = {v: k for k, v in CONVENTION_BY_CODE.items()}
