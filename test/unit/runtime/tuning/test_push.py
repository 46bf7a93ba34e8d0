"""Adapter delivery to a real OCI registry (docker-registry, htpasswd auth) with oras; secrets stay secret."""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import shutil
from pathlib import Path

import pytest
from tuning_helpers import JobRun, Registry, run_job_in_process

from kaito_runtime.tuning.errors import PushError
from kaito_runtime.tuning.jsonlog import redact, register_secret
from kaito_runtime.tuning.push import ADAPTER_FILES, Credentials, pull_adapter, read_push_secret, registry_of
from kaito_runtime.tuning.status import read_status


def _secrets_of(reg: Registry) -> list[str]:
    return [reg.password, base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()]


def test_job_pushes_the_adapter_and_it_pulls_back_byte_identical(
    lora_run: JobRun, registry: Registry, tmp_path: Path
) -> None:
    from kaito_runtime.tuning.download import DownloadPolicy
    from kaito_runtime.tuning.job import JobOptions

    image = f"{registry.host}/tuned/phi-3-adapter:0.0.1"
    out = tmp_path / "results"  # a copy: the LoRA run's own status file is checked by other tests
    shutil.copytree(lora_run.output_dir, out)
    config = tmp_path / "training_config.yaml"
    config.write_text("training_config:\n  LoraConfig: {r: 8, lora_alpha: 16}\n")
    opts = JobOptions(
        config_path=config,
        output_dir=out,
        output_image=image,
        push_secret=registry.secret_path,
        insecure_registry=True,
        download=DownloadPolicy(allow_http=True),
    )
    # The output dir holds a completed run, so this job only delivers: it does not train again.
    run = run_job_in_process(opts)
    assert run.rc == 0, run.logs[-3:]
    assert not any(line.get("msg") == "progress" for line in run.logs)
    [pushed] = [line for line in run.logs if line.get("msg") == "adapter pushed"]
    assert pushed["digest"].startswith("sha256:")
    assert read_status(out / "status.json").phase == "Succeeded"

    creds = read_push_secret(registry.secret_path, registry.host)
    files = pull_adapter(image, tmp_path / "pulled", creds, insecure=True)
    assert sorted(p.name for p in files) == sorted(ADAPTER_FILES)
    for name in ADAPTER_FILES:
        assert (tmp_path / "pulled" / name).read_bytes() == (out / name).read_bytes()

    text = json.dumps(run.logs)
    for secret in _secrets_of(registry):
        assert secret not in text


def test_wrong_password_fails_after_retries_keeps_the_adapter_and_logs_no_secret(
    lora_run: JobRun, registry: Registry, tmp_path: Path, captured_logs: io.StringIO
) -> None:
    from kaito_runtime.tuning.job import JobOptions

    wrong = "wrong-Pa55word-123"
    secret = tmp_path / ".dockerconfigjson"
    secret.write_text(
        json.dumps({"auths": {registry.host: {"username": registry.username, "password": wrong}}})
    )
    out = tmp_path / "results"
    out.mkdir()
    for name in (*ADAPTER_FILES, "fine_tuning_completed.txt"):
        (out / name).write_bytes((lora_run.output_dir / name).read_bytes())
    config = tmp_path / "training_config.yaml"
    config.write_text("training_config: {}\n")
    opts = JobOptions(
        config_path=config,
        output_dir=out,
        output_image=f"{registry.host}/tuned/denied:1",
        push_secret=secret,
        insecure_registry=True,
        push_attempts=2,
        push_backoff_s=0.01,
    )
    run = run_job_in_process(opts)
    assert run.rc == 1
    status = read_status(out / "status.json")
    assert status.phase == "Failed" and status.reason == "PushFailed"
    assert (
        status.message
        and "failed after 2 attempts" in status.message
        and "unauthorized" in status.message.lower()
    )
    assert f"registry answered HTTP 401 Unauthorized to POST http://{registry.host}/v2/tuned/denied/" in (
        status.message
    )
    assert sum(1 for line in run.logs if line.get("msg") == "push failed; retrying") == 1
    assert all((out / name).is_file() for name in ADAPTER_FILES)
    everything = json.dumps(run.logs) + captured_logs.getvalue() + (out / "status.json").read_text()
    assert wrong not in everything
    assert base64.b64encode(f"{registry.username}:{wrong}".encode()).decode() not in everything


def test_push_secret_without_the_registry_names_what_it_has(tmp_path: Path) -> None:
    secret = tmp_path / ".dockerconfigjson"
    secret.write_text(json.dumps({"auths": {"https://other.example.com": {"auth": "dTpw"}}}))
    with pytest.raises(
        PushError, match=r"no credentials for registry 'reg\.example\.com' \(it has: other\.example\.com\)"
    ):
        read_push_secret(secret, "reg.example.com")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("not json", "not valid JSON"),
        ('{"foo": {}}', "has no 'auths' object"),
        ('{"auths": {"r.io": {"auth": "!!!"}}}', "is not base64 of user:password"),
        ('{"auths": {"r.io": {"username": "u"}}}', "has no username and password"),
    ],
)
def test_malformed_push_secrets_fail_clearly(tmp_path: Path, content: str, reason: str) -> None:
    secret = tmp_path / ".dockerconfigjson"
    secret.write_text(content)
    with pytest.raises(PushError, match=reason):
        read_push_secret(secret, "r.io")


def test_credentials_from_the_auth_field_are_decoded_and_redacted(tmp_path: Path) -> None:
    secret = tmp_path / ".dockerconfigjson"
    auth = base64.b64encode(b"robot:auth-Field-Pa55").decode()
    secret.write_text(json.dumps({"auths": {"https://r.io/v1/": {"auth": auth}}}))
    creds = read_push_secret(secret, "r.io")
    assert creds == Credentials("robot", "auth-Field-Pa55")
    assert "auth-Field-Pa55" not in repr(creds) and "auth-Field-Pa55" not in str(
        dataclasses.astuple(creds)[:1]
    )
    assert redact(f"x auth-Field-Pa55 {auth} y") == "x *** *** y"


def test_registered_secrets_are_scrubbed_from_every_log_line(captured_logs: io.StringIO) -> None:
    import logging

    register_secret("leaky-Value-42")
    logging.getLogger("some.library").error("request failed with header Basic leaky-Value-42")
    assert "leaky-Value-42" not in captured_logs.getvalue() and "Basic ***" in captured_logs.getvalue()


@pytest.mark.parametrize(
    ("image", "registry"),
    [
        ("127.0.0.1:5000/a/b:1", "127.0.0.1:5000"),
        ("myacr.azurecr.io/x:0.0.1", "myacr.azurecr.io"),
        ("user/img", "docker.io"),
    ],
)
def test_registry_is_taken_from_the_image_reference(image: str, registry: str) -> None:
    assert registry_of(image) == registry


def test_an_image_without_a_repository_is_an_error() -> None:
    with pytest.raises(PushError, match="expected <registry>/<repository>"):
        registry_of("justaname")
