"""Helpers shared by the tuning tests: chat rows, data files, config files, server handles."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

QUESTIONS = ["What is Kubernetes?", "Write a haiku.", "What is the capital of France?", "Explain LoRA."]


def chat_rows(n: int = 32) -> list[dict[str, Any]]:
    """Chat rows in the dolly-15k-oai-style shape: a ``messages`` list of role/content."""
    return [
        {
            "messages": [
                {"role": "user", "content": QUESTIONS[i % 4]},
                {"role": "assistant", "content": f"The answer is number {i % 4}."},
            ]
        }
        for i in range(n)
    ]


def write_chat_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    msg_type = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    pq.write_table(pa.table({"messages": pa.array([r["messages"] for r in rows], type=msg_type)}), path)
    return path


@dataclass
class HttpServer:
    """A loopback static file server over ``root``."""

    root: Path
    port: int

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    hit_counter: Any = field(default=None, repr=False)

    def hits(self, path: str) -> int:
        return int(self.hit_counter["/" + path.lstrip("/")])


@dataclass
class Registry:
    """A running docker-registry with htpasswd auth and the push secret for it."""

    host: str
    username: str
    password: str
    secret_path: Path


def write_config(path: Path, **sections: dict[str, Any]) -> Path:
    """Writes a training config YAML with the given sections under ``training_config``."""
    import yaml

    path.write_text(yaml.safe_dump({"training_config": sections}))
    return path


FAST_TRAINING = {
    "max_steps": 8,
    "per_device_train_batch_size": 4,
    "learning_rate": 0.01,
    "logging_steps": 1,
    "save_steps": 4,
}
"""TrainingArguments for a few quick steps on the tiny model."""


@dataclass
class JobRun:
    """A finished tuning job: its output dir, exit code and the JSON log lines it wrote."""

    output_dir: Path
    rc: int
    logs: list[dict[str, Any]]


@contextlib.contextmanager
def json_logs(level: int) -> Iterator[io.StringIO]:
    """Every log record at `level` or above while inside, formatted as the job's redacted JSON lines."""
    from kaito_runtime.tuning.jsonlog import JsonFormatter

    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield buf
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def run_job_in_process(opts: Any) -> JobRun:
    """Runs the job in this process, capturing its JSON log lines."""
    from kaito_runtime.tuning.job import run_job

    with json_logs(logging.INFO) as buf:
        rc = run_job(opts)
    lines = [json.loads(line) for line in buf.getvalue().splitlines() if line.startswith("{")]
    return JobRun(Path(opts.output_dir), rc, lines)
