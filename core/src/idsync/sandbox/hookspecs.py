"""The development hook: a plugin's simulator, for ``idsync sandbox``.

This specification is outside the production contract (``idsync.hookspecs``): only the sandbox
adds it to its plugin manager, and the engine never calls it. A plugin implements it as an
*optional* hook, ``@idsync.hookimpl(optionalhook=True)``, so that it loads wherever the sandbox
is not in use; it imports :class:`~idsync.sandbox.world.World` and
:class:`~idsync.sandbox.simulator.SandboxApp` only for type checking, or inside the hook, so
that it imports nothing of the sandbox at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

from idsync.hookspecs import PROJECT

if TYPE_CHECKING:
    from idsync.sandbox.simulator import SandboxApp
    from idsync.sandbox.world import World

hookspec = pluggy.HookspecMarker(PROJECT)

# --- sandbox ---------------------------------------------------------------------------


@hookspec(firstresult=True)
def idsync_sandbox(world: World) -> SandboxApp | None:
    """Return the plugin's simulator, seeded from the sandbox ``world``.

    Called on the unconfigured plugin by ``idsync sandbox``. The returned app is served on
    127.0.0.1; its environment variables tell the example pipelines where it is.
    Return None when the simulator's extra (``[sandbox]``) is not installed. Implement it with
    ``@hookimpl(optionalhook=True)``: it belongs to this specification module, which only the
    sandbox adds.
    """
