"""The plugin contract kit: pytest classes that check a plugin against a live endpoint.

A plugin author points the kit at their plugin, its settings and a live endpoint (their
simulator or a test tenant) and gets a test class that checks every hook the plugin
implements against the contract in :mod:`idsync.hookspecs`::

    from idsync import Correlation
    from idsync.testing import Sample, simulator_writes, target_contract

    TestContract = target_contract(
        plugin=MyPlugin,
        settings=lambda my_server: {"base_url": my_server.url, "token": "t0ken-for-tests"},
        writes=lambda my_server: simulator_writes(my_server.url),
        sample=lambda unique: Sample(...),
    )

:func:`source_contract` does the same for a source. The checks may run in parallel, also
against one shared live endpoint (:mod:`idsync.testing.sharing`), and remove what they create
(``idsync_delete``, then the spec's ``cleanup``, given :class:`Created`). Writes are counted by
:func:`simulator_writes` (what a simulator saw) or :func:`sent_writes` (what this process sent,
for a test tenant). The ``idsync`` pytest plugin (entry point ``pytest11``) registers the
``idsync_contract`` marker and the ``idsync_serve`` fixture.
"""

from idsync.testing.harness import Harness, SourceHarness, TargetHarness, implemented_hooks
from idsync.testing.sharing import unique
from idsync.testing.source import SourceContract, source_contract
from idsync.testing.spec import Created, Sample, SourceSpec, TargetSpec
from idsync.testing.target import TargetContract, target_contract
from idsync.testing.writes import sent_writes, simulator_writes

__all__ = [
    "Created",
    "Harness",
    "Sample",
    "SourceContract",
    "SourceHarness",
    "SourceSpec",
    "TargetContract",
    "TargetHarness",
    "TargetSpec",
    "implemented_hooks",
    "sent_writes",
    "simulator_writes",
    "source_contract",
    "target_contract",
    "unique",
]
