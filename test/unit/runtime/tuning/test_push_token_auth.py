"""Adapter delivery to a registry that authenticates with Bearer tokens (Docker Hub, GHCR, ACR)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_registry import SERVICE, FakeRegistry, running

from kaito_runtime.tuning.errors import PushError
from kaito_runtime.tuning.push import ADAPTER_FILES, Credentials, pull_adapter, push_adapter

USER, PASSWORD = "robot", "Token-Flow-Pa55word"


@pytest.fixture
def registry() -> Iterator[FakeRegistry]:
    with running(USER, PASSWORD) as reg:
        yield reg


@pytest.fixture
def adapter(tmp_path: Path) -> Path:
    d = tmp_path / "adapter"
    d.mkdir()
    (d / "adapter_config.json").write_text('{"r": 8, "lora_alpha": 16}')
    (d / "adapter_model.safetensors").write_bytes(bytes(range(256)) * 64)
    return d


def test_a_bearer_challenge_is_answered_with_a_token_from_the_realm_and_the_adapter_pulls_back(
    registry: FakeRegistry, adapter: Path, tmp_path: Path, captured_logs: io.StringIO
) -> None:
    image = f"{registry.host}/tuned/phi-3-adapter:0.0.1"
    creds = Credentials(USER, PASSWORD)
    digest = push_adapter(adapter, image, creds, insecure=True, attempts=1)
    assert digest.startswith("sha256:") and digest in registry.manifests
    assert {
        "service": SERVICE,
        "scope": "repository:tuned/phi-3-adapter:pull,push",
    } in registry.token_requests
    assert set(registry.seen_authorization) <= {"", "Bearer"}  # Basic goes to the token endpoint only

    files = pull_adapter(image, tmp_path / "pulled", creds, insecure=True)
    assert sorted(p.name for p in files) == sorted(ADAPTER_FILES)
    for name in ADAPTER_FILES:
        assert (tmp_path / "pulled" / name).read_bytes() == (adapter / name).read_bytes()
    logs = captured_logs.getvalue()
    assert PASSWORD not in logs and not any(token in logs for token in registry.tokens)


def test_a_token_endpoint_refusing_the_login_fails_clearly_without_the_password(
    registry: FakeRegistry, adapter: Path, captured_logs: io.StringIO
) -> None:
    wrong = "wrong-Pa55word-123"
    started = time.monotonic()
    with pytest.raises(PushError) as err:
        push_adapter(
            adapter,
            f"{registry.host}/tuned/a:1",
            Credentials(USER, wrong),
            insecure=True,
            attempts=2,
            backoff_s=0.01,
        )
    message = str(err.value)
    assert f"(registry {registry.host}) failed after 2 attempts" in message
    assert f"token endpoint http://{registry.host}/token: HTTP 401 Unauthorized to GET" in message
    assert "check the push secret's username and password" in message
    assert "JSONDecodeError" not in message and "Expecting value" not in message
    assert wrong not in message + captured_logs.getvalue()
    assert time.monotonic() - started < 10  # no hidden per-request retries with long sleeps


def test_a_registry_refusing_the_push_names_its_http_answer(registry: FakeRegistry, adapter: Path) -> None:
    # The token server grants only pull on readonly/: the upload POST gets a 401 with an empty body.
    with pytest.raises(PushError) as err:
        push_adapter(
            adapter, f"{registry.host}/readonly/a:1", Credentials(USER, PASSWORD), insecure=True, attempts=1
        )
    message = str(err.value)
    assert (
        f"failed after 1 attempts: registry answered HTTP 401 Unauthorized to POST "
        f"http://{registry.host}/v2/readonly/a/blobs/uploads/" in message
    )
    assert "JSONDecodeError" not in message and PASSWORD not in message


def test_a_server_error_fails_at_once_with_its_status(registry: FakeRegistry, adapter: Path) -> None:
    registry.upload_status = 503
    started = time.monotonic()
    with pytest.raises(PushError, match=r"registry answered HTTP 503 Service Unavailable to POST http://"):
        push_adapter(
            adapter, f"{registry.host}/tuned/a:1", Credentials(USER, PASSWORD), insecure=True, attempts=1
        )
    assert time.monotonic() - started < 10


def test_without_a_push_secret_an_anonymous_token_is_asked_for_and_its_refusal_reported(
    registry: FakeRegistry, adapter: Path
) -> None:
    with pytest.raises(PushError, match=r"token endpoint http://127\.0\.0\.1:\d+/token: HTTP 401"):
        push_adapter(adapter, f"{registry.host}/tuned/a:1", None, insecure=True, attempts=1)
    assert registry.token_requests  # asked, without credentials
