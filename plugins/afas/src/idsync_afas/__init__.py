"""idsync plugin for AFAS Profit."""

from idsync_afas.plugin import AfasPlugin

__all__ = ["AfasPlugin"]
