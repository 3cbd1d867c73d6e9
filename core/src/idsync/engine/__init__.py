"""The engine: one run of a pipeline, import → evaluate → plan → thresholds → enforce → audit.

:meth:`Engine.plan` reads the sources and the state store and returns the plan, writing nothing
anywhere. :meth:`Engine.run` does the whole flow under the pipeline's lock: it stores the
accepted snapshots, the plan, held work and every action's outcome as it happens.
"""

from idsync.engine.commands import Engine
from idsync.engine.commands import lease_ttl as lease_ttl
from idsync.engine.results import (
    EXIT_FAILED,
    EXIT_HELD,
    EXIT_INPUT,
    EXIT_OK,
    DateRefused,
    RunReport,
    nest_counts,
    run_status,
)
from idsync.progress import Progress
from idsync.state import LockHeld
from idsync.thresholds import approve_kinds

__all__ = [
    "EXIT_FAILED",
    "EXIT_HELD",
    "EXIT_INPUT",
    "EXIT_OK",
    "DateRefused",
    "Engine",
    "Progress",
    "RunReport",
    "nest_counts",
    "run_status",
]
__all__ += ["LockHeld", "approve_kinds"]
