"""idsync plugin for TOPdesk: persons, branches and departments as a source; persons as a target."""

from idsync_topdesk.client import TopdeskClient, fiql_equals, fiql_quote
from idsync_topdesk.plugin import RESOURCE_KINDS, TopdeskPlugin
from idsync_topdesk.settings import TopdeskSettings

__all__ = [
    "RESOURCE_KINDS",
    "TopdeskClient",
    "TopdeskPlugin",
    "TopdeskSettings",
    "fiql_equals",
    "fiql_quote",
]
