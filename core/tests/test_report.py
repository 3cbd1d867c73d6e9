"""Printing a plan: source data reaches the terminal as it is, never read as rich markup."""

from __future__ import annotations

import datetime as dt

from idsync.model import ActionKind, Change
from idsync.plan import Action, Plan, TargetPlan
from idsync.report import print_plan
from rich.console import Console


def test_brackets_in_source_data_are_printed_not_taken_as_markup() -> None:
    update = Action(
        target="helloid",
        kind=ActionKind.UPDATE,
        person="[bold]1001",
        changes={"title": Change(before="[sales] lead", after="lead [/old]")},
        reason="contract [x] in conditions",
    )
    plan = Plan(as_of=dt.date(2026, 1, 1), targets={"helloid": TargetPlan("helloid", [update])})
    console = Console(record=True, width=200)
    print_plan(console, plan)
    text = console.export_text()
    for shown in ("[bold]1001", "[sales] lead", "lead [/old]", "contract [x] in conditions"):
        assert shown in text
