"""What a plan knows of one target before it decides: the shadows, the accounts the target
lists, and what they are blocked on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from idsync.correlation import Lookups, NoLookups
from idsync.state import AccountState, BlockedAction


@dataclass
class Known:
    """What a plan knows of one target before it starts (the engine reads it; tests give it).

    ``accounts`` are the shadows by person; ``resources`` the resources made; ``hooks`` the
    hooks the plugin implements (None: all); ``blocked`` the actions reported blocked and
    ``digest`` the settings' hash they were blocked with; ``lookups`` answers questions to the
    target itself; ``checked`` the persons already looked up as leavers (person → the value
    they were looked up with); ``case_insensitive`` whether the target ignores letter case.
    """

    accounts: Mapping[str, AccountState] = field(default_factory=dict)
    resources: Mapping[str, str | None] = field(default_factory=dict)
    hooks: set[str] | None = None
    blocked: Mapping[tuple[str, str, str], BlockedAction] = field(default_factory=dict)
    digest: str = ""
    lookups: Lookups = field(default_factory=NoLookups)
    checked: Mapping[str, str] = field(default_factory=dict)
    case_insensitive: bool = False
    doubtful: Mapping[str, int] = field(default_factory=dict)
    """Persons whose create an interrupted run left in doubt (person → that run)."""
