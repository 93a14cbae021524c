"""Exception types raised by posekit.

Each subclasses the built-in type that fits, so ``except ValueError`` keeps
working; messages name the file or key at fault and say how to fix it.
"""


class ConfigError(ValueError):
    """A config.yaml is malformed or holds an invalid value."""


class VideoError(ValueError):
    """A video cannot be opened or decoded."""


class LabelError(ValueError):
    """A label file or a label operation is invalid."""


class AnalysisFileError(ValueError):
    """A prediction file (analysis, machine labels, evaluation) cannot be read."""


class UnsafeFileError(ValueError):
    """A file holds content that could run code when read (e.g. a pickle)."""
