"""The job as a process: a killed run resumes from its checkpoint; torchrun trains with 2 ranks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tuning_helpers import write_config

from kaito_runtime.tuning.status import read_status


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join(sys.path),
        OMP_NUM_THREADS="1",
        HF_HUB_OFFLINE="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        TOKENIZERS_PARALLELISM="false",
    )
    return env


def _args(tmp: Path, model: Path, data: Path, **training: object) -> list[str]:
    config = write_config(
        tmp / "training_config.yaml",
        ModelConfig={"torch_dtype": "float32"},
        TrainingArguments={
            "per_device_train_batch_size": 2,
            "learning_rate": 0.01,
            "logging_steps": 1,
            **training,
        },
        DatasetConfig={"max_seq_length": 48},
    )
    return [
        "--config",
        str(config),
        "--data-dir",
        str(data),
        "--output-dir",
        str(tmp / "out"),
        "--model-path",
        str(model),
    ]


def test_a_job_killed_mid_run_resumes_from_its_last_checkpoint(
    tmp_path: Path, tiny_model_dir: Path, data_root: Path
) -> None:
    args = _args(tmp_path, tiny_model_dir, data_root, max_steps=60, save_steps=5, save_total_limit=3)
    cmd = [sys.executable, "-m", "kaito_runtime.tuning", *args]
    out = tmp_path / "out"
    with (tmp_path / "first.log").open("w") as log:
        first = subprocess.Popen(cmd, env=_env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while not (out / "checkpoint-5" / "trainer_state.json").exists():
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait()
    killed_at = read_status(out / "status.json")
    assert killed_at.phase == "Training" and killed_at.step is not None and killed_at.step < 60
    assert not (out / "adapter_model.safetensors").exists()
    complete = sorted(
        int(p.name.split("-")[1]) for p in out.glob("checkpoint-*") if (p / "trainer_state.json").exists()
    )

    second = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    lines = [json.loads(x) for x in second.stderr.splitlines() if x.startswith("{")]
    [resumed] = [x for x in lines if x["msg"] == "resuming from checkpoint"]
    assert resumed["checkpoint"] == f"checkpoint-{complete[-1]}"
    steps = [x["step"] for x in lines if x["msg"] == "progress"]
    assert steps[0] == complete[-1] + 1 and steps[-1] == 60
    status = read_status(out / "status.json")
    assert (status.phase, status.step, status.resumed_from) == ("Succeeded", 60, f"checkpoint-{complete[-1]}")
    assert (out / "adapter_model.safetensors").is_file()


def test_torchrun_with_two_processes_trains_one_adapter(
    tmp_path: Path, tiny_model_dir: Path, data_root: Path
) -> None:
    args = _args(tmp_path, tiny_model_dir, data_root, max_steps=4, save_steps=100)
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        "-m", "kaito_runtime.tuning", *args,
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    status = read_status(tmp_path / "out" / "status.json")
    assert (status.phase, status.world_size, status.step) == ("Succeeded", 2, 4)
    # 2 ranks x batch 2 per step
    assert (tmp_path / "out" / "adapter_model.safetensors").is_file()
    lines = [json.loads(x) for x in proc.stderr.splitlines() if x.startswith("{")]
    assert sum(1 for x in lines if x["msg"] == "adapter saved") == 1
