"""Secrets masked in every form a server may echo them in, and URL passwords masked anywhere.

A server that refuses a credential often quotes it back, rarely as it was sent: URL-encoded in
a query string, base64 (with or without padding, alone or inside a Basic header), or cut short
by a message limit. Each form is a test here; ``tests/reliability/test_secrets.py`` proves
the same over a whole run (logs, audit trail, state store).
"""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

import pytest
from idsync.secrets import CUT_SHORT, MASK, forms, mask_url, redact, redact_data, register_secret
from idsync.state.location import StateLocation, encode_userinfo, state_url, substitute

SECRET = "Sk3+pa/ss@w0rd:with=odd&chars"
TOKEN = "T0kenValueABCDEFGHIJKLMNOPQRSTUV"


@pytest.fixture(autouse=True)
def _registered() -> None:
    register_secret(SECRET)
    register_secret(TOKEN)


def _b64(text: str, alphabet: str = "standard") -> str:
    encode = base64.urlsafe_b64encode if alphabet == "urlsafe" else base64.b64encode
    return encode(text.encode()).decode()


ECHOES = {
    "as it is": SECRET,
    "url-encoded": quote(SECRET, safe=""),
    "url-encoded, slashes kept": quote(SECRET),
    "form-encoded": quote_plus(SECRET),
    "base64 padded": _b64(SECRET),
    "base64 unpadded": _b64(SECRET).rstrip("="),
    "base64 url-safe": _b64(SECRET, "urlsafe"),
    "base64 url-safe unpadded": _b64(SECRET, "urlsafe").rstrip("="),
    "inside a Basic header": _b64(f"api-user:{SECRET}"),
    "inside a Basic header, other user": _b64(f"someone-else-entirely:{SECRET}"),
    "cut short (first half)": SECRET[: len(SECRET) // 2],
    "cut short (first 8)": SECRET[:CUT_SHORT],
    "cut short (last half)": SECRET[len(SECRET) // 2 :],
    "cut short url-encoded": quote(SECRET, safe="")[:14],
    "cut short base64": _b64(SECRET)[:12],
    "token cut short": TOKEN[:20],
}


@pytest.mark.parametrize("form", list(ECHOES))
def test_an_echoed_secret_is_masked_in_each_form(form: str) -> None:
    echo = ECHOES[form]
    for text in (
        f'HTTP 401: {{"message": "invalid credentials \'{echo}\'"}}',
        f"refused {echo}",
        f"{echo}… (truncated)",
    ):
        masked = redact(text)
        assert MASK in masked, (form, masked)
        # Nothing of the secret's form is left beside the mask: at most a few characters
        # of the base64 text that also encode the neighbouring bytes.
        leftover = masked.replace(MASK, "\0")
        for piece in leftover.split("\0"):
            assert echo not in piece
        assert SECRET not in masked
        assert TOKEN not in masked
    assert redact_data({"messages": [f"x {echo} y"]}) == {"messages": [redact(f"x {echo} y")]}


def test_a_basic_header_is_masked_up_to_the_bytes_the_user_shares() -> None:
    header = _b64(f"api-user:{SECRET}")
    masked = redact(f"Authorization: Basic {header}")
    kept = masked.removeprefix("Authorization: Basic ").split(MASK)
    assert len(kept) == 2
    assert len(kept[0]) <= len(_b64("api-user:"))  # the edges only
    assert len(kept[1]) <= 4


def test_text_that_only_resembles_a_secret_is_left_alone() -> None:
    assert redact("Sk3+pa is not it") == "Sk3+pa is not it"  # shorter than a cut piece
    assert redact("T0kenVal") != "T0kenVal"  # the first CUT_SHORT characters are a piece
    assert redact("an ordinary message about T0ken") == "an ordinary message about T0ken"
    assert forms(SECRET) >= {SECRET, quote(SECRET, safe=""), _b64(SECRET)}


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "postgresql+psycopg://idsync:hunter2-db@db.example.org:5432/idsync",
            f"postgresql+psycopg://idsync:{MASK}@db.example.org:5432/idsync",
        ),
        (
            "cannot open postgresql://idsync:p@ss:w/rd@db/idsync: timeout",
            f"cannot open postgresql://idsync:{MASK}@db/idsync: timeout",
        ),
        (
            "https://user:pa55@afas.example/profitrestservices",
            f"https://user:{MASK}@afas.example/profitrestservices",
        ),
        (
            "https://afas.example/x?token=abc123&take=10",
            f"https://afas.example/x?token={MASK}&take=10",
        ),
        ("postgresql://db/idsync?sslpassword=xyz", f"postgresql://db/idsync?sslpassword={MASK}"),
        ("sqlite:////var/lib/idsync/idsync.db", "sqlite:////var/lib/idsync/idsync.db"),
        ("https://enyoi.helloid.com/api/v1", "https://enyoi.helloid.com/api/v1"),
    ],
)
def test_a_url_password_is_masked_wherever_it_is_printed(text: str, masked: str) -> None:
    """Unregistered: a literal password in a URL (or a whole URL from one variable)."""
    assert redact(text) == masked
    assert mask_url(text) == masked


# --- a database password with any character reaches the driver intact ----------------------


@pytest.mark.parametrize("password", ["p@ss:w/rd", "100%sure", "a:b@c/d?e#f", "spaces and ü"])
def test_a_password_in_a_state_reference_is_passed_intact(password: str) -> None:
    template = "postgresql+psycopg://idsync:${IDSYNC_DB_PASSWORD}@db.example.org/idsync"
    resolved = substitute(template, lambda match: {"IDSYNC_DB_PASSWORD": password}[match.group(1)])
    url = state_url(resolved)
    assert url.password == password
    assert (url.username, url.host, url.database) == ("idsync", "db.example.org", "idsync")
    assert StateLocation.parse(resolved).display == (
        "postgresql+psycopg://idsync:***@db.example.org/idsync"
    )


@pytest.mark.parametrize("password", ["p@ss:w/rd", "x@y", "@@", "a:b:c@d"])
def test_a_whole_url_with_a_raw_password_is_read_as_meant(password: str) -> None:
    raw = f"postgresql+psycopg://idsync:{password}@db.example.org:5432/idsync?sslmode=require"
    url = state_url(raw)
    assert url.password == password
    assert (url.host, url.port, url.database) == ("db.example.org", 5432, "idsync")
    assert url.query == {"sslmode": "require"}
    assert password not in StateLocation.parse(raw).display
    assert encode_userinfo("postgresql://idsync:already%40encoded@db/x") == (
        "postgresql://idsync:already%40encoded@db/x"
    )


def test_the_json_documents_mask_secrets_too() -> None:
    from idsync.jsondoc import dumps

    text = dumps({"error": f"refused {quote(SECRET, safe='')}", "url": "postgresql://u:pw9@h/d"})
    data = json.loads(text)
    assert data["schema_version"] == 1
    assert data["error"] == f"refused {MASK}"
    assert data["url"] == f"postgresql://u:{MASK}@h/d"
