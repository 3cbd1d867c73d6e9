"""idsync plugin for HelloID."""

from idsync_helloid.plugin import HelloIDPlugin

__all__ = ["HelloIDPlugin"]
