"""The settings refuse what cannot work, naming why."""

from __future__ import annotations

from typing import Any

import pytest
from idsync_scim import ScimSettings
from pydantic import ValidationError

URL = "https://idp.example.org/scim/v2"


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"base_url": URL}, "give token (bearer) or username and password (basic)"),
        ({"base_url": URL, "token": "t0ken", "username": "u", "password": "p"}, "not both"),
        ({"base_url": URL, "username": "u"}, "needs both username and password"),
        ({"base_url": "idp.example.org/scim", "token": "t0ken"}, "is not an http(s) URL"),
        (
            {"base_url": "https://u:p@idp.example.org/scim", "token": "t0ken"},
            "must not carry credentials",
        ),
        ({"base_url": f"{URL}?tenant=1", "token": "t0ken"}, "must not carry a query"),
        ({"base_url": URL, "token": "t0ken", "page_size": 0}, "page_size"),
        ({"base_url": URL, "token": "t0ken", "colour": "blue"}, "colour"),
    ],
)
def test_settings_that_cannot_work_are_refused(values: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ScimSettings.model_validate(values)
    assert problem in str(caught.value)
    assert "t0ken" not in str(caught.value)


def test_bearer_and_basic_settings_hide_their_secrets() -> None:
    bearer = ScimSettings.model_validate({"base_url": f"{URL}/", "token": "t0ken-secret"})
    assert bearer.base_url == URL
    basic = ScimSettings.model_validate(
        {"base_url": URL, "username": "idsync", "password": "pa55word"}
    )
    assert "t0ken-secret" not in repr(bearer)
    assert "pa55word" not in repr(basic)
