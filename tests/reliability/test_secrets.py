"""No secret value anywhere: not in text or JSON logs at DEBUG, plans, audit records, error
messages (servers that echo the credentials back included), nor in the state store's bytes
(every SQLite file) or rows (every PostgreSQL table). Searched for the value, its base64 form,
the Basic and AfasToken authorization headers, and the value's first and last twelve
characters (a secret cut in half by a truncated message is still a leak)."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa
from reliability.harness import Reply, Rewrite, on_state
from support import AFAS_TOKEN, HELLOID_KEY, HELLOID_SECRET, Org

AS_OF = "2026-01-20"
TOKEN_DATA = AFAS_TOKEN.split("<data>")[1].split("</data>")[0]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _b64_inside(text: str) -> list[str]:
    """What ``text`` looks like in base64 wherever it sits inside a longer value (say, after
    ``user:`` in a Basic header): one form per alignment, without the edges that depend on
    the neighbouring bytes."""
    forms = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + text.encode()).decode().rstrip("=")
        forms.append(encoded[4 if shift else 0 : -4])
    return forms


def needles() -> dict[str, str]:
    """Every form a secret could leak in, by a name for the failure message."""
    found: dict[str, str] = {}
    for name, value in (
        ("AFAS token", AFAS_TOKEN),
        ("AFAS token data", TOKEN_DATA),
        ("HelloID key", HELLOID_KEY),
        ("HelloID secret", HELLOID_SECRET),
    ):
        found[name] = value
        found[f"{name} (base64)"] = _b64(value)
        for shift, form in enumerate(_b64_inside(value)):
            found[f"{name} (base64 inside, shift {shift})"] = form
        found[f"{name} (first 12)"] = value[:12] if name != "AFAS token" else TOKEN_DATA[:12]
        found[f"{name} (last 12)"] = value[-12:] if name != "AFAS token" else TOKEN_DATA[-12:]
    found["HelloID Basic credentials"] = _b64(f"{HELLOID_KEY}:{HELLOID_SECRET}")
    found["AFAS authorization header"] = _b64(AFAS_TOKEN)
    return found


def assert_clean(where: str, text: str | bytes) -> None:
    """Fail when any form of any secret occurs in ``text``."""
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    leaks = [name for name, needle in needles().items() if needle.encode() in data]
    assert not leaks, f"{where} holds {leaks}"


def _echo_page(position: int) -> bytes:
    """An HTML error page whose text has the secret starting at ``position`` once its
    whitespace is collapsed, so a message cut at about that length cuts the secret."""
    lead = "x" * (position - len("<html><body>"))
    return (
        f"<html><body>{lead}{HELLOID_SECRET} key={HELLOID_KEY} auth={{authorization}}</body></html>"
    ).encode()


def _echoing(org: Org) -> Rewrite:
    """HelloID, but three calls answer with the credentials in the error."""
    echo = (
        f'{{"message": "invalid credentials {HELLOID_KEY}:{HELLOID_SECRET} '
        '(sent {authorization})"}'
    ).encode()
    return Rewrite(
        org.helloid_sim.app,
        {
            # A refused create, whose reason quotes the credentials.
            ("POST", "userName=f.elamrani@example.org"): Reply(
                400, "application/json", echo, perform=False
            ),
            # A proxy error page with the secret right where messages are cut.
            ("GET", "/api/v1/users/p.jansen@example.org"): Reply(
                500, "text/html", _echo_page(190), perform=False
            ),
            # The connection test's probe.
            ("GET", "/api/v1/users"): Reply(500, "application/json", echo, perform=False),
        },
    )


def _database_text(state: str) -> Iterable[tuple[str, bytes]]:
    """Everything the state store holds: each SQLite file's bytes, or each table's rows."""
    if state.startswith("sqlite:///"):
        db = Path(state.removeprefix("sqlite:///"))
        files = sorted(db.parent.glob(db.name + "*"))  # the file, -wal and -shm
        assert db in files
        for path in files:
            yield str(path.name), path.read_bytes()
        return
    engine = sa.create_engine(state)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        assert metadata.tables, "the PostgreSQL state store has no tables"
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                rows = conn.execute(sa.select(table)).all()
                yield f"table {table.name}", repr([tuple(r) for r in rows]).encode()
    finally:
        engine.dispose()


def test_no_secret_in_logs_plans_audit_errors_or_the_state_store(org: Org, state_url: str) -> None:
    moved = on_state(org, state_url)
    pipeline = str(moved.pipeline)
    echo = _echoing(org)
    org.helloid_sim.app = echo
    outputs: list[tuple[str, str]] = []

    def idsync(*args: str, check: int | None = None) -> None:
        result = moved.idsync(*args, check=check)
        outputs.append((" ".join(args), result.stdout + result.stderr))

    idsync("--log-level", "DEBUG", "--log-json", "plan", pipeline, "--as-of", AS_OF, "--json")
    idsync("--log-level", "DEBUG", "--log-json", "run", pipeline, "--as-of", AS_OF, check=1)
    idsync("--log-level", "DEBUG", "run", pipeline, "--as-of", AS_OF, "--json", check=1)
    idsync("--log-level", "DEBUG", "check", pipeline, "--connect", check=1)
    idsync("audit", pipeline, "--json", "--limit", "1000")
    idsync("person", pipeline, "1004")
    assert set(echo.used) == set(echo.replies), echo.used

    # The source answers with the token in its error: the whole import fails, and says so.
    afas_echo = (
        f'{{"externalMessage": "token {AFAS_TOKEN} refused (sent {{authorization}})", '
        '"errorNumber": -1, "profitLogReference": "ABC"}'
    ).encode()
    org.afas.app.app = Rewrite(
        org.afas.app.app,
        {
            ("GET", "/profitrestservices/connectors/T4E_HelloID_Users_v2"): Reply(
                500, "application/json", afas_echo, perform=False
            )
        },
    )
    idsync("--log-level", "DEBUG", "run", pipeline, "--as-of", AS_OF, check=1)
    assert "reading failed" in outputs[-1][1]
    assert "***" in outputs[-1][1]

    failed = [text for command, text in outputs if "failed" in text]
    assert failed, "the echoing server never failed an action"
    assert any("***" in text for _, text in outputs), "no secret was ever masked"
    for command, text in outputs:
        assert_clean(f"the output of `idsync {command}`", text)

    store = moved.store()
    try:
        audit = store.audit(limit=10_000)
        runs = store.runs(limit=100)
    finally:
        store.close()
    refused = [r for r in audit if r["person"] in ("1003", "1004") and r["status"] == "failed"]
    assert refused
    assert all("***" in " ".join(r["messages"]) for r in refused), [r["messages"] for r in refused]
    assert_clean("the audit trail", repr(audit))
    assert_clean("the runs", repr(runs))
    for where, data in _database_text(state_url):
        assert_clean(f"the state store's {where}", data)
