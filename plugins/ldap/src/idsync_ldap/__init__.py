"""idsync plugins for directories: Active Directory (``ad``) and LDAP directories (``ldap``).

The plugin classes :class:`ActiveDirectoryPlugin` and :class:`LdapPlugin` are what the
``idsync.plugins`` entry points name; :class:`Directory` is the pooled connection both use.
"""

from idsync_ldap.directory import Directory, Entry
from idsync_ldap.errors import LdapError
from idsync_ldap.plugin import CONTAINER, PERMISSION_KINDS, ActiveDirectoryPlugin, LdapPlugin
from idsync_ldap.settings import ActiveDirectorySettings, DirectorySettings, LdapSettings

__all__ = [
    "CONTAINER",
    "PERMISSION_KINDS",
    "ActiveDirectoryPlugin",
    "ActiveDirectorySettings",
    "Directory",
    "DirectorySettings",
    "Entry",
    "LdapError",
    "LdapPlugin",
    "LdapSettings",
]
