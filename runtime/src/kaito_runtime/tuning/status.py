"""The job's status file: its phase and training progress, for the controller to surface.

The file (``status.json`` on the output volume by default) is rewritten atomically on every update,
so a reader never sees half a document; each update is also logged as a JSON ``status`` line.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import msgspec

from kaito_runtime.tuning.jsonlog import log_event

Phase = Literal["Starting", "Downloading", "Loading", "Training", "Saving", "Pushing", "Succeeded", "Failed"]


class Status(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What the status file holds; absent fields are not known yet."""

    phase: Phase = "Starting"
    method: str | None = None
    reason: str | None = None
    message: str | None = None
    world_size: int | None = None
    step: int | None = None
    max_steps: int | None = None
    epoch: float | None = None
    loss: float | None = None
    train_loss_mean: float | None = None
    eval_loss: float | None = None
    eta_seconds: float | None = None
    samples_per_second: float | None = None
    resumed_from: str | None = None
    rows_used: int | None = None
    rows_skipped: int | None = None
    skipped_reasons: dict[str, int] | None = None
    rows_truncated: int | None = None
    adapter_dir: str | None = None
    image: str | None = None
    started_at: str | None = None
    updated_at: str | None = None


def read_status(path: str | Path) -> Status:
    """Reads a status file back (for the controller's side and for tests)."""
    return msgspec.json.decode(Path(path).read_bytes(), type=Status)


class StatusReporter:
    """Writes the status file (when enabled, i.e. on the main process) and logs every update."""

    def __init__(self, path: Path | None, logger: logging.Logger) -> None:
        self.path = path
        self.logger = logger
        self.status = Status(started_at=_now())

    def update(self, *, log: bool = True, **fields: Any) -> None:
        """Sets fields and rewrites the file; logs the whole status as a JSON line unless ``log`` is False."""
        for k, v in fields.items():
            setattr(self.status, k, v)
        self.status.updated_at = _now()
        if log:
            log_event(self.logger, "status", **msgspec.to_builtins(self.status))
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_bytes(msgspec.json.encode(self.status))
            os.replace(tmp, self.path)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
