"""The plan is what the run will do: targets read while planning, links, disputes, case, renames,
targets that depend on each other, saved plans, the action journal and a failing store.

Over the in-memory HR and directory (no HTTP), through the real engine and a real SQLite
store; each test names the scenario it proves.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from idsync.config import load_pipeline
from idsync.engine import EXIT_FAILED, EXIT_INPUT, EXIT_OK
from idsync.saved import PlanChanged, load, save
from idsync.state import Store, now
from rig import BASE, Call, Rig, day

HIRED = BASE - dt.timedelta(days=400)

USER_NAMES = """\
unique:
  userName:
    - "{{ person.name.given | lower }}.{{ person.name.family | lower }}{{ suffix }}"
"""


def _actions(report: object) -> Counter[tuple[str | None, str]]:
    plan = report.plan  # type: ignore[attr-defined]
    return Counter((a.person, a.kind.value) for a in plan.actions())


def _store(rig: Rig) -> Store:
    return Store(rig.pipeline.state)


def _correlate_on(rig: Rig, correlate: str | None) -> None:
    """Rewrite the rig's correlation (``None``: none at all) and load the pipeline again."""
    old = "      correlate: {person: external_id, account: employeeId}\n"
    path = rig.tmp / "pipeline.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, f"      correlate: {correlate}\n" if correlate else ""))
    rig.pipeline = load_pipeline(path, rig.registry, env={})


def test_the_plan_links_creates_and_counts_what_the_run_then_does(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    for pid in map(str, range(40)):
        rig.hr.hire(pid, HIRED)
    for pid in map(str, range(0, 40, 3)):
        rig.directory.add_by_hand(pid, enabled=False)
    before = len(rig.directory.accounts)
    plan = rig.plan(0)
    assert plan.plan is not None
    planned = Counter(a.kind.value for a in plan.plan.actions())
    assert plan.plan.lookups == {"dir": 1}  # 40 to look up: one listing, not 40 lookups
    run = rig.run(0)
    assert run.count("done", "create") == planned["create"] == len(rig.directory.accounts) - before
    assert run.count("done", "correlate") == planned["correlate"] == 14
    again = rig.plan(0)
    assert list(again.plan.actions()) == []
    assert again.plan.lookups == {"dir": 0}  # everyone linked: the target is not read at all


def test_few_persons_are_looked_up_one_by_one(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    for pid in ("1", "2"):
        rig.hr.hire(pid, HIRED)
    rig.directory.add_by_hand("2")
    plan = rig.plan(0)
    assert plan.plan.lookups == {"dir": 2}
    assert [c.hook for c in rig.directory.calls] == ["correlate", "correlate"]


def test_a_namesake_s_hand_made_account_is_never_taken_over(tmp_path: Path) -> None:
    rig = Rig(tmp_path, account_extra=USER_NAMES)
    contractor = rig.directory.add_by_hand("9999", userName="givenjan.vries")
    rig.hr.hire("1", HIRED, family="Vries")
    rig.hr.rows["1"]["name"]["given"] = "GivenJan"
    rig.run(0)
    mine = rig.account_of("1")
    assert mine is not None
    assert mine is not contractor
    assert mine.data["userName"] == "givenjan.vries2"  # the namesake's name is taken
    assert contractor.data == {"employeeId": "9999", "userName": "givenjan.vries"}
    assert contractor.groups == set()


def test_one_account_matched_by_two_persons_is_disputed_for_both(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    _correlate_on(rig, "{person: name.family, account: family}")  # which two persons share
    rig.hr.hire("1", HIRED, family="Bakker")
    rig.hr.hire("2", HIRED, family="Bakker")
    rig.directory.add_by_hand("x", family="Bakker")
    report = rig.run(0)
    disputed = {b.person: b.problem for b in report.blocked}
    assert set(disputed) == {"1", "2"}
    assert "matches person 2 too" in disputed["1"]
    assert report.count("done", "create") == 0
    assert report.count("done", "correlate") == 0


def test_two_e_mails_that_differ_only_in_case_are_one_value_in_a_case_blind_target(
    tmp_path: Path,
) -> None:
    rig = Rig(
        tmp_path,
        account_extra="""\
unique:
  userName: ["{{ person.contact.email }}", "{{ person.external_id }}@example.org"]
""",
    )
    rig.directory.case_insensitive = True
    rig.hr.hire("1", HIRED, email="lucas.mulder@example.org")
    rig.run(0)
    rig.hr.hire("2", HIRED, email="LUCAS.MULDER@example.org")
    rig.run(1)
    first, second = rig.account_of("1"), rig.account_of("2")
    assert first is not None
    assert second is not None
    assert first is not second
    assert second.data["userName"] == "2@example.org"  # the case-folded name is taken
    assert first.data["userName"] == "lucas.mulder@example.org"


def test_correlating_on_a_generated_name_disputes_the_colleague_s_account(tmp_path: Path) -> None:
    rig = Rig(
        tmp_path,
        account_extra="""\
unique:
  userName: ["{{ person.contact.email }}"]
""",
    )
    _correlate_on(rig, "{person: account.userName, account: userName}")
    assert any("a value idsync generates" in w for _, w in rig.pipeline.warnings())
    rig.directory.case_insensitive = True
    rig.hr.hire("1", HIRED, email="lucas.mulder@example.org")
    rig.run(0)
    rig.hr.hire("2", HIRED, email="LUCAS.MULDER@example.org")
    report = rig.run(1)
    [block] = [b for b in report.blocked if b.person == "2"]
    assert "already linked to person 1" in block.problem
    assert len(rig.directory.accounts) == 1
    assert rig.account_of("1").data["family"] == "Family1"  # untouched


def test_a_later_target_waits_when_the_account_it_reads_was_not_made(tmp_path: Path) -> None:
    rig = Rig(
        tmp_path,
        account_extra=USER_NAMES,
        targets_extra="""\
book:
  plugin: membook
  account:
    correlate: {person: external_id, account: employeeId}
    mapping:
      employeeId: "{{ person.external_id }}"
      login: "{{ accounts.dir.userName }}"
""",
    )
    assert rig.pipeline.target_order() == ["dir", "book"]
    rig.hr.hire("1", HIRED)
    rig.hr.hire("2", HIRED)
    rig.directory.failing.add(("create", "2"))
    report = rig.run(0)
    assert report.count("failed", "create") == 1
    [entry] = rig.book.by_employee("1")
    assert entry.data["login"] == rig.account_of("1").data["userName"]
    assert rig.book.by_employee("2") == []  # waited; never another person's name
    store = _store(rig)
    try:
        waits = [r for r in store.audit(person="2", target="book") if r["status"] == "skipped"]
    finally:
        store.close()
    assert waits
    assert "waits for dir" in waits[0]["messages"][0]
    rig.directory.failing.clear()
    rig.run(1)
    assert rig.book.by_employee("2")[0].data["login"] == rig.account_of("2").data["userName"]


def test_a_cycle_between_targets_is_refused_at_load(tmp_path: Path) -> None:
    from idsync.config import ConfigError

    with pytest.raises(ConfigError) as info:
        Rig(
            tmp_path,
            account_extra='unique: {x: ["{{ accounts.book.y }}"]}',  # dir reads book
            targets_extra="""\
book:
  plugin: membook
  account:
    mapping: {y: "{{ accounts.dir.employeeId }}"}
""",
        )
    assert any("and book reads accounts.dir" in problem for _, problem in info.value.errors)


@pytest.mark.parametrize("policy", ["keep", "regenerate"])
def test_a_rename_keeps_or_regenerates_the_user_name(tmp_path: Path, policy: str) -> None:
    rig = Rig(
        tmp_path,
        account_extra=f"""\
unique:
  userName:
    rename: {policy}
    candidates: ["{{{{ person.name.family | lower }}}}{{{{ suffix }}}}"]
""",
    )
    rig.hr.hire("1", HIRED, family="Jansen")
    rig.run(0)
    rig.hr.rows["1"]["name"]["family"] = "Bakker"  # married, say
    report = rig.run(1)
    account = rig.account_of("1")
    assert account is not None
    assert account.data["family"] == "Bakker"
    if policy == "keep":
        assert account.data["userName"] == "jansen"
    else:
        assert account.data["userName"] == "bakker"
    assert report.count("failed") == 0
    assert list(rig.plan(1).plan.actions()) == []


def test_a_rename_the_target_refuses_is_applied_in_part_and_not_tried_each_night(
    tmp_path: Path,
) -> None:
    rig = Rig(
        tmp_path,
        account_extra="""\
unique:
  userName: {rename: regenerate, candidates: ["{{ person.name.family | lower }}"]}
""",
    )
    rig.directory.refuse_renames = True
    rig.hr.hire("1", HIRED, family="Jansen")
    rig.run(0)
    rig.hr.rows["1"]["name"]["family"] = "Bakker"
    report = rig.run(1)
    assert report.count("done", "update") == 1
    account = rig.account_of("1")
    assert account.data["family"] == "Bakker"  # applied
    assert account.data["userName"] == "jansen"  # refused
    store = _store(rig)
    try:
        shadow = store.account("dir", "1")
        assert shadow is not None
        assert shadow.data["userName"] == "jansen"  # the shadow records what was applied
    finally:
        store.close()
    calls = len(rig.directory.calls)
    again = rig.run(2)
    assert again.counts == {}
    assert rig.directory.writes(calls) == []
    assert any(b.scope == "action" and "renames are off" in b.problem for b in again.blocked)


def test_a_saved_plan_runs_unchanged_and_is_refused_after_the_source_changed(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path)
    for pid in ("1", "2", "3"):
        rig.hr.hire(pid, HIRED)
    path = tmp_path / "plan.json"
    planned = rig.plan(0)
    save(path, "rig", planned.plan, planned.imports, now())  # type: ignore[arg-type]
    saved = load(path, "rig")
    assert len(saved.actions) == 9
    report = rig.run(0, expect=saved)
    assert report.exit_code == EXIT_OK
    assert report.count("done") == 9

    rig.hr.end("2", day(3))
    planned = rig.plan(5)
    save(path, "rig", planned.plan, planned.imports, now())  # type: ignore[arg-type]
    rig.hr.move("1", "ICT")  # the source changes after the review
    calls = len(rig.directory.calls)
    refused = rig.run(5, expect=load(path, "rig"))
    assert refused.exit_code == EXIT_INPUT
    assert "the source data changed since the plan was made (hr)" in (refused.error or "")
    assert rig.directory.writes(calls) == []
    assert rig.account_of("2").enabled  # the reviewed leaver waits for a new review


def test_a_file_that_is_no_saved_plan_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("{}")
    with pytest.raises(PlanChanged, match="not a plan idsync plan --out wrote"):
        load(path, "rig")
    rig = Rig(tmp_path)
    planned = rig.plan(0)
    save(path, "other", planned.plan, planned.imports, now())  # type: ignore[arg-type]
    with pytest.raises(PlanChanged, match="a plan of pipeline 'other', not of 'rig'"):
        load(path, "rig")


def test_a_saved_plan_is_refused_when_the_target_changed(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.hr.hire("1", HIRED)
    path = tmp_path / "plan.json"
    planned = rig.plan(0)
    save(path, "rig", planned.plan, planned.imports, now())  # type: ignore[arg-type]
    rig.directory.add_by_hand("1")  # made by hand after the review: a link now, not a create
    refused = rig.run(0, expect=load(path, "rig"))
    assert refused.exit_code == EXIT_INPUT
    assert "2 action(s) the plan did not have (dir correlate 1, dir update 1)" in (
        refused.error or ""
    )
    assert "planned action(s) no longer due (dir create 1, dir enable 1)" in (refused.error or "")
    assert len(rig.directory.accounts) == 1


def test_a_store_that_fails_mid_run_stops_the_run_and_blames_no_target(tmp_path: Path) -> None:
    rig = Rig(tmp_path, concurrency=1)
    for pid in map(str, range(10)):
        rig.hr.hire(pid, HIRED)
    broken: list[Call] = []

    def break_store(call: Call) -> None:
        if (
            call.hook == "create"
            and len([c for c in rig.directory.calls if c.hook == "create"]) == 3
        ):
            broken.append(call)
            with sqlite3.connect(tmp_path / "state.db") as db:
                db.execute("DROP TABLE audit")

    rig.directory.on_write = break_store
    report = rig.run(0)
    assert broken
    assert report.exit_code == EXIT_FAILED
    assert "the state store failed" in (report.error or "")
    creates = [c for c in rig.directory.calls if c.hook == "create"]
    assert len(creates) == 3  # the one in flight finished; no new call started
    assert report.count("failed") == 0  # nothing recorded as the target's failure
    with sqlite3.connect(tmp_path / "state.db") as db:
        doubt = db.execute("SELECT person, kind FROM intents WHERE status = 'started'").fetchall()
    # The person in flight: their create (done in the target, not recorded) and the actions
    # after it are in doubt.
    assert doubt == [
        (broken[0].person, "create"),
        (broken[0].person, "enable"),
        (broken[0].person, "grant"),
    ]


def test_an_interrupted_create_is_linked_by_the_next_run_not_made_twice(tmp_path: Path) -> None:
    rig = Rig(tmp_path, concurrency=1)
    for pid in ("1", "2"):
        rig.hr.hire(pid, HIRED)

    class Killed(BaseException):
        """The process dies between the target's answer and the record."""

    def die(call: Call) -> None:
        if call.hook == "create" and call.person == "1":
            raise Killed

    rig.directory.on_write = die
    engine = rig.engine()
    with pytest.raises(Killed):
        engine.run(day(0), time_travel=True)
    # The death leaves the create done in the target and in doubt in the store.
    assert len(rig.directory.by_employee("1")) == 1
    assert [(d.person, d.kind) for d in engine.store.in_doubt(["dir"])] == [
        ("1", "create"),
        ("1", "enable"),
        ("1", "grant"),
    ]
    engine.close()
    rig.directory.on_write = None
    report = rig.run(1)
    assert len(rig.directory.by_employee("1")) == 1  # linked, not created again
    assert len(rig.directory.by_employee("2")) == 1
    store = _store(rig)
    try:
        assert store.in_doubt(["dir"]) == []
    finally:
        store.close()
    assert report.exit_code == EXIT_OK


def test_without_correlation_an_interrupted_create_holds_its_person(tmp_path: Path) -> None:
    rig = Rig(tmp_path, concurrency=1)
    _correlate_on(rig, None)
    rig.hr.hire("1", HIRED)

    class Killed(BaseException):
        pass

    def die(call: Call) -> None:
        if call.hook == "create":
            raise Killed

    rig.directory.on_write = die
    engine = rig.engine()
    with pytest.raises(Killed):
        engine.run(day(0), time_travel=True)
    engine.close()
    rig.directory.on_write = None
    for n in (1, 2):
        report = rig.run(n)
        [block] = [b for b in report.blocked if b.person == "1"]
        assert "was interrupted while creating this account" in block.problem
    assert len(rig.directory.by_employee("1")) == 1  # never a second one
