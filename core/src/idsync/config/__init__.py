"""The pipeline file: one YAML file, validated by pydantic, with errors that say where.

``${NAME}`` references are resolved from the environment at load; a setting the plugin marks as
``SecretStr`` must come from such a reference (secrets are never written in the file) and its
value is registered for redaction. Every problem is collected and reported at once as
``file: key.path: problem``.
"""

from idsync.config.base import ConfigError
from idsync.config.loading import load_pipeline
from idsync.config.pipeline import Pipeline
from idsync.config.systems import (
    AccountConfig,
    Correlate,
    Lifecycle,
    Missing,
    PermissionRule,
    SourceConfig,
    TargetConfig,
    UniqueRule,
)
from idsync.config.thresholds import (
    SOURCE_DEFAULTS,
    TARGET_DEFAULTS,
    TRANSITIONS,
    SourceThresholds,
    Threshold,
)
from idsync.config.thresholds import ThresholdKey as ThresholdKey

__all__ = [
    "SOURCE_DEFAULTS",
    "TARGET_DEFAULTS",
    "TRANSITIONS",
    "AccountConfig",
    "ConfigError",
    "Correlate",
    "Lifecycle",
    "Missing",
    "PermissionRule",
    "Pipeline",
    "SourceConfig",
    "SourceThresholds",
    "TargetConfig",
    "Threshold",
    "UniqueRule",
    "load_pipeline",
]
