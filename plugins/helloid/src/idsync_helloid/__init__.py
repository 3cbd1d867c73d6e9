"""idsync plugin for HelloID: users, groups, self-service products and department groups.

The plugin class :class:`HelloIDPlugin` is what the ``idsync.plugins`` entry point names; the
simulator lives in :mod:`idsync_helloid.simulator` (extra ``[sandbox]``).
"""

from idsync_helloid.client import HelloIDClient
from idsync_helloid.plugin import PERMISSION_KINDS, HelloIDPlugin
from idsync_helloid.settings import HelloIDSettings

__all__ = ["PERMISSION_KINDS", "HelloIDClient", "HelloIDPlugin", "HelloIDSettings"]
