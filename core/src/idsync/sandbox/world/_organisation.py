"""The sandbox organisation's shape: cities, employers, contract types and the department tree.

The tree is a fixed list of units; each seed leaves out some optional leaves, so worlds differ.
Every unit carries what a contract in it copies: location, job titles, employer, cost center.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

Title = tuple[str, str]

CITIES: dict[str, tuple[str, str]] = {
    # code: (name, area code without the leading 0)
    "UTR": ("Utrecht", "30"),
    "AMS": ("Amsterdam", "20"),
    "RTM": ("Rotterdam", "10"),
    "DHG": ("Den Haag", "70"),
    "ZWL": ("Zwolle", "38"),
    "GRN": ("Groningen", "50"),
    "EHV": ("Eindhoven", "40"),
    "DBS": ("'s-Hertogenbosch", "73"),
}
HEAD_OFFICE = "UTR"
CITY_CODES = tuple(CITIES)

EMPLOYERS: dict[str, str] = {
    "01": "Noorderlicht Groep B.V.",
    "02": "Noorderlicht Dienstverlening B.V.",
    "03": "Noorderlicht Commercie B.V.",
}
AGENCIES: tuple[tuple[str, str], ...] = (
    ("EXT-FLX", "Flexpool Nederland B.V."),
    ("EXT-BTW", "Bitwerk Detachering B.V."),
    ("EXT-ZZP", "Zelfstandige zonder personeel"),
)

TYPES: dict[str, str] = {
    "VAST": "Onbepaalde tijd",
    "TIJD": "Bepaalde tijd",
    "STAGE": "Stage",
    "EXT": "Extern (inhuur)",
}

MANAGER_TITLES: dict[int, Title] = {
    1: ("DIR-ALG", "Algemeen directeur"),
    2: ("MGR-DIV", "Divisiemanager"),
    3: ("MGR", "Afdelingsmanager"),
    4: ("TL", "Teamleider"),
}
EXTERNAL_TITLES: tuple[Title, ...] = (
    ("EXT-INH", "Inhuurkracht"),
    ("EXT-CON", "Externe consultant"),
    ("EXT-ZZP", "Zzp'er"),
)
INTERN_TITLE: Title = ("STAGE", "Stagiair")


@dataclass(frozen=True)
class _UnitSpec:
    code: str
    name: str
    parent: str | None
    weight: float
    """The unit's share of the staff (0: nobody is placed here at random)."""
    city: str | None = None
    """Location code; None = the parent's."""
    titles: tuple[Title, ...] = ()
    """The unit's job titles, drawn evenly (repeat one to make it commoner); empty = the
    parent's."""
    employer: str | None = None
    """Employer code; None = the parent's."""
    optional: bool = False
    """Leaves only: left out by some seeds, so the tree differs per seed."""


_UNITS: tuple[_UnitSpec, ...] = (
    _UnitSpec(
        "NLG", "Noorderlicht Groep", None, 0.3, HEAD_OFFICE,
        (("DIR-SEC", "Directiesecretaris"), ("DIR-BA", "Beleidsadviseur"),
         ("DIR-MA", "Management assistant")),
        "01",
    ),
    _UnitSpec("DIR", "Directie & Bestuursstaf", "NLG", 1.0),
    _UnitSpec(
        "JUR", "Juridische Zaken & Compliance", "DIR", 1.0,
        titles=(("JUR-JUR", "Jurist"), ("JUR-CMP", "Compliance officer"),
                ("JUR-FG", "Functionaris gegevensbescherming")),
    ),
    _UnitSpec(
        "COM", "Communicatie", "DIR", 1.0,
        titles=(("COM-ADV", "Communicatieadviseur"), ("COM-CNT", "Contentspecialist")),
        optional=True,
    ),
    _UnitSpec(
        "FIN", "Financiën", "NLG", 0.4,
        titles=(("FIN-MW", "Financieel medewerker"), ("FIN-BOE", "Boekhouder"),
                ("FIN-CTL", "Business controller")),
    ),
    _UnitSpec("FIN-ADM", "Financiële Administratie", "FIN", 0.6),
    _UnitSpec("FIN-ADM-CRD", "Crediteuren", "FIN-ADM", 1.5),
    _UnitSpec("FIN-ADM-DEB", "Debiteuren", "FIN-ADM", 1.2),
    _UnitSpec("FIN-CTL", "Control", "FIN", 1.2, titles=(("FIN-CTL", "Business controller"),)),
    _UnitSpec(
        "FIN-SAL", "Salarisadministratie", "FIN", 1.0,
        titles=(("FIN-SAL", "Salarisadministrateur"),), optional=True,
    ),
    _UnitSpec(
        "ICT", "ICT", "NLG", 0.4,
        titles=(("ICT-FB", "Functioneel beheerder"), ("ICT-ARC", "Enterprise architect")),
    ),
    _UnitSpec(
        "ICT-OPS", "ICT Operations", "ICT", 0.6,
        titles=(("ICT-ADM", "Systeembeheerder"), ("ICT-ADM", "Systeembeheerder"),
                ("ICT-NET", "Netwerkbeheerder"), ("ICT-WPL", "Werkplekspecialist")),
    ),
    _UnitSpec("ICT-OPS-NET", "Netwerk & Infrastructuur", "ICT-OPS", 1.8),
    _UnitSpec("ICT-OPS-WPL", "Werkplekbeheer", "ICT-OPS", 1.8),
    _UnitSpec(
        "ICT-DEV", "Development", "ICT", 0.6,
        titles=(("ICT-DEV", "Software developer"), ("ICT-TST", "Tester"),
                ("ICT-ARC", "Solution architect")),
    ),
    _UnitSpec("ICT-DEV-WEB", "Web & Apps", "ICT-DEV", 1.8, optional=True),
    _UnitSpec("ICT-DEV-INT", "Integraties", "ICT-DEV", 1.5),
    _UnitSpec(
        "ICT-SD", "Servicedesk", "ICT", 2.0,
        titles=(("ICT-SD", "Servicedeskmedewerker"), ("ICT-SD", "Servicedeskmedewerker"),
                ("ICT-ADM", "Systeembeheerder")),
    ),
    _UnitSpec(
        "ICT-SEC", "Security Office", "ICT", 0.8,
        titles=(("ICT-SEC", "Security officer"), ("ICT-ADM", "Systeembeheerder")),
        optional=True,
    ),
    _UnitSpec(
        "ICT-DATA", "Data & Analytics", "ICT", 1.0,
        titles=(("ICT-DA", "Data-analist"), ("ICT-DE", "Data engineer")), optional=True,
    ),
    _UnitSpec(
        "HR", "Human Resources", "NLG", 0.4,
        titles=(("HR-ADV", "HR-adviseur"), ("HR-MW", "HR-medewerker")),
    ),
    _UnitSpec("HR-ADV", "HR Advies", "HR", 1.5),
    _UnitSpec("HR-REC", "Recruitment", "HR", 1.0, titles=(("HR-REC", "Recruiter"),)),
    _UnitSpec(
        "HR-OPL", "Leren & Ontwikkelen", "HR", 0.8,
        titles=(("HR-OPL", "Opleidingscoördinator"),), optional=True,
    ),
    _UnitSpec("EXT", "Inhuur & Externen", "HR", 0.0, titles=EXTERNAL_TITLES),
    _UnitSpec(
        "DV", "Dienstverlening", "NLG", 0.4,
        titles=(*[("DV-CON", "Consulent")] * 4, *[("DV-SCON", "Senior consulent")] * 2,
                *[("DV-MW", "Medewerker dienstverlening")] * 3, ("DV-COO", "Coördinator")),
        employer="02",
    ),
    _UnitSpec("DV-NRD", "Regio Noord", "DV", 0.4, "GRN"),
    _UnitSpec("DV-NRD-GRN", "Team Groningen", "DV-NRD", 5.0, "GRN"),
    _UnitSpec("DV-NRD-ZWL", "Team Zwolle", "DV-NRD", 4.5, "ZWL"),
    _UnitSpec("DV-MID", "Regio Midden", "DV", 0.4, "UTR"),
    _UnitSpec("DV-MID-UTR", "Team Utrecht", "DV-MID", 6.0, "UTR"),
    _UnitSpec("DV-MID-AMS", "Team Amsterdam", "DV-MID", 6.0, "AMS"),
    _UnitSpec("DV-WST", "Regio West", "DV", 0.4, "RTM"),
    _UnitSpec("DV-WST-RTM", "Team Rotterdam", "DV-WST", 6.0, "RTM"),
    _UnitSpec("DV-WST-DHG", "Team Den Haag", "DV-WST", 5.0, "DHG"),
    _UnitSpec("DV-ZUI", "Regio Zuid", "DV", 0.4, "EHV"),
    _UnitSpec("DV-ZUI-EHV", "Team Eindhoven", "DV-ZUI", 5.0, "EHV"),
    _UnitSpec("DV-ZUI-DBS", "Team 's-Hertogenbosch", "DV-ZUI", 4.5, "DBS"),
    _UnitSpec(
        "DV-PLN", "Planning & Roostering", "DV", 1.5,
        titles=(("DV-PLN", "Planner"),), optional=True,
    ),
    _UnitSpec(
        "DV-KWA", "Kwaliteit & Innovatie", "DV", 1.0,
        titles=(("DV-KWA", "Kwaliteitsadviseur"),), optional=True,
    ),
    _UnitSpec(
        "SAL", "Sales & Marketing", "NLG", 0.4,
        titles=(("SAL-AM", "Accountmanager"), ("SAL-SM", "Salesmedewerker")),
        employer="03",
    ),
    _UnitSpec("SAL-ZAK", "Zakelijke Markt", "SAL", 2.0),
    _UnitSpec("SAL-PRT", "Particuliere Markt", "SAL", 1.8, optional=True),
    _UnitSpec(
        "SAL-MKT", "Marketing", "SAL", 1.5,
        titles=(("SAL-MKT", "Marketeer"), ("SAL-ONL", "Online marketeer")),
    ),
    _UnitSpec(
        "SAL-KS", "Customer Service", "SAL", 0.6, "ZWL",
        titles=(("SAL-KCM", "Klantcontactmedewerker"), ("SAL-KCM", "Klantcontactmedewerker"),
                ("SAL-SUP", "Supportmedewerker")),
    ),
    _UnitSpec("SAL-KS-1L", "Eerstelijns Klantcontact", "SAL-KS", 4.0),
    _UnitSpec("SAL-KS-2L", "Tweedelijns Support", "SAL-KS", 2.0),
    _UnitSpec(
        "FAC", "Facilitaire Dienst", "NLG", 0.4,
        titles=(("FAC-MW", "Facilitair medewerker"), ("FAC-HM", "Huismeester")),
    ),
    _UnitSpec("FAC-HSV", "Huisvesting", "FAC", 1.4),
    _UnitSpec("FAC-INK", "Inkoop", "FAC", 1.0, titles=(("FAC-INK", "Inkoper"),)),
    _UnitSpec(
        "FAC-REC", "Receptie & Beveiliging", "FAC", 1.4,
        titles=(("FAC-REC", "Receptionist"), ("FAC-BEV", "Beveiliger")), optional=True,
    ),
)  # fmt: skip


@dataclass
class Unit:
    """A unit as the generator uses it: the department plus everything a contract copies."""

    code: str
    name: str
    parent: Unit | None
    depth: int
    weight: float
    city: str
    titles: tuple[Title, ...]
    employer: str
    cost_center: str
    manager: int | None = None
    """Index of the managing person."""

    def chain(self) -> list[Unit]:
        """The unit and its ancestors, nearest first."""
        units: list[Unit] = []
        unit: Unit | None = self
        while unit is not None:
            units.append(unit)
            unit = unit.parent
        return units


def build_units(rng: random.Random) -> list[Unit]:
    units: dict[str, Unit] = {}
    for position, spec in enumerate(_UNITS):
        if spec.optional and rng.random() < 0.3:
            continue
        parent = units[spec.parent] if spec.parent else None
        units[spec.code] = Unit(
            code=spec.code,
            name=spec.name,
            parent=parent,
            depth=parent.depth + 1 if parent else 1,
            weight=spec.weight,
            city=spec.city or (parent.city if parent else HEAD_OFFICE),
            titles=spec.titles or (parent.titles if parent else ()),
            employer=spec.employer or (parent.employer if parent else "01"),
            cost_center=str(4000 + 10 * position),
        )
    return list(units.values())
