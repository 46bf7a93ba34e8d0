"""JSON log lines for the tuning job, with every registered secret redacted from the output.

Each record becomes one JSON object per line (ts, level, logger, msg, plus the ``fields`` passed in
``extra``). Third-party loggers and Python warnings go through the same handler, and the final line
is scrubbed of every string passed to :func:`register_secret`, so a secret that slips into an
exception message or a library's debug output still never reaches the log.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from datetime import UTC, datetime
from typing import IO, Any

import msgspec

REDACTED = "***"
_secrets: set[str] = set()
_lock = threading.Lock()
_encoder = msgspec.json.Encoder()


def register_secret(value: str) -> None:
    """Adds a string that must never appear in a log line (ignored when shorter than 4 characters)."""
    if len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Replaces every registered secret in ``text`` with ``***``, longest first."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for s in secrets:
        text = text.replace(s, REDACTED)
    return text


class JsonFormatter(logging.Formatter):
    """Formats a record as one redacted JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            payload.update(fields)
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        line = _encoder.encode(payload).decode()
        return redact(line)


def setup_logging(stream: IO[str] | None = None, level: int = logging.INFO) -> logging.Handler:
    """Routes the root logger, transformers' loggers and warnings to one JSON handler; returns it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    for name in ("transformers", "peft", "accelerate", "datasets"):
        lib = logging.getLogger(name)
        for old in list(lib.handlers):
            lib.removeHandler(old)
        lib.propagate = True
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    # urllib3 logs request lines at DEBUG only; keep the job's own INFO free of registry chatter.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    return handler


def log_event(logger: logging.Logger, msg: str, level: int = logging.INFO, **fields: Any) -> None:
    """Logs ``msg`` with structured fields merged into the JSON line."""
    logger.log(level, msg, extra={"fields": fields})
