"""The settings model: the API root, secrets and bounds."""

from __future__ import annotations

import pytest
from idsync_helloid import HelloIDPlugin, HelloIDSettings
from pydantic import ValidationError


def _settings(**values: object) -> HelloIDSettings:
    base = {
        "base_url": "https://enyoi.helloid.com/api/v1",
        "api_key": "K" * 32,
        "api_secret": "s" * 32,
    }
    return HelloIDSettings.model_validate({**base, **values})


def test_the_api_root_is_kept_and_a_bare_tenant_url_gets_it() -> None:
    assert _settings().base_url == "https://enyoi.helloid.com/api/v1"
    assert _settings(base_url="https://enyoi.helloid.com/api/v1/").base_url.endswith("/api/v1")
    assert (
        _settings(base_url="https://enyoi.helloid.com").base_url
        == "https://enyoi.helloid.com/api/v1"
    )


@pytest.mark.parametrize(
    "url", ["enyoi.helloid.com/api/v1", "ftp://enyoi.helloid.com", "https://x/api/v1?a=1"]
)
def test_a_url_that_is_not_an_api_root_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="base_url"):
        _settings(base_url=url)


def test_secrets_never_show() -> None:
    settings = _settings(api_key="VISIBLEKEY", api_secret="VISIBLESECRET")
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    assert "VISIBLEKEY" not in shown
    assert "VISIBLESECRET" not in shown


def test_unknown_settings_and_out_of_range_values_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        _settings(tenant="enyoi")
    with pytest.raises(ValidationError, match="page_size"):
        _settings(page_size=0)
    with pytest.raises(ValidationError, match="password_length"):
        _settings(password_length=6)


def test_about_names_the_settings_model_and_permission_kinds() -> None:
    about = HelloIDPlugin().idsync_about()
    assert about.name == "helloid"
    assert about.kind == "target"
    assert about.settings is HelloIDSettings
    assert about.permission_kinds == ["group", "product"]
    schema = HelloIDSettings.model_json_schema()
    assert schema["properties"]["api_secret"]["format"] == "password"
    assert all(field.get("description") for field in schema["properties"].values())
