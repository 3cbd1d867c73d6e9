"""Development tooling: the sandbox, the simulator toolkit, the world generator, the demo and
the plugin generator.

None of it is part of the production contract: the engine never imports this package, and an
installation that runs pipelines needs none of it. Plugins use it to ship a simulator of their
vendor's API (``[sandbox]`` extra): :mod:`idsync.sandbox.simulator` holds the building blocks,
:mod:`idsync.sandbox.world` the shared generated organisation, and
:mod:`idsync.sandbox.hookspecs` the one hook that hands a simulator to ``idsync sandbox``.

- :class:`Sandbox` and :func:`run_forever` (``idsync sandbox``): every installed plugin's
  simulator on 127.0.0.1, filled from one generated world;
- :mod:`idsync.sandbox.demo` (``idsync demo``): the lifecycle story on the sandbox;
- :mod:`idsync.sandbox.scaffold` (``idsync new-plugin``): a complete, working plugin package.
"""

from idsync.sandbox.runner import Sandbox, run_forever

__all__ = ["Sandbox", "run_forever"]
