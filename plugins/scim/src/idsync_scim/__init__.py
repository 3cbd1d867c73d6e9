"""idsync plugin for any SCIM 2.0 service provider: users, the enterprise extension, groups.

The plugin class :class:`ScimPlugin` is what the ``idsync.plugins`` entry point names;
:mod:`idsync_scim.testing` starts a real SCIM server (scim2-server) on 127.0.0.1 for tests.
"""

from idsync_scim.client import ScimClient
from idsync_scim.discovery import Discovery, DiscoveryError
from idsync_scim.plugin import ENTERPRISE, PERMISSION_KINDS, ScimPlugin
from idsync_scim.settings import ScimSettings

__all__ = [
    "ENTERPRISE",
    "PERMISSION_KINDS",
    "Discovery",
    "DiscoveryError",
    "ScimClient",
    "ScimPlugin",
    "ScimSettings",
]
