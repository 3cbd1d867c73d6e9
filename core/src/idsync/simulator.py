"""Deprecated: the simulator toolkit moved to :mod:`idsync.sandbox.simulator`.

Importing ``idsync.simulator`` still works, with a ``DeprecationWarning``; import
``idsync.sandbox.simulator`` instead. This module goes in idsync 0.3.
"""

import warnings
from typing import Any

from idsync.sandbox import simulator as _moved

__all__ = _moved.__all__

warnings.warn(
    "idsync.simulator moved to idsync.sandbox.simulator; import it from there "
    "(idsync.simulator goes in idsync 0.3)",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    return getattr(_moved, name)
