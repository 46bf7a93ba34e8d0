"""Pushes the adapter to an OCI registry with the oras library, using a dockerconfigjson push secret.

No shell command ever carries the secret: the credentials are read from the mounted secret file,
registered for log redaction, and handed to oras in-process (``registry_client``: Basic and Bearer
token challenges; a failure names the registry's HTTP answer). Each adapter file becomes one layer
titled with its file name (``oras pull`` gives the files back). Failed pushes are retried with
backoff; the adapter stays on the output volume whatever happens here.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kaito_runtime.tuning.errors import PushError
from kaito_runtime.tuning.jsonlog import log_event, redact, register_secret

if TYPE_CHECKING:
    from kaito_runtime.tuning.registry_client import Client

log = logging.getLogger("kaito.tuning.push")

ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
ADAPTER_ARTIFACT_TYPE = "application/vnd.kaito.adapter.v1"
_DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class Credentials:
    """A registry login; ``repr`` never shows the password."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"


def registry_of(image: str) -> str:
    """The registry host of an image reference (``host[:port]/repo[:tag]``); Docker Hub when it has none."""
    first, sep, _ = image.partition("/")
    if not sep or not image.split("/")[-1]:
        raise PushError(f"output image {image!r}: expected <registry>/<repository>[:<tag>]")
    if "." in first or ":" in first or first == "localhost":
        return first
    return "docker.io"


def _normalize_host(key: str) -> str:
    key = key.removeprefix("https://").removeprefix("http://")
    return key.split("/", 1)[0]


def read_push_secret(path: Path, registry: str) -> Credentials:
    """The credentials for ``registry`` from a dockerconfigjson file (``{"auths": {host: {...}}}``)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise PushError(f"push secret {path}: cannot read: {e.strerror or e}") from None
    except json.JSONDecodeError:
        raise PushError(f"push secret {path}: not valid JSON (expected a .dockerconfigjson)") from None
    auths = doc.get("auths") if isinstance(doc, dict) else None
    if not isinstance(auths, dict):
        raise PushError(f"push secret {path}: has no 'auths' object (expected a .dockerconfigjson)")
    wanted = {registry} | (set(_DOCKER_HUB_KEYS) if registry == "docker.io" else set())
    entry: Any = None
    for key, value in auths.items():
        if _normalize_host(key) in wanted or key in wanted:
            entry = value
            break
    if not isinstance(entry, dict):
        hosts = ", ".join(sorted(_normalize_host(k) for k in auths)) or "none"
        raise PushError(f"push secret {path}: no credentials for registry {registry!r} (it has: {hosts})")
    user, password = entry.get("username"), entry.get("password")
    if isinstance(entry.get("auth"), str) and entry["auth"]:
        register_secret(entry["auth"])
        try:
            user, _, password = base64.b64decode(entry["auth"], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise PushError(
                f"push secret {path}: auths.{registry}.auth is not base64 of user:password"
            ) from None
    if not isinstance(user, str) or not isinstance(password, str) or not user or not password:
        raise PushError(f"push secret {path}: auths.{registry} has no username and password")
    register_secret(password)
    register_secret(base64.b64encode(f"{user}:{password}".encode()).decode())
    return Credentials(user, password)


def _client(registry: str, creds: Credentials | None, insecure: bool) -> Client:
    from kaito_runtime.tuning.registry_client import Client

    basic = base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode() if creds else None
    return Client(registry, basic, insecure=insecure)


def push_adapter(
    adapter_dir: Path,
    image: str,
    creds: Credentials | None,
    *,
    insecure: bool = False,
    attempts: int = 4,
    backoff_s: float = 5.0,
    annotations: dict[str, str] | None = None,
) -> str:
    """Pushes the adapter files as an OCI artifact; returns the manifest digest. Retries, then PushError."""
    files = [adapter_dir / name for name in ADAPTER_FILES]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise PushError(f"adapter in {adapter_dir} is incomplete: missing {', '.join(missing)}")
    registry = registry_of(image)
    last = ""
    for attempt in range(1, attempts + 1):
        client = _client(registry, creds, insecure)
        try:
            response = client.push(
                target=image,
                files=[str(f) for f in files],
                disable_path_validation=True,
                manifest_annotations=annotations or None,
                quiet=True,
            )
            digest = str(response.headers.get("Docker-Content-Digest", ""))
            log_event(log, "adapter pushed", image=image, digest=digest, attempt=attempt)
            return digest
        except Exception as e:  # oras raises ValueError, requests errors and more; all are retried
            last = redact(client.explain(e))
            if attempt < attempts:
                delay = backoff_s * 2 ** (attempt - 1)
                log_event(
                    log,
                    "push failed; retrying",
                    logging.WARNING,
                    image=image,
                    attempt=attempt,
                    error=last,
                    retry_in_s=delay,
                )
                time.sleep(delay)
    raise PushError(
        f"push of the adapter to {image} (registry {registry}) failed after {attempts} attempts: {last}"
    )


def pull_adapter(
    image: str, out_dir: Path, creds: Credentials | None, *, insecure: bool = False
) -> list[Path]:
    """Pulls an adapter artifact back into ``out_dir`` (used by tests and for checks)."""
    client = _client(registry_of(image), creds, insecure)
    out_dir.mkdir(parents=True, exist_ok=True)
    return [Path(p) for p in client.pull(target=image, outdir=str(out_dir))]
