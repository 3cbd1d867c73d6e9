"""The engine's fast paths give what the plain ones give: rendering without a Jinja context,
unique candidates rendered only as far as they are read, refs shared across an import, and
a rate limiter that slows down once per burst of 429s and climbs back after."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pytest
from idsync.config import SourceConfig, TargetConfig
from idsync.evaluate import Candidates, Evaluator
from idsync.expressions import ExpressionError, Expressions, MissingValue
from idsync.hookspecs import hookimpl
from idsync.http import RateLimiter
from idsync.importer import import_source
from idsync.model import HookContext, Person, PluginAbout, PluginKind
from idsync.plugins import Registry
from idsync.state import Store
from pydantic import BaseModel

TODAY = dt.date(2026, 1, 15)

PERSON = {
    "external_id": "1042",
    "name": {"given": "Ëlise", "nick": "Lies", "family": "Berg", "family_prefix": "van der"},
    "contact": {"email": "lies@example.org"},
    "extra": {"badge": "B-77"},
    "contracts": [
        {
            "external_id": "c1",
            "start": "2020-01-01",
            "department": {"code": "ICT", "name": "ICT Beheer"},
            "fte": 0.8,
        },
        {"external_id": "c2", "start": "2024-01-01"},
    ],
}

TEMPLATES = [
    "{{ person.name.first }}",
    "{{ person.name.first | slug }}.{{ person.name.full_family | slug }}{{ suffix }}@x.org",
    "{{ contract.department.name }} ({{ contract.fte }})",
    "[{{ contract.end }}]",
    "{{ person.extra.missing.deeper }}",
    "{% if person.extra.badge %}{{ person.extra.badge | lower }}{% endif %}",
    "{% for c in person.contracts %}{{ c.external_id }},{% endfor %}",
    "{{ person.extra | length }}",
    "{{ as_of }}",
    "{{ person.name.given | upper }}{{ undefined_name }}",
    "{{ contract.end }}",
    "{{ undefined_name.deeper }}",
    "{{ contract.department }}",
]
RULES = [
    "contract.department.code == 'ICT'",
    "(contract.fte or 0) >= 0.8",
    "contract.department.code != 'EXT' and person.extra.badge is defined",
    "contract.title.code == 'X'",
    "person.contracts | length > 1",
    "result",
]


@pytest.fixture
def context() -> dict[str, Any]:
    person = Person.model_validate(PERSON)
    return {"person": person, "contract": person.contracts[0], "as_of": TODAY, "suffix": "2"}


@pytest.mark.parametrize("source", TEMPLATES)
def test_templates_render_as_jinja_renders_them(source: str, context: dict[str, Any]) -> None:
    ex = Expressions()
    assert ex.render(source, context) == ex.template(source)(**context)


@pytest.mark.parametrize("source", RULES)
def test_rules_evaluate_as_jinja_evaluates_them(source: str, context: dict[str, Any]) -> None:
    ex = Expressions()
    assert ex.test(source, context) is bool(ex.rule(source)(**context))


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{{ person.__class__ }}", "is not allowed"),
        ("{{ contract.department.missing.deeper }}", "Ref has no attribute 'missing'"),
    ],
)
def test_errors_are_the_same_on_the_fast_path(
    source: str, problem: str, context: dict[str, Any]
) -> None:
    with pytest.raises(ExpressionError, match=problem):
        Expressions().render(source, context)


@pytest.mark.parametrize(
    ("source", "missed"),
    [("{{ contract.end }}", "an empty value"), ("{{ undefined_name.deeper }}", "undefined_name")],
)
def test_a_printed_path_is_missing_as_a_rendered_one_is(
    source: str, missed: str, context: dict[str, Any]
) -> None:
    with pytest.raises(MissingValue, match=missed):
        Expressions().render(source, context, strict=True)
    with pytest.raises(MissingValue, match=missed):  # the same, printed among other text
        Expressions().render(f"[{source}]", context, strict=True)


def test_a_template_reads_suffix_only_when_it_names_it() -> None:
    ex = Expressions()
    assert not ex.reads("{{ person.contact.email }}", "suffix")
    assert not ex.reads("Local", "suffix")
    assert ex.reads("{{ person.name.first }}{{ suffix }}", "suffix")
    assert ex.reads("{{ [1, 2] | random }}", "suffix")  # not the same from one render to the next


def _evaluator(renders: list[str]) -> Evaluator:
    def seen(value: Any) -> Any:
        renders.append(str(value))
        return value

    config = TargetConfig.model_validate(
        {
            "plugin": "x",
            "account": {
                "unique": {
                    "userName": [
                        "{{ person.contact.email }}",
                        "{{ seen(person.name.first) | lower }}{{ suffix }}@x.org",
                    ]
                }
            },
        }
    )
    return Evaluator("t", config, Expressions({"seen": seen}), TODAY)


def test_later_candidates_are_rendered_only_when_read() -> None:
    renders: list[str] = []
    desired = _evaluator(renders).evaluate(Person.model_validate(PERSON), None, {})
    candidates = desired.unique["userName"]
    assert isinstance(candidates, Candidates)
    assert candidates[0] == "lies@example.org"
    assert renders == ["Lies"]  # the first round only
    rest = candidates[1:]
    assert renders == ["Lies"]  # a slice is a view: still nothing more
    expected = ["lies@x.org", *(f"lies{n}@x.org" for n in range(2, 10))]
    assert list(rest) == expected
    assert len(renders) == 9  # rounds 2 to 9, once
    assert candidates == ["lies@example.org", *expected]
    assert len(candidates) == 10


def test_candidates_read_as_a_list() -> None:
    later = [3, 1, 4, 1, 5]

    def more(into: list[Any]) -> None:
        into.extend(v for v in later if v not in into)

    candidates = Candidates([1, 2], more)
    assert candidates[0] == 1
    assert candidates[1:][1] == 3
    assert list(candidates[2:]) == [3, 4, 5]
    assert candidates[-1] == 5
    assert bool(Candidates([], None)) is False
    assert list(Candidates([], more)) == [3, 1, 4, 5]


def test_the_limiter_slows_down_once_per_burst_and_climbs_back() -> None:
    limiter = RateLimiter(100.0, burst=1.0, calm=0.05)
    limiter.slow_down()
    limiter.slow_down()  # the same burst of 429s
    assert limiter.rate == pytest.approx(80.0)
    for _ in range(4):
        time.sleep(0.06)
        limiter.acquire()
    assert limiter.rate == pytest.approx(100.0)  # back to the limit it was given, not above


def test_the_limiter_spaces_requests_evenly() -> None:
    limiter = RateLimiter(200.0, burst=1.0)
    started = time.monotonic()
    for _ in range(21):
        limiter.acquire()
    assert time.monotonic() - started >= 0.09  # 20 intervals of 5 ms, no burst first


class _NoSettings(BaseModel):
    pass


class _Rows:
    """A source of three persons in the same department, under two titles."""

    def __init__(self, settings: BaseModel | None = None) -> None:
        self.settings = settings

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        return PluginAbout(name="rows", kind=PluginKind.SOURCE, version="0", settings=_NoSettings)

    @hookimpl
    def idsync_persons(self, ctx: HookContext) -> list[dict[str, Any]]:
        return [
            {
                **PERSON,
                "external_id": pid,
                "contracts": [
                    {
                        "external_id": f"{pid}-1",
                        "start": "2020-01-01",
                        "department": {"code": "ICT", "name": "ICT Beheer"},
                        "title": {"code": title},
                    }
                ],
            }
            for pid, title in (("1", "A"), ("2", "A"), ("3", "B"))
        ]


def test_an_import_shares_equal_refs_and_keeps_every_value(tmp_path: Any) -> None:
    system = Registry(entry_points=False, extra={"rows": _Rows}).system("hr", "rows", _NoSettings())
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    imp = import_source(system, SourceConfig(plugin="rows"), store, HookContext(system="hr"))
    one, two, three = (imp.persons[pid].contracts[0] for pid in ("1", "2", "3"))
    assert one.department is two.department is three.department
    assert one.title is two.title
    assert three.title is not one.title
    assert three.title is not None
    assert three.title.code == "B"
    for pid, person in imp.persons.items():
        fresh = Person.model_validate(
            _Rows().idsync_persons(HookContext(system="hr"))[int(pid) - 1]
        )
        fresh.source = "hr"
        assert person.model_dump() == fresh.model_dump()
        assert imp.changed[pid][1] == person.model_dump(mode="json", exclude_defaults=True)
    store.close()
