"""Logging: every secret the pipeline resolved is masked in text and JSON logs, exceptions too."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from idsync import log
from idsync.config import load_pipeline
from idsync.plugins import Registry
from idsync.secrets import MASK, redact, redact_data, register_secret, secrets
from loguru import logger
from pydantic import SecretStr

PIPELINE = """\
sources:
  desk:
    plugin: topdesk
    settings:
      base_url: https://acme.topdesk.net
      username: operator
      password: ${DESK_PASSWORD}
targets:
  helloid:
    plugin: helloid
    settings:
      base_url: https://acme.helloid.com/api/v1
      api_key: ${HID_K}
      api_secret: ${HID_S}
"""

PASSWORD = "Pw-desk-3f9a7c21"
API_KEY = "ak-51e0c9d4b7"
API_SECRET = "as-0b8e2f6a19"


@pytest.fixture
def resolved(write: Callable[[str, str], Path], registry: Registry) -> list[str]:
    """Load a pipeline whose secrets come from ``${VAR}``; returns the resolved values."""
    env = {"DESK_PASSWORD": PASSWORD, "HID_K": API_KEY, "HID_S": API_SECRET}
    load_pipeline(write("pipeline.yaml", PIPELINE), registry, env=env)
    return [PASSWORD, API_KEY, API_SECRET]


class _TokenError(Exception):
    """An exception whose text shows more than its arguments."""

    def __init__(self, token: str) -> None:
        super().__init__("refused")
        self.token = token

    def __str__(self) -> str:
        return f"refused token {self.token}"


def _emit(values: list[str]) -> None:
    """Log the secrets every way code tends to leak them."""
    password, key, secret = values
    logger.info("connecting with password {}", password)
    logger.bind(system="helloid", person="1001", action="create").warning(f"key={key}")
    logger.bind(run=7, headers={"Authorization": f"Basic {secret}"}, attempt=[secret]).info("retry")
    logger.debug("auth {}", base64.b64encode(password.encode()).decode())
    try:
        raise ValueError(f"server echoed {secret}")
    except ValueError:
        logger.exception("call failed for {}", key)
    try:
        try:
            raise ConnectionError(f"inner {password}")
        except ConnectionError as exc:
            raise RuntimeError(f"outer {key}") from exc
    except RuntimeError:
        logger.opt(exception=True).error("chained")
    try:
        raise _TokenError(secret)
    except _TokenError:
        logger.exception("custom exception")
    logger.error("done: {}", {"nested": [{"deep": password}]})


def test_resolved_secrets_are_registered(resolved: list[str]) -> None:
    for value in resolved:
        assert value in secrets()


def test_text_log_never_shows_a_secret(resolved: list[str], clean_logging: None) -> None:
    out = io.StringIO()
    log.setup(level="DEBUG", stream=out)
    _emit(resolved)
    text = out.getvalue()
    for value in resolved:
        assert value not in text
    assert base64.b64encode(PASSWORD.encode()).decode() not in text
    # The lines are all there, masked rather than dropped.
    assert f"connecting with password {MASK}" in text
    assert f"[system=helloid person=1001 action=create] key={MASK}" in text
    assert f"ValueError: server echoed {MASK}" in text
    assert f"ConnectionError: inner {MASK}" in text
    assert f"RuntimeError: outer {MASK}" in text
    assert f"refused token {MASK}" in text
    assert f"auth {MASK}" in text


def test_json_log_never_shows_a_secret(resolved: list[str], clean_logging: None) -> None:
    out = io.StringIO()
    log.setup(level="DEBUG", json_lines=True, stream=out)
    _emit(resolved)
    text = out.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == 8
    for value in resolved:
        assert value not in text
    first, bound, retry = lines[:3]
    assert first["message"] == f"connecting with password {MASK}"
    assert first["level"] == "INFO"
    assert (bound["system"], bound["person"], bound["action"]) == ("helloid", "1001", "create")
    assert bound["message"] == f"key={MASK}"
    assert retry["headers"] == {"Authorization": f"Basic {MASK}"}
    assert retry["attempt"] == [MASK]
    assert retry["run"] == 7
    assert lines[4]["exception"] == f"server echoed {MASK}"
    assert lines[6]["exception"] == f"refused token {MASK}"


def test_log_level_filters(clean_logging: None) -> None:
    out = io.StringIO()
    log.setup(level="WARNING", stream=out)
    logger.info("quiet")
    logger.warning("loud")
    assert "quiet" not in out.getvalue()
    assert "WARNING loud" in " ".join(out.getvalue().split())


def test_cli_log_json_redacts_what_a_plugin_logs(
    run_idsync: Callable[..., Any], plugin_site: Any, write: Callable[[str, str], Path]
) -> None:
    """End to end: ``idsync --log-json check --connect`` with a plugin that logs and raises
    its own token, which the pipeline resolved from the environment."""
    plugin_site.module(
        "leaky",
        """
        from loguru import logger
        from pydantic import BaseModel, ConfigDict, SecretStr

        from idsync import PluginAbout, PluginKind, hookimpl


        class LeakySettings(BaseModel):
            model_config = ConfigDict(extra="forbid")
            token: SecretStr


        class Leaky:
            def __init__(self, settings=None):
                self.settings = settings

            @hookimpl
            def idsync_about(self):
                return PluginAbout(name="leaky", kind=PluginKind.BOTH, version="1",
                                   settings=LeakySettings)

            @hookimpl
            def idsync_persons(self, ctx):
                return []

            @hookimpl
            def idsync_check_connection(self, ctx):
                token = self.settings.token.get_secret_value()
                logger.bind(system=ctx.system).warning("trying token {}", token)
                raise PermissionError(f"token {token} refused")
        """,
    )
    plugin_site.distribution("idsync-leaky", "1.0", {"leaky": "leaky:Leaky"})
    pipeline = write(
        "leaky.yaml",
        "sources:\n  hr:\n    plugin: leaky\n    settings:\n      token: ${LEAKY_TOKEN}\n",
    )
    token = "lk-tok-8c2e55a0f1"
    result = run_idsync(
        "--log-json",
        "check",
        "--connect",
        str(pipeline),
        path=plugin_site.path,
        env={"LEAKY_TOKEN": token},
    )
    assert result.returncode == 1, result.stderr
    assert token not in result.stdout + result.stderr
    assert f"PermissionError: token {MASK} refused" in result.stdout
    records = [json.loads(line) for line in result.stderr.splitlines()]
    (trying,) = [r for r in records if r["message"].startswith("trying token")]
    assert trying["message"] == f"trying token {MASK}"
    assert (trying["level"], trying["system"]) == ("WARNING", "hr")


# --- redact and redact_data -----------------------------------------------------------


def test_redact_data_masks_nested_values() -> None:
    register_secret("nested-s3cret-aa11")
    data = {
        "user": "jan",
        "auth": {"headers": [("Authorization", "Bearer nested-s3cret-aa11")], "n": 3},
        "list": ["a", {"deeper": ["x nested-s3cret-aa11 y"]}],
        "secret": SecretStr("anything"),
        "flag": True,
        "none": None,
    }
    assert redact_data(data) == {
        "user": "jan",
        "auth": {"headers": [["Authorization", f"Bearer {MASK}"]], "n": 3},
        "list": ["a", {"deeper": [f"x {MASK} y"]}],
        "secret": MASK,
        "flag": True,
        "none": None,
    }
    assert data["auth"]["headers"][0][1] == "Bearer nested-s3cret-aa11"  # type: ignore[index]


def test_redact_masks_the_longest_secret_first_and_ignores_tiny_values() -> None:
    register_secret("overlap-1234")
    register_secret("overlap-1234-longer")
    assert redact("a overlap-1234-longer b overlap-1234") == f"a {MASK} b {MASK}"
    register_secret("abc")
    register_secret("")
    assert redact("abc stays") == "abc stays"
