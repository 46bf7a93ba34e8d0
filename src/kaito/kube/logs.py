"""Structured JSON logs: one JSON object per line with time, level, logger, message and every
`extra=` field (controller, object, reconcile_id…). Exceptions go in "error" and "stacktrace".
"""

from __future__ import annotations

import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, TextIO

import msgspec

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
_encoder = msgspec.json.Encoder()


class JsonFormatter(logging.Formatter):
    """Formats a LogRecord as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            out["error"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            out["stacktrace"] = "".join(traceback.format_exception(*record.exc_info))
        try:
            return _encoder.encode(out).decode()
        except TypeError:
            plain = {k: v if isinstance(v, int | float | bool | None) else str(v) for k, v in out.items()}
            return _encoder.encode(plain).decode()


def configure(level: int | str = logging.INFO, stream: TextIO | None = None) -> None:
    """Send the root logger's records to `stream` (stderr) as JSON lines."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
