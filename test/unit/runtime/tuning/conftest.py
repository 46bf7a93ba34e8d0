"""Fixtures for the tuning job's tests: chat data files, a loopback HTTP server, a real OCI registry."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import shutil
import socket
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from tuning_helpers import (
    FAST_TRAINING,
    HttpServer,
    JobRun,
    Registry,
    chat_rows,
    json_logs,
    run_job_in_process,
    write_chat_parquet,
    write_config,
)

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    # Our machines are shared: with several busy cores, torch's spinning thread pool is 20x slower.
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder served over HTTP, holding ``train.parquet`` (32 chat rows)."""
    root = tmp_path_factory.mktemp("served")
    write_chat_parquet(root / "train.parquet", chat_rows(32))
    return root


class _Handler(SimpleHTTPRequestHandler):
    hits: ClassVar[Counter[str]] = Counter()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        _Handler.hits[self.path] += 1
        if self.path.startswith("/flaky/"):
            if _Handler.hits[self.path] <= 2:
                self.send_error(503, "try again")
                return
            self.path = "/" + self.path.removeprefix("/flaky/")
        elif self.path.startswith("/redirect-file"):
            self.send_response(302)
            self.send_header("Location", "file:///etc/passwd")
            self.end_headers()
            return
        elif self.path.startswith("/redirect/"):
            self.send_response(302)
            self.send_header("Location", "/" + self.path.removeprefix("/redirect/"))
            self.end_headers()
            return
        super().do_GET()


@pytest.fixture(scope="session")
def http_server(data_root: Path) -> Iterator[HttpServer]:
    """Serves ``data_root`` on 127.0.0.1; ``/flaky/X`` fails twice (503), ``/redirect/X`` redirects to X."""

    def handler(*args: Any, **kw: Any) -> _Handler:
        return _Handler(*args, directory=str(data_root), **kw)

    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield HttpServer(data_root, server.server_address[1], _Handler.hits)
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """Debian's docker-registry on 127.0.0.1 with htpasswd (bcrypt) auth, plus a dockerconfigjson."""
    binary, htpasswd = shutil.which("docker-registry"), shutil.which("htpasswd")
    if binary is None or htpasswd is None:
        missing = [
            p for p, b in (("docker-registry", binary), ("apache2-utils (htpasswd)", htpasswd)) if b is None
        ]
        pytest.fail(
            f"the registry push test needs the Debian package(s) {', '.join(missing)}: "
            "apt-get install -y docker-registry apache2-utils (listed in hack/apt-packages.txt)"
        )
    root = tmp_path_factory.mktemp("registry")
    user, password = "kaito", "s3cret-Pa55word-xyz"
    htfile = root / "htpasswd"
    subprocess.run([htpasswd, "-Bbc", str(htfile), user, password], check=True, capture_output=True)
    port = _free_port()
    config = root / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}}}\n"
        f"http: {{addr: '127.0.0.1:{port}', secret: test-only-http-secret}}\n"
        f"auth: {{htpasswd: {{realm: kaito-test, path: {htfile}}}}}\n"
    )
    log_file = (root / "registry.log").open("w")
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=log_file, stderr=subprocess.STDOUT)
    host = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"docker-registry did not start: {(root / 'registry.log').read_text()[-2000:]}")
            time.sleep(0.1)
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    secret = root / "push-secret" / ".dockerconfigjson"
    secret.parent.mkdir()
    secret.write_text(json.dumps({"auths": {host: {"username": user, "password": password, "auth": auth}}}))
    try:
        yield Registry(host, user, password, secret)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log_file.close()


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Every log record during the test, formatted as the job's redacted JSON lines."""
    with json_logs(logging.DEBUG) as buf:
        yield buf


def _job_options(tmp: Path, model_dir: Path, urls: list[str], **sections: dict[str, Any]) -> Any:
    from kaito_runtime.tuning.download import DownloadPolicy
    from kaito_runtime.tuning.job import JobOptions

    return JobOptions(
        config_path=write_config(tmp / "training_config.yaml", **sections),
        data_urls=urls,
        data_dir=tmp / "data",
        output_dir=tmp / "results",
        model_path=str(model_dir),
        download=DownloadPolicy(allow_http=True, backoff_s=0.01),
    )


@pytest.fixture(scope="session")
def lora_run(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, http_server: HttpServer
) -> JobRun:
    """One LoRA job on the tiny Phi-3 with the parquet chat file downloaded from the loopback server."""
    opts = _job_options(
        tmp_path_factory.mktemp("lora"),
        tiny_model_dir,
        [http_server.url("train.parquet?download=true")],
        ModelConfig={"torch_dtype": "float32"},
        LoraConfig={"r": 8, "lora_alpha": 16},
        TrainingArguments=FAST_TRAINING,
        DatasetConfig={"max_seq_length": 64},
    )
    return run_job_in_process(opts)


@pytest.fixture
def job_options(tmp_path: Path, tiny_model_dir: Path) -> Any:
    """Builds JobOptions in this test's tmp dir: ``job_options(urls, **sections)``."""

    def make(urls: list[str], **sections: dict[str, Any]) -> Any:
        return _job_options(tmp_path, tiny_model_dir, urls, **sections)

    return make
