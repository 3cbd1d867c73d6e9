"""How reconciliation's findings are printed: a target whose listing failed is not in order."""

from __future__ import annotations

import datetime as dt

from idsync.reconcile import ReconcileReport, TargetFindings, print_reconcile
from rich.console import Console


def _printed(report: ReconcileReport) -> str:
    console = Console(record=True, width=200, color_system=None)
    print_reconcile(console, report)
    return console.export_text()


def test_a_failed_account_listing_is_reported_as_not_reconciled() -> None:
    report = ReconcileReport(
        as_of=dt.date(2026, 3, 2),
        targets={
            "topdesk": TargetFindings(
                target="topdesk",
                error="listing the accounts failed: ApiError: GET /tas/api/persons: HTTP 400",
            ),
            "helloid": TargetFindings(target="helloid", accounts=3, linked=3),
        },
    )
    lines = _printed(report).splitlines()
    assert lines[0] == "topdesk (as of 2026-03-02): not reconciled"
    assert lines[1] == (
        "  error: listing the accounts failed: ApiError: GET /tas/api/persons: HTTP 400"
    )
    assert lines[2] == "helloid (as of 2026-03-02): 3 accounts, 3 linked; all in order"
    assert sum("all in order" in line for line in lines) == 1
