"""Under torchrun (2 CPU processes, gloo): rank 0 serves HTTP, rank 1 holds half of the model and follows."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from openai import OpenAI

REPO = Path(__file__).resolve().parents[4]
TORCHRUN = Path(sys.executable).with_name("torchrun")


def free_port_pair() -> int:
    """A port P with P and P+1 free (rank 0 listens on P, rank 1's health server on P+1)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return int(port)
    raise RuntimeError("no free port pair")


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return dict(json.loads(r.read()))


@pytest.mark.slow
def test_two_process_torchrun_serves_and_exits_cleanly(
    tiny_model_dir: Path, tokenizer: Any, reference: Any, tmp_path: Path
) -> None:
    port = free_port_pair()
    env = dict(os.environ, PYTHONPATH=str(REPO / "runtime" / "src"), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    log_path = tmp_path / "torchrun.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                str(TORCHRUN),
                "--standalone",
                "--nproc_per_node=2",
                "-m",
                "kaito_runtime.inference",
                "--model",
                str(tiny_model_dir),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--adapters-dir",
                str(tmp_path / "none"),
                "--served-model-name",
                "tiny",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while status_of(f"http://127.0.0.1:{port}/healthz") != 200:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, (
                "rank 0 never became healthy:\n" + log_path.read_text()[-3000:]
            )
            time.sleep(0.5)
        assert (
            status_of(f"http://127.0.0.1:{port + 1}/healthz") == 200
        )  # rank 1 (LOCAL_RANK 1) answers probes

        prompt = "The operator creates machines"
        ids = list(tokenizer(prompt)["input_ids"])
        expected = reference(ids, 8, min_new_tokens=8)
        body = post(
            f"http://127.0.0.1:{port}/chat",
            {
                "prompt": prompt,
                "return_full_text": False,
                "generate_kwargs": {"do_sample": False, "max_new_tokens": 8, "min_new_tokens": 8},
            },
        )
        assert body["Result"] == tokenizer.decode(expected, skip_special_tokens=True)

        api = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0)
        stream = api.completions.create(
            model="tiny",
            prompt=prompt,
            max_tokens=8,
            temperature=0,
            stream=True,
            extra_body={"min_tokens": 8},
        )
        assert "".join(c.choices[0].text for c in stream if c.choices) == body["Result"]
    finally:
        proc.send_signal(signal.SIGTERM)  # as the kubelet does; torchrun forwards it to both workers
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    log_text = log_path.read_text()
    assert "splitting the model over 2 ranks" in log_text
    assert "rank 0 exiting with status 0" in log_text, log_text[-3000:]
    assert "rank 1 exiting with status 0" in log_text, log_text[-3000:]
    assert "terminate called" not in log_text
    assert "SIGABRT" not in log_text
