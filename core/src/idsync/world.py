"""Deprecated: the world generator moved to :mod:`idsync.sandbox.world`.

Importing ``idsync.world`` still works, with a ``DeprecationWarning``; import
``idsync.sandbox.world`` instead. This module goes in idsync 0.3.
"""

import warnings
from typing import Any

from idsync.sandbox import world as _moved

__all__ = _moved.__all__

warnings.warn(
    "idsync.world moved to idsync.sandbox.world; import it from there "
    "(idsync.world goes in idsync 0.3)",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    return getattr(_moved, name)
