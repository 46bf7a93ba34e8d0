"""Where the API server is and how to authenticate: kubeconfig or in-cluster service account.

kubernetes-asyncio parses the kubeconfig / service-account files (exec plugins, OIDC, token
refresh); this module turns its Configuration into a `Connection`: base URL, an SSL context and an
async provider of the Authorization header. Nothing else of kubernetes-asyncio is used.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import config as k8s_config

AuthProvider = Callable[[], Awaitable[str | None]]


async def _no_auth() -> str | None:
    return None


@dataclass
class Connection:
    """An API server endpoint: `host` like https://127.0.0.1:6443, TLS context, auth header."""

    host: str
    ssl_context: ssl.SSLContext | bool = True
    authorization: AuthProvider = field(default=_no_auth, repr=False)

    def __post_init__(self) -> None:
        if not self.host.startswith(("http://", "https://")):
            raise ValueError(f"host: must start with http:// or https://, got {self.host!r}")
        self.host = self.host.rstrip("/")


def _from_configuration(cfg: Any) -> Connection:
    ctx: ssl.SSLContext | bool = True
    if cfg.host.startswith("https://"):
        ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert)
        if cfg.cert_file:
            ctx.load_cert_chain(cfg.cert_file, keyfile=cfg.key_file)
        if not cfg.verify_ssl:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE

    async def authorization() -> str | None:
        if "BearerToken" not in cfg.api_key:
            return None
        value: str | None = await cfg.get_api_key_with_prefix("BearerToken")
        if value and not value.lower().startswith("bearer "):
            value = f"Bearer {value}"
        return value

    return Connection(host=cfg.host, ssl_context=ctx, authorization=authorization)


async def from_kubeconfig(
    path: str | os.PathLike[str] | None = None, context: str | None = None
) -> Connection:
    """Load a kubeconfig (default: $KUBECONFIG, then ~/.kube/config)."""
    cfg = k8s_client.Configuration()
    file = str(path) if path is not None else os.environ.get("KUBECONFIG") or None
    if file is not None and not os.path.exists(file.split(os.pathsep)[0]):  # noqa: ASYNC240
        raise FileNotFoundError(f"kubeconfig: {file} does not exist")
    await k8s_config.load_kube_config(
        config_file=file, context=context, client_configuration=cfg, persist_config=False
    )
    return _from_configuration(cfg)


def in_cluster() -> Connection:
    """The pod's service account (token re-read when the kubelet rotates it)."""
    cfg = k8s_client.Configuration()
    k8s_config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
    return _from_configuration(cfg)


async def load(path: str | os.PathLike[str] | None = None) -> Connection:
    """In-cluster when running in a pod and no kubeconfig is named, else the kubeconfig."""
    if path is None and not os.environ.get("KUBECONFIG") and os.environ.get("KUBERNETES_SERVICE_HOST"):
        return in_cluster()
    return await from_kubeconfig(path)
