"""Rows that are wrong the way real HR data is wrong: each breaker spoils one valid row and
says what it did."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any


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


BREAKERS: tuple[Callable[[dict[str, Any], dt.date], str], ...] = (
    _missing_family,
    _end_before_start,
    _impossible_date,
    _duplicate_contract,
    _control_character,
    _fte_percentage,
    _missing_start,
)


def bad_count(size: int) -> int:
    if size < 20:
        return 0
    if size < 100:
        return 1
    return max(3, round(size / 100))
