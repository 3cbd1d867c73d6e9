"""The sandbox world: one seeded, realistic organisation every simulator is filled from.

``idsync sandbox`` generates a :class:`World` and hands it to each installed plugin's
``idsync_sandbox`` hook, so AFAS, TOPdesk and HelloID simulators describe the same people.

:func:`generate_world` makes a Dutch organisation (Noorderlicht Groep): a department tree of
30-60 units with managers, persons with Dutch names (prefixes, diacritics, the four naming
conventions), and contracts as real HR data has them: several positions, part-timers, future
joiners, recent and future leavers, movers, external hires, and a few rows that are wrong.
The same ``size``, ``seed`` and ``today`` always give the same world.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import accumulate
from typing import Any

from idsync import collector
from idsync.model import Department, Name, NamingConvention, Person, PersonRef

__all__ = ["EMAIL_DOMAIN", "FIRST_EMPLOYEE_NUMBER", "World", "generate_world"]

EMAIL_DOMAIN = "example.org"
"""The organisation's mail domain: business e-mail addresses are ``first.family@EMAIL_DOMAIN``."""
FIRST_EMPLOYEE_NUMBER = 100001
"""Persons are numbered from here in order; bad rows follow the last person."""


@dataclass
class World:
    """A seeded organisation: departments, persons (with contracts) and some bad rows.

    ``today`` is the date the world was made around (joiners after it, leavers before and
    after it). ``bad_persons`` are person-shaped mappings that fail validation on purpose,
    each with a ``"_problem"`` key saying what is wrong, as real HR data has.
    """

    seed: int
    today: dt.date
    departments: list[Department] = field(default_factory=list)
    persons: list[Person] = field(default_factory=list)
    bad_persons: list[dict[str, Any]] = field(default_factory=list)

    @cached_property
    def persons_by_id(self) -> dict[str, Person]:
        """Persons by external id (built on first use)."""
        return {p.external_id: p for p in self.persons}

    @cached_property
    def departments_by_id(self) -> dict[str, Department]:
        """Departments by external id (built on first use)."""
        return {d.external_id: d for d in self.departments}

    def person(self, external_id: str) -> Person:
        """The person with ``external_id``; raises ``KeyError`` when there is none."""
        try:
            return self.persons_by_id[external_id]
        except KeyError:
            raise KeyError(f"no person {external_id!r} in this world") from None


# --- the organisation ------------------------------------------------------------------

_Title = tuple[str, str]

_CITIES: dict[str, tuple[str, str]] = {
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
_HEAD_OFFICE = "UTR"
_CITY_CODES = tuple(_CITIES)

_EMPLOYERS: dict[str, str] = {
    "01": "Noorderlicht Groep B.V.",
    "02": "Noorderlicht Dienstverlening B.V.",
    "03": "Noorderlicht Commercie B.V.",
}
_AGENCIES: tuple[tuple[str, str], ...] = (
    ("EXT-FLX", "Flexpool Nederland B.V."),
    ("EXT-BTW", "Bitwerk Detachering B.V."),
    ("EXT-ZZP", "Zelfstandige zonder personeel"),
)

_TYPES: dict[str, str] = {
    "VAST": "Onbepaalde tijd",
    "TIJD": "Bepaalde tijd",
    "STAGE": "Stage",
    "EXT": "Extern (inhuur)",
}

_MANAGER_TITLES: dict[int, _Title] = {
    1: ("DIR-ALG", "Algemeen directeur"),
    2: ("MGR-DIV", "Divisiemanager"),
    3: ("MGR", "Afdelingsmanager"),
    4: ("TL", "Teamleider"),
}
_EXTERNAL_TITLES: tuple[_Title, ...] = (
    ("EXT-INH", "Inhuurkracht"),
    ("EXT-CON", "Externe consultant"),
    ("EXT-ZZP", "Zzp'er"),
)
_INTERN_TITLE: _Title = ("STAGE", "Stagiair")


@dataclass(frozen=True)
class _UnitSpec:
    code: str
    name: str
    parent: str | None
    weight: float
    """The unit's share of the staff (0: nobody is placed here at random)."""
    city: str | None = None
    """Location code; None = the parent's."""
    titles: tuple[_Title, ...] = ()
    """The unit's job titles, drawn evenly (repeat one to make it commoner); empty = the
    parent's."""
    employer: str | None = None
    """Employer code; None = the parent's."""
    optional: bool = False
    """Leaves only: left out by some seeds, so the tree differs per seed."""


_UNITS: tuple[_UnitSpec, ...] = (
    _UnitSpec(
        "NLG", "Noorderlicht Groep", None, 0.3, _HEAD_OFFICE,
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
    _UnitSpec("EXT", "Inhuur & Externen", "HR", 0.0, titles=_EXTERNAL_TITLES),
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
class _Unit:
    """A unit as the generator uses it: the department plus everything a contract copies."""

    code: str
    name: str
    parent: _Unit | None
    depth: int
    weight: float
    city: str
    titles: tuple[_Title, ...]
    employer: str
    cost_center: str
    manager: int | None = None
    """Index of the managing person."""

    def chain(self) -> list[_Unit]:
        """The unit and its ancestors, nearest first."""
        units: list[_Unit] = []
        unit: _Unit | None = self
        while unit is not None:
            units.append(unit)
            unit = unit.parent
        return units


def _build_units(rng: random.Random) -> list[_Unit]:
    units: dict[str, _Unit] = {}
    for position, spec in enumerate(_UNITS):
        if spec.optional and rng.random() < 0.3:
            continue
        parent = units[spec.parent] if spec.parent else None
        units[spec.code] = _Unit(
            code=spec.code,
            name=spec.name,
            parent=parent,
            depth=parent.depth + 1 if parent else 1,
            weight=spec.weight,
            city=spec.city or (parent.city if parent else _HEAD_OFFICE),
            titles=spec.titles or (parent.titles if parent else ()),
            employer=spec.employer or (parent.employer if parent else "01"),
            cost_center=str(4000 + 10 * position),
        )
    return list(units.values())


# --- names -----------------------------------------------------------------------------

_GIVEN_FEMALE: tuple[str, ...] = (
    "Anna", "Emma", "Sophie", "Julia", "Lotte", "Sanne", "Lisa", "Fleur", "Eva", "Anouk",
    "Femke", "Iris", "Maaike", "Marieke", "Inge", "Petra", "Monique", "Ingrid", "Anja",
    "Annemiek", "Esther", "Linda", "Sandra", "Marloes", "Ilse", "Noor", "Tess", "Saar", "Mila",
    "Nina", "Roos", "Evi", "Lieke", "Mirjam", "Karin", "Wendy", "Yvonne", "Janneke", "Hanna",
    "Fatima", "Yasmina", "Samira", "Elif", "Priya", "Mei", "Mathilde",
)  # fmt: skip
_GIVEN_MALE: tuple[str, ...] = (
    "Jan", "Pieter", "Willem", "Gerrit", "Dirk", "Bram", "Daan", "Sem", "Lucas", "Levi",
    "Finn", "Milan", "Thijs", "Jesse", "Ruben", "Lars", "Tim", "Bas", "Sander", "Niels",
    "Joost", "Maarten", "Wouter", "Erik", "Mark", "Rob", "Martijn", "Jeroen", "Stefan",
    "Thomas", "Joris", "Koen", "Stijn", "Rik", "Tom", "Gijs", "Teun", "Hugo", "Floris",
    "Olivier", "Job", "Mohamed", "Ahmed", "Yusuf", "Mehmet", "Emre", "Rajesh", "Kevin",
)  # fmt: skip
_ACCENTED_FEMALE: tuple[str, ...] = (
    "Zoë", "Chloë", "Anaïs", "Joëlle", "Daniëlle", "Noëlle", "Loïs", "Hélène", "Renée",
    "Désirée", "Françoise", "Aïcha", "Ayşe", "Gülşen", "Björk",
)  # fmt: skip
_ACCENTED_MALE: tuple[str, ...] = (
    "Noël", "René", "André", "José", "Jérôme", "François", "Jürgen", "Sören", "Raphaël",
    "Hüseyin", "Çağan", "Joël", "Loïc", "Michiël",
)  # fmt: skip
_ACCENTED_SHARE = 0.06
"""Share of given names, and separately of family names, drawn from the accented pools."""
_FORMAL_FEMALE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Maria", ("Marieke", "Ria", "Mieke")),
    ("Johanna", ("Anneke", "Joke", "Hanneke")),
    ("Wilhelmina", ("Willeke", "Mien", "Wilma")),
    ("Geertruida", ("Truus", "Geertje", "Trudy")),
    ("Cornelia", ("Corrie", "Nelleke", "Cora")),
    ("Hendrika", ("Riek", "Henny", "Rieky")),
    ("Elisabeth", ("Lies", "Els", "Liesbeth")),
    ("Catharina", ("Karin", "Tineke", "Ine")),
    ("Margaretha", ("Greet", "Margriet", "Greetje")),
    ("Jacoba", ("Coby", "Jacqueline", "Co")),
)
_FORMAL_MALE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Johannes", ("Jan", "Hans", "Joop", "Johan")),
    ("Cornelis", ("Kees", "Cor", "Niels")),
    ("Hendrik", ("Henk", "Henri", "Rik")),
    ("Jacobus", ("Koos", "Jaap", "Sjaak")),
    ("Wilhelmus", ("Wim", "Willem", "Pim")),
    ("Gerardus", ("Gerard", "Gert", "Ger")),
    ("Theodorus", ("Theo", "Dorus", "Ruud")),
    ("Petrus", ("Peter", "Piet", "Peer")),
    ("Antonius", ("Toon", "Ton", "Anton")),
    ("Franciscus", ("Frank", "Frans", "Sjef")),
    ("Adrianus", ("Arie", "Adrie", "Ad")),
    ("Lambertus", ("Bert", "Lammert")),
)
_MIDDLE_FEMALE = ("Maria", "Johanna", "Elisabeth", "Catharina", "Anna", "Geertruida", "Hélène")
_MIDDLE_MALE = ("Johannes", "Cornelis", "Maria", "Petrus", "Hendrik", "Jozef", "Gérard")

_Family = tuple[str | None, str]
_FAMILIES: tuple[_Family, ...] = (
    (None, "Jansen"), (None, "Bakker"), (None, "Janssen"), (None, "Visser"), (None, "Smit"),
    (None, "Meijer"), (None, "Mulder"), (None, "Bos"), (None, "Vos"), (None, "Peters"),
    (None, "Hendriks"), (None, "Dekker"), (None, "Brouwer"), (None, "Dijkstra"),
    (None, "Smits"), (None, "Kok"), (None, "Jacobs"), (None, "Vermeulen"), (None, "Schouten"),
    (None, "Willems"), (None, "Hoekstra"), (None, "Maas"), (None, "Verhoeven"),
    (None, "Koster"), (None, "Prins"), (None, "Blom"), (None, "Huisman"), (None, "Kuiper"),
    (None, "Postma"), (None, "Kramer"), (None, "Wouters"), (None, "Gerritsen"),
    (None, "El Amrani"), (None, "Ramsaran"), (None, "Nguyen"), (None, "Bouzid"),
)  # fmt: skip
_PREFIXED_FAMILIES: tuple[_Family, ...] = (
    ("de", "Jong"), ("de", "Vries"), ("van den", "Berg"), ("van", "Dijk"), ("de", "Boer"),
    ("de", "Groot"), ("van", "Leeuwen"), ("de", "Wit"), ("de", "Graaf"), ("van der", "Meer"),
    ("van der", "Linden"), ("de", "Haan"), ("van den", "Heuvel"), ("van der", "Veen"),
    ("van den", "Broek"), ("de", "Bruijn"), ("van der", "Heijden"), ("van", "Beek"),
    ("van", "Vliet"), ("van de", "Ven"), ("van", "Dam"), ("van der", "Wal"), ("'t", "Hart"),
    ("in 't", "Veld"), ("van 't", "Hof"), ("ter", "Horst"), ("ter", "Haar"), ("ten", "Bosch"),
    ("ten", "Cate"), ("op de", "Beek"), ("op den", "Kamp"), ("op 't", "Land"),
    ("van de", "Kerkhof"), ("den", "Hollander"), ("te", "Riele"), ("van", "Rooij"),
    ("van", "Wijk"), ("van der", "Zee"), ("de", "Lange"), ("van", "Loon"), ("de", "Clercq"),
)  # fmt: skip
_ACCENTED_FAMILIES: tuple[_Family, ...] = (
    (None, "Öztürk"), (None, "Çelik"), (None, "Yılmaz"), (None, "Şahin"), (None, "Müller"),
    (None, "Schröder"), (None, "Lefèvre"), (None, "Gonçalves"), (None, "Doğan"),
    ("van", "Hoëvell"), (None, "Geërtsema"), ("de", "Sélincourt"),
)  # fmt: skip
_PREFIXED_SHARE = 0.3

_CONVENTIONS: tuple[NamingConvention, ...] = ("B", "BP", "P", "PB")
_CONVENTION_CUM_WEIGHTS = tuple(accumulate((60, 12, 15, 13)))

_FOLD = str.maketrans({"ı": "i", "ß": "ss", "ø": "o", "ł": "l", "æ": "ae", "œ": "oe"})


@lru_cache(maxsize=4096)
def _ascii(text: str) -> str:
    """``Öztürk`` -> ``ozturk``, ``'t Hart`` -> ``thart``: a mailbox-safe, lower-case token."""
    folded = unicodedata.normalize("NFKD", text.lower().translate(_FOLD))
    return "".join(ch for ch in folded if ch.isascii() and (ch.isalnum() or ch == "-"))


def _family(rng: random.Random) -> _Family:
    roll = rng.random()
    if roll < _ACCENTED_SHARE:
        return rng.choice(_ACCENTED_FAMILIES)
    if roll < _ACCENTED_SHARE + _PREFIXED_SHARE:
        return rng.choice(_PREFIXED_FAMILIES)
    return rng.choice(_FAMILIES)


def _make_name(rng: random.Random) -> Name:
    female = rng.random() < 0.52
    if rng.random() < 0.25:
        formal, nicks = rng.choice(_FORMAL_FEMALE if female else _FORMAL_MALE)
        parts = [formal]
        nick: str | None = rng.choice(nicks)
    else:
        if rng.random() < _ACCENTED_SHARE:
            pool = _ACCENTED_FEMALE if female else _ACCENTED_MALE
        else:
            pool = _GIVEN_FEMALE if female else _GIVEN_MALE
        parts = [rng.choice(pool)]
        nick = parts[0]
    for _ in range(rng.choices((0, 1, 2), cum_weights=(55, 90, 100))[0]):
        middle = rng.choice(_MIDDLE_FEMALE if female else _MIDDLE_MALE)
        if middle not in parts:
            parts.append(middle)
    if rng.random() < 0.02:
        nick = None  # HR never filled in the roepnaam
    prefix, family = _family(rng)
    convention = rng.choices(_CONVENTIONS, cum_weights=_CONVENTION_CUM_WEIGHTS)[0]
    partner_prefix: str | None = None
    partner: str | None = None
    if convention != "B" or rng.random() < 0.15:
        while True:
            partner_prefix, partner = _family(rng)
            if partner != family:
                break
    return Name(
        given=" ".join(parts),
        nick=nick,
        initials="".join(f"{p[0]}." for p in parts),
        family=family,
        family_prefix=prefix,
        partner=partner,
        partner_prefix=partner_prefix,
        convention=convention,
    )


# --- persons and contracts -------------------------------------------------------------

# categories of persons, each with a ``_Generator`` method that makes their contracts
_REGULAR = "regular"
_JOINER = "joiner"
_LEAVER = "leaver"
_FUTURE_LEAVER = "future_leaver"
_MOVER = "mover"
_CONCURRENT = "positions"
_HISTORY = "history"
_EXTERNAL = "external"
_INTERN = "intern"

_CATEGORY_SHARES: dict[str, float] = {
    _EXTERNAL: 0.07,
    _JOINER: 0.04,
    _LEAVER: 0.04,
    _FUTURE_LEAVER: 0.03,
    _MOVER: 0.02,
    _CONCURRENT: 0.08,
    _HISTORY: 0.08,
    _INTERN: 0.01,
}
_PART_TIME_HOURS = (16, 20, 24, 24, 28, 32, 32)
_SPLITS_OF_TWO = ((20.0, 16.0), (24.0, 12.0), (18.0, 18.0), (16.0, 8.0), (20.0, 8.0))
_SPLITS_OF_THREE = ((16.0, 12.0, 8.0), (12.0, 12.0, 12.0), (20.0, 8.0, 8.0))
_WEEK_HOURS = 36  # a full-time week under most Dutch collective agreements


def _fte(hours: float) -> float:
    return round(hours / _WEEK_HOURS, 4)


class _Generator:
    """One world in the making; every draw comes from the one seeded ``rng``."""

    def __init__(self, rng: random.Random, today: dt.date, units: list[_Unit]) -> None:
        self.rng = rng
        self.today = today
        self.staff_units = [u for u in units if u.weight > 0]
        self.cum_weights = list(accumulate(u.weight for u in self.staff_units))
        self.ext_unit = next(u for u in units if u.code == "EXT")
        self.names: list[Name] = []
        self.displays: list[str] = []
        self.mailboxes: dict[str, int] = {}
        self.by_category: dict[str, Callable[[int, _Unit], list[dict[str, Any]]]] = {
            _REGULAR: self._regular,
            _JOINER: self._joiner,
            _LEAVER: self._leaver,
            _FUTURE_LEAVER: self._future_leaver,
            _MOVER: self._mover,
            _CONCURRENT: self._positions,
            _HISTORY: self._history,
            _EXTERNAL: self._external,
            _INTERN: self._intern,
        }

    # -- drawing helpers

    def days(self, low: int, high: int) -> dt.timedelta:
        return dt.timedelta(days=self.rng.randint(low, high))

    def unit(self, other_than: _Unit | None = None) -> _Unit:
        for _ in range(8):
            unit = self.rng.choices(self.staff_units, cum_weights=self.cum_weights)[0]
            if unit is not other_than:
                return unit
        return unit

    def hire_date(self, min_days: int = 30) -> dt.date:
        """A start in the past: many recent hires, a long tail of long service."""
        back = min_days + min(int(self.rng.expovariate(1 / 1800)), 14000)
        return self.today - dt.timedelta(days=back)

    def hours(self, part_time_share: float = 0.38) -> float:
        if self.rng.random() < part_time_share:
            return float(self.rng.choice(_PART_TIME_HOURS))
        return float(_WEEK_HOURS)

    def manager_ref(self, unit: _Unit, person: int) -> dict[str, str] | None:
        """The unit's manager, or up the tree when that is the person themselves."""
        for candidate in unit.chain():
            if candidate.manager is not None and candidate.manager != person:
                return {
                    "external_id": _employee_number(candidate.manager),
                    "display_name": self.displays[candidate.manager],
                }
        return None

    def contract(
        self,
        person: int,
        sequence: int,
        unit: _Unit,
        start: dt.date,
        end: dt.date | None,
        type_code: str,
        hours: float,
        title: _Title | None = None,
        employer: tuple[str, str] | None = None,
    ) -> dict[str, Any]:
        """One contract in the shape of :class:`Contract` (validated with its person)."""
        rng = self.rng
        title = title or rng.choice(unit.titles)
        city = unit.city if rng.random() < 0.9 else rng.choice(_CITY_CODES)
        employer = employer or (unit.employer, _EMPLOYERS[unit.employer])
        return {
            "external_id": f"{_employee_number(person)}-{sequence}",
            "start": start,
            "end": end,
            "department": {"external_id": unit.code, "code": unit.code, "name": unit.name},
            "title": {"external_id": title[0], "code": title[0], "name": title[1]},
            "cost_center": {
                "external_id": unit.cost_center,
                "code": unit.cost_center,
                "name": unit.name,
            },
            "employer": {"external_id": employer[0], "code": employer[0], "name": employer[1]},
            "location": {"external_id": city, "code": city, "name": _CITIES[city][0]},
            "manager": self.manager_ref(unit, person),
            "type": {"external_id": type_code, "code": type_code, "name": _TYPES[type_code]},
            "fte": _fte(hours),
            "hours_per_week": hours,
            "sequence": sequence,
        }

    # -- contracts per category

    def contracts(self, person: int, category: str, managed: _Unit | None) -> list[dict[str, Any]]:
        """The contracts of one person: as the manager of ``managed``, or by category."""
        if managed is not None:
            title = _MANAGER_TITLES[min(managed.depth, 4)]
            hours = float(_WEEK_HOURS) if self.rng.random() < 0.85 else 32.0
            start = self.hire_date(365)
            return [self.contract(person, 1, managed, start, None, "VAST", hours, title)]
        return self.by_category[category](person, self.unit())

    def _regular(self, person: int, unit: _Unit) -> list[dict[str, Any]]:
        """Permanent, or temporary with an end beyond the next two months."""
        if self.rng.random() < 0.8:
            return [self.contract(person, 1, unit, self.hire_date(), None, "VAST", self.hours())]
        start = self.today - self.days(30, 600)
        end = self.today + self.days(61, 540)
        return [self.contract(person, 1, unit, start, end, "TIJD", self.hours())]

    def _joiner(self, person: int, unit: _Unit) -> list[dict[str, Any]]:
        """Starts within the next two months."""
        start = self.today + self.days(1, 60)
        if self.rng.random() < 0.4:
            end = start + dt.timedelta(days=364)
            return [self.contract(person, 1, unit, start, end, "TIJD", self.hours())]
        return [self.contract(person, 1, unit, start, None, "VAST", self.hours())]

    def _leaver(self, person: int, unit: _Unit) -> list[dict[str, Any]]:
        """Left within the last two months."""
        end = self.today - self.days(1, 60)
        start = end - self.days(60, 3650)
        kind = self.rng.choice(("VAST", "TIJD"))
        return [self.contract(person, 1, unit, start, end, kind, self.hours())]

    def _future_leaver(self, person: int, unit: _Unit) -> list[dict[str, Any]]:
        """Leaves within the next two months."""
        end = self.today + self.days(1, 60)
        kind = self.rng.choice(("VAST", "TIJD"))
        return [self.contract(person, 1, unit, self.hire_date(60), end, kind, self.hours())]

    def _mover(self, person: int, unit: _Unit) -> list[dict[str, Any]]:
        """Moves to another department within the next month: one contract ends, the next
        starts the day after."""
        end = self.today + self.days(3, 28)
        hours = self.hours()
        new_unit = self.unit(other_than=unit)
        return [
            self.contract(person, 1, unit, self.hire_date(365), end, "VAST", hours),
            self.contract(person, 2, new_unit, end + dt.timedelta(days=1), None, "VAST", hours),
        ]

    def _positions(self, person: int, unit: _Unit) -> list[dict[str, Any]]:
        """Two or three part-time positions in different departments at once."""
        rng = self.rng
        splits = _SPLITS_OF_TWO if rng.random() < 0.75 else _SPLITS_OF_THREE
        hours_each = rng.choice(splits)
        units = [unit]
        while len(units) < len(hours_each):
            units.append(self.unit(other_than=units[-1]))
        start = self.hire_date(200)
        contracts = []
        for sequence, (position, hours) in enumerate(zip(units, hours_each, strict=True), 1):
            end = None if rng.random() < 0.8 else self.today + self.days(61, 500)
            kind = "VAST" if end is None else "TIJD"
            contracts.append(self.contract(person, sequence, position, start, end, kind, hours))
            start = min(self.today, start + self.days(30, 700))
        return contracts

    def _history(self, person: int, unit: _Unit) -> list[dict[str, Any]]:
        """One or two ended temporary contracts before the current permanent one."""
        rng = self.rng
        hours = self.hours()
        spans: list[tuple[dt.date, dt.date | None]] = [(self.hire_date(30), None)]
        for _ in range(1 if rng.random() < 0.75 else 2):
            end = spans[0][0] - dt.timedelta(days=1)
            spans.insert(0, (end - dt.timedelta(days=rng.choice((182, 364, 364, 729))), end))
        return [
            self.contract(person, sequence, unit, start, end, "TIJD" if end else "VAST", hours)
            for sequence, (start, end) in enumerate(spans, 1)
        ]

    def _external(self, person: int, unit: _Unit) -> list[dict[str, Any]]:
        """Hired through an agency; most are booked on the EXT unit."""
        rng = self.rng
        if rng.random() < 0.6:
            unit = self.ext_unit
        start = self.today - self.days(1, 700)
        end = self.today + self.days(1, 365) if rng.random() < 0.7 else None
        title, agency = rng.choice(_EXTERNAL_TITLES), rng.choice(_AGENCIES)
        hours = self.hours(0.3)
        return [self.contract(person, 1, unit, start, end, "EXT", hours, title, agency)]

    def _intern(self, person: int, unit: _Unit) -> list[dict[str, Any]]:
        """An internship of a few months."""
        start = self.today - self.days(7, 120)
        end = self.today + self.days(61, 180)
        hours = self.hours(0.5)
        return [self.contract(person, 1, unit, start, end, "STAGE", hours, _INTERN_TITLE)]

    # -- one person

    def mailbox(self, name: Name) -> str:
        family = (
            name.partner_family
            if name.convention in ("P", "PB") and name.partner
            else name.birth_family
        )
        local = f"{_ascii(name.first.split()[0])}.{_ascii(family)}"
        count = self.mailboxes.get(local, 0) + 1
        self.mailboxes[local] = count
        return f"{local}{count if count > 1 else ''}@{EMAIL_DOMAIN}"

    def person(self, index: int, category: str, managed: _Unit | None) -> Person:
        rng = self.rng
        name = self.names[index]
        person = Person.model_validate(
            {
                "external_id": _employee_number(index),
                "display_name": self.displays[index],
                "name": name,
                "contact": {
                    "email": None if category == _JOINER else self.mailbox(name),
                    "phone": None,
                    "mobile": f"+31 6 {rng.randint(10000000, 99999999)}"
                    if rng.random() < 0.6
                    else None,
                },
                "manager": None,
                "contracts": self.contracts(index, category, managed),
            }
        )
        # the documented primary-contract rule decides the person's manager and phone area
        main = person.primary_contract(self.today)
        if main is not None and main.manager is not None:
            manager = main.manager
            person.manager = PersonRef(
                external_id=manager.external_id, display_name=manager.display_name
            )
        city = main.location.code if main and main.location and main.location.code else None
        area = _CITIES[city or _HEAD_OFFICE][1]
        person.contact.phone = f"+31 {area} {rng.randint(200, 799)} {rng.randint(0, 9999):04d}"
        return person


def _employee_number(index: int) -> str:
    return str(FIRST_EMPLOYEE_NUMBER + index)


# --- bad rows --------------------------------------------------------------------------


def _missing_family(row: dict[str, Any], today: dt.date) -> str:
    row["name"]["family"] = ""
    row["name"]["family_prefix"] = None
    row["display_name"] = row["name"]["nick"] or row["name"]["given"]
    return "missing family name"


def _end_before_start(row: dict[str, Any], today: dt.date) -> str:
    contract = row["contracts"][0]
    start = dt.date.fromisoformat(contract["start"])
    contract["end"] = (start - dt.timedelta(days=31)).isoformat()
    return f"contract {contract['external_id']} ends {contract['end']}, before it starts {contract['start']}"


def _impossible_date(row: dict[str, Any], today: dt.date) -> str:
    contract = row["contracts"][0]
    contract["start"] = f"{today.year - 1}-02-30"
    return f"contract {contract['external_id']} starts on the impossible date {contract['start']}"


def _duplicate_contract(row: dict[str, Any], today: dt.date) -> str:
    first = row["contracts"][0]
    second = {**first, "sequence": 2, "fte": 0.2, "hours_per_week": 7.2, "end": None}
    row["contracts"] = [first, second]
    return f"contract id {first['external_id']} appears twice"


def _control_character(row: dict[str, Any], today: dt.date) -> str:
    name = row["name"]
    row["display_name"] = (
        f"{name['nick'] or name['given']}\x0b{row['display_name'].split(' ', 1)[-1]}"
    )
    return "control character (vertical tab) in the display name"


def _fte_percentage(row: dict[str, Any], today: dt.date) -> str:
    contract = row["contracts"][0]
    contract["fte"] = round((contract["fte"] or 1.0) * 100, 1)
    return f"contract {contract['external_id']} has fte {contract['fte']} (a percentage)"


def _missing_start(row: dict[str, Any], today: dt.date) -> str:
    contract = row["contracts"][0]
    contract["start"] = None
    return f"contract {contract['external_id']} has no start date"


_BREAKERS: tuple[Callable[[dict[str, Any], dt.date], str], ...] = (
    _missing_family,
    _end_before_start,
    _impossible_date,
    _duplicate_contract,
    _control_character,
    _fte_percentage,
    _missing_start,
)


def _bad_count(size: int) -> int:
    if size < 20:
        return 0
    if size < 100:
        return 1
    return max(3, round(size / 100))


# --- the world -------------------------------------------------------------------------


def _categories(rng: random.Random, count: int) -> list[str]:
    """Exact shares of each category among ``count`` persons, in seeded order."""
    categories: list[str] = []
    for category, share in _CATEGORY_SHARES.items():
        categories += [category] * round(count * share)
    del categories[count:]
    categories += [_REGULAR] * (count - len(categories))
    rng.shuffle(categories)
    return categories


def _department(unit: _Unit) -> Department:
    return Department(
        external_id=unit.code,
        name=unit.name,
        code=unit.code,
        parent=unit.parent.code if unit.parent else None,
        manager=_employee_number(unit.manager) if unit.manager is not None else None,
    )


def generate_world(size: int = 1000, seed: int = 0, today: dt.date | None = None) -> World:
    """Generate a realistic Dutch organisation of ``size`` persons around ``today``.

    The same arguments always give the same world (``today`` defaults to the current date,
    so pass it for a world that does not move). Persons are numbered ``"100001"`` upwards;
    about 1% extra ``bad_persons`` (none below 20 persons, at least 3 from 100) follow them.
    """
    if size < 0:
        raise ValueError(f"size must be 0 or more, not {size}")
    today = today or dt.date.today()
    with collector.paused():
        return _generate(size, seed, today)


def _generate(size: int, seed: int, today: dt.date) -> World:
    rng = random.Random(seed)
    units = _build_units(rng)
    generator = _Generator(rng, today, units)
    total = size + _bad_count(size)
    for _ in range(total):
        name = _make_name(rng)
        generator.names.append(name)
        generator.displays.append(name.display)

    managed: dict[int, _Unit] = {}
    for unit, person in zip(units, rng.sample(range(size), min(size, len(units))), strict=False):
        unit.manager = person
        managed[person] = unit
    categories = _categories(rng, size - len(managed))

    persons = []
    for index in range(size):
        own_unit = managed.get(index)
        category = _REGULAR if own_unit is not None else categories.pop()
        persons.append(generator.person(index, category, own_unit))

    bad_persons = []
    for number, index in enumerate(range(size, total)):
        row = generator.person(index, _REGULAR, None).model_dump(mode="json")
        row["_problem"] = _BREAKERS[number % len(_BREAKERS)](row, today)
        bad_persons.append(row)

    return World(
        seed=seed,
        today=today,
        departments=[_department(u) for u in units],
        persons=persons,
        bad_persons=bad_persons,
    )
