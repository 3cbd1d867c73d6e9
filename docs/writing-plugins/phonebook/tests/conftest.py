"""Fixtures: a fresh Phonebook simulator on 127.0.0.1 per test, and the plugin bound to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from idsync import HookContext
from idsync.sandbox.simulator import Simulated, serve
from idsync_phonebook import PhonebookPlugin, PhonebookSettings
from idsync_phonebook.simulator import PhonebookData, create_app
from pydantic import SecretStr

TOKEN = "phonebook-test-token-4f1c"


@pytest.fixture
def token() -> str:
    """The token the simulator accepts."""
    return TOKEN


@pytest.fixture
def data() -> PhonebookData:
    """The simulator's entries: seed them, or look at what the plugin did."""
    return PhonebookData()


@pytest.fixture
def app(data: PhonebookData) -> Simulated:
    """The simulator; ``app.log`` holds every request it answered."""
    return create_app(data, TOKEN)


@pytest.fixture
def url(app: Simulated) -> Iterator[str]:
    """The simulator served on a free port of 127.0.0.1 for the test."""
    with serve(app) as server:
        yield server.url


@pytest.fixture
def plugin(url: str) -> PhonebookPlugin:
    """The plugin configured for the simulator, as the engine constructs it."""
    settings = PhonebookSettings(base_url=url, token=SecretStr(TOKEN), retries=1, backoff=0.01)
    return PhonebookPlugin(settings=settings)


@pytest.fixture
def ctx(plugin: PhonebookPlugin) -> Callable[..., HookContext]:
    """Make the context the engine would pass to this configured system."""

    def make(**values: Any) -> HookContext:
        return HookContext(system="phonebook", settings=plugin.settings, **values)

    return make
