"""idsync plugin for TOPdesk."""

from idsync_topdesk.plugin import TopdeskPlugin

__all__ = ["TopdeskPlugin"]
