"""What the safeguards against damage and leaks cost: ``python bench/checks.py``.

- Redaction: ``redact_data`` over the JSON of a plan of 47,000 actions (what a run stores and
  ``--json`` prints), with the example pipeline's secrets registered in every form they may
  travel in; and one message that holds a secret cut short.
- The state store's checks before a run: SQLite's ``quick_check`` of every page, and the
  parse of every JSON value, on a store of 100,000 persons, 100,000 accounts and 300,000
  audit records (made once in a temporary directory).

CPU times of this process, best of three: other work on the machine slows the wall clock,
not these.
"""

from __future__ import annotations

import base64
import datetime as dt
import random
import string
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from idsync.secrets import redact, redact_data, register_secret, secrets
from idsync.state import Store
from idsync.state import schema as t
from idsync.state.integrity import check_rows

TOKEN = "<token><version>1</version><data>" + "A1B2C3D4E5F6" * 5 + "</data></token>"
KEY, SECRET = "ABCDEGJKABCDEFGHIJKNQHUZLZTVWXYZ", "AbcDEBBaVNdkFgHiJKsWMYScVMtVWXYZ"


def _best(run: Callable[[], Any], times: int = 3) -> float:
    spent = []
    for _ in range(times):
        started = time.process_time()
        run()
        spent.append(time.process_time() - started)
    return min(spent)


def _plan(actions: int) -> dict[str, Any]:
    rng = random.Random(7)

    def action(i: int) -> dict[str, Any]:
        family = "".join(rng.choices(string.ascii_lowercase, k=8))
        return {
            "target": "helloid",
            "person": str(100_000 + i),
            "kind": rng.choice(["create", "grant", "enable", "update"]),
            "changes": {
                "firstName": {"before": None, "after": rng.choice(["Jan", "Anna", "Piet"])},
                "lastName": {"before": None, "after": f"van der {family}"},
                "userName": {"before": None, "after": f"user{i}@example.org"},
                "userAttributes.department": {"before": None, "after": "Sales"},
            },
            "reason": f"contract {100_000 + i}-1 in conditions",
            "transition": "joiner",
        }

    return {"as_of": "2026-01-20", "actions": [action(i) for i in range(actions)]}


def redaction() -> None:
    for value in (TOKEN, KEY, SECRET, base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()):
        register_secret(value)
    plan = _plan(47_000)
    seconds = _best(lambda: redact_data(plan))
    print(f"redaction: {len(secrets())} forms of 4 secrets registered")
    print(f"  redact_data over a plan of 47,000 actions: {seconds:.2f} s CPU")
    message = f"HTTP 401: invalid credentials {SECRET[:16]}… for {KEY}"
    many = 20_000
    per = _best(lambda: [redact(f"{message} {i}") for i in range(many)]) / many
    print(f"  one message with a secret cut short: {per * 1e6:.1f} µs -> {redact(message)!r}")


def store_checks(work: Path) -> None:
    url = f"sqlite:///{work / 'state.db'}"
    store = Store(url)
    stamp = dt.datetime.now(dt.UTC)
    person = {
        "external_id": "x",
        "name": {"given": "Jan", "family": "Vries", "family_prefix": "de"},
        "contact": {"email": "jan@example.org"},
        "contracts": [{"external_id": "c", "start": "2020-01-01", "fte": 1.0}] * 2,
        "extra": {"note": "n" * 200},
    }
    with store.engine.begin() as conn:
        conn.execute(
            t.persons.insert(),
            [
                {
                    "source": "hr",
                    "external_id": str(i),
                    "hash": "h" * 64,
                    "data": person,
                    "updated": stamp,
                }
                for i in range(100_000)
            ],
        )
        conn.execute(
            t.accounts.insert(),
            [
                {
                    "target": "helloid",
                    "person": str(i),
                    "reference": "r" * 36,
                    "data": {"userName": f"u{i}@example.org", "lastName": "de Vries"},
                    "enabled": True,
                    "created": stamp,
                    "updated": stamp,
                }
                for i in range(100_000)
            ],
        )
        conn.execute(
            t.audit.insert(),
            [
                {
                    "run_id": 1,
                    "at": stamp,
                    "target": "helloid",
                    "person": str(i % 100_000),
                    "kind": "create",
                    "status": "done",
                    "changes": {"lastName": {"before": None, "after": "de Vries"}},
                    "messages": ["created disabled HelloID user"],
                    "dry_run": False,
                }
                for i in range(300_000)
            ],
        )
    store.close()
    size = (work / "state.db").stat().st_size / 1e6
    opened = Store(url)
    with opened.engine.connect() as conn:
        pages = _best(lambda: check_rows(conn, opened.location, json_values=False))
        everything = _best(lambda: check_rows(conn, opened.location))
    opened.close()
    print(
        f"state store checks on {size:.0f} MB (100,000 persons and accounts, 300,000 audit records):"
    )
    print(
        f"  every page (quick_check): {pages:.2f} s CPU; with every JSON value: {everything:.2f} s CPU"
    )


if __name__ == "__main__":
    redaction()
    with tempfile.TemporaryDirectory(prefix="idsync-bench-") as tmp:
        store_checks(Path(tmp))
