"""Dutch names as HR systems hold them: prefixes, diacritics, nicknames and naming conventions."""

from __future__ import annotations

import random
import unicodedata
from functools import lru_cache
from itertools import accumulate

from idsync.model import Name, NamingConvention

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
def ascii_token(text: str) -> str:
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


def make_name(rng: random.Random) -> Name:
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
