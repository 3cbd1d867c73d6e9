"""The HelloID plugin: its about hook (lifecycle hooks follow)."""

from __future__ import annotations

from importlib.metadata import version

from idsync import PluginAbout, PluginKind, hookimpl
from pydantic import BaseModel


class HelloIDSettings(BaseModel):
    """Settings of the HelloID plugin."""

    base_url: str


class HelloIDPlugin:
    """HelloID connector."""

    def __init__(self, settings: HelloIDSettings | None = None) -> None:
        self.settings = settings

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        """Describe the plugin."""
        return PluginAbout(
            name="helloid",
            kind=PluginKind.TARGET,
            version=version("idsync-helloid"),
            summary="HelloID users, groups and self-service products as a target",
            settings=HelloIDSettings,
        )
