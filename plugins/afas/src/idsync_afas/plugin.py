"""The AFAS Profit plugin: its about hook (lifecycle hooks follow)."""

from __future__ import annotations

from importlib.metadata import version

from idsync import PluginAbout, PluginKind, hookimpl
from pydantic import BaseModel


class AfasSettings(BaseModel):
    """Settings of the AFAS Profit plugin."""

    base_url: str


class AfasPlugin:
    """AFAS Profit connector."""

    def __init__(self, settings: AfasSettings | None = None) -> None:
        self.settings = settings

    @hookimpl
    def idsync_about(self) -> PluginAbout:
        """Describe the plugin."""
        return PluginAbout(
            name="afas",
            kind=PluginKind.BOTH,
            version=version("idsync-afas"),
            summary="HR source (employees, contracts, departments) and UPN/e-mail write-back for AFAS Profit",
            settings=AfasSettings,
        )
