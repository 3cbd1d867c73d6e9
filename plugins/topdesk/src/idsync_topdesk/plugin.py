"""The TOPdesk plugin: its about hook (lifecycle hooks follow)."""

from __future__ import annotations

from importlib.metadata import version

from idsync import PluginAbout, PluginKind, hookimpl
from pydantic import BaseModel


class TopdeskSettings(BaseModel):
    """Settings of the TOPdesk plugin."""

    base_url: str


class TopdeskPlugin:
    """TOPdesk connector."""

    def __init__(self, settings: TopdeskSettings | None = None) -> None:
        self.settings = settings

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        """Describe the plugin."""
        return PluginAbout(
            name="topdesk",
            kind=PluginKind.BOTH,
            version=version("idsync-topdesk"),
            summary="TOPdesk persons, branches and departments as a source, and TOPdesk persons as a target",
            settings=TopdeskSettings,
        )
