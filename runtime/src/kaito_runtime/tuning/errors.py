"""The tuning job's error types: each names what was wrong, so the job can report it and exit.

Torch-free, like config.py, so the controller can import the package's config without the ML stack.
"""

from __future__ import annotations


class TuningError(Exception):
    """A failure the job reports to its status file and log as its reason, then exits non-zero."""

    reason = "TuningFailed"


class ConfigError(TuningError):
    """The training config (the ConfigMap's YAML) is invalid; raised before any model loads."""

    reason = "InvalidConfig"


class DownloadError(TuningError):
    """An input URL could not be fetched, was refused, was too large or failed its checksum."""

    reason = "DownloadFailed"


class DataError(TuningError):
    """An input file could not be read or held no usable rows."""

    reason = "InvalidData"


class PushError(TuningError):
    """The adapter could not be pushed to the output image (it stays on the output volume)."""

    reason = "PushFailed"
