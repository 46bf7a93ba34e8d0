"""The job reports bad configs, inputs and data in its status file with the reason, and exits 1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tuning_helpers import HttpServer, run_job_in_process

from kaito_runtime.tuning.status import read_status

CASES: list[tuple[str, dict[str, Any], str, str, str]] = [
    ("unknown key", {"LoraConfig": {"alpha": 3}}, "train.parquet", "InvalidConfig", "unknown field `alpha`"),
    (
        "wrong type",
        {"TrainingArguments": {"max_steps": "many"}},
        "train.parquet",
        "InvalidConfig",
        "max_steps",
    ),
    (
        "no target match",
        {"LoraConfig": {"target_modules": ["q_proj"]}, "TrainingArguments": {"max_steps": 1}},
        "train.parquet",
        "InvalidConfig",
        "LoraConfig.target_modules",
    ),
    ("missing file", {}, "missing.parquet", "DownloadFailed", "HTTP 404"),
    ("unusable rows", {}, "bad.jsonl", "InvalidData", "bad.jsonl: no usable rows"),
    ("unknown schema", {}, "cols.csv", "InvalidData", "no known schema in columns ['a', 'b']"),
]


@pytest.mark.parametrize(
    ("sections", "file", "reason", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_job_fails_with_the_reason_in_its_status(
    job_options: Any, http_server: HttpServer, sections: dict[str, Any], file: str, reason: str, message: str
) -> None:
    root = http_server.root / "errors"  # not beside train.parquet: other tests read that whole folder
    root.mkdir(exist_ok=True)
    (root / "bad.jsonl").write_text('{"messages": [{"role": "user", "content": "no answer"}]}\n')
    (root / "cols.csv").write_text("a,b\n1,2\n")
    (root / "train.parquet").write_bytes((http_server.root / "train.parquet").read_bytes())
    opts = job_options(
        [http_server.url("errors/" + file)], ModelConfig={"torch_dtype": "float32"}, **sections
    )
    run = run_job_in_process(opts)
    assert run.rc == 1
    status = read_status(Path(opts.output_dir) / "status.json")
    assert status.phase == "Failed" and status.reason == reason
    assert status.message and message in status.message
    assert any(line["level"] == "error" and message in line["msg"] for line in run.logs)
