"""The idsync pytest plugin (entry point ``pytest11``): what plugin authors' tests get for free.

- the ``idsync_contract`` marker, carried by every check of the contract kit
  (``pytest -m idsync_contract`` runs only those);
- the ``idsync_serve`` fixture: serve an ASGI app (a simulator) on 127.0.0.1 for one test.

The contract classes themselves come from :mod:`idsync.testing`. pytest loads this module in
every test run of an environment where idsync is installed; it only adds the marker and the
fixture, and changes nothing else about the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from idsync.sandbox.simulator import SimulatorServer

__all__ = ["idsync_serve", "pytest_configure"]


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``idsync_contract`` marker."""
    config.addinivalue_line(
        "markers", "idsync_contract: a check of the idsync plugin contract kit (idsync.testing)"
    )


@pytest.fixture
def idsync_serve() -> Iterator[Callable[..., SimulatorServer]]:
    """Serve ASGI apps on 127.0.0.1 (a free port each) until the test ends.

    ``server = idsync_serve(app)``; ``server.url`` is ``http://127.0.0.1:PORT``.
    """
    from idsync.sandbox.simulator import serve

    with ExitStack() as stack:

        def start(app: Any, port: int = 0) -> SimulatorServer:
            return stack.enter_context(serve(app, port))

        yield start
