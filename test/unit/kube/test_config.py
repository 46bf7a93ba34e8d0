"""Configuration: a kubeconfig loaded through kubernetes-asyncio becomes a Connection whose
requests carry the user's credentials."""

import pytest

from kaito.kube import config
from kaito.kube.client import Client
from kaito.kube.config import Connection
from kaito.kube.transport import Transport

from .kinds import THINGS, thing


def write_kubeconfig(path, server, token="s3cret-token"):
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters: [{{name: c, cluster: {{server: "{server}"}}}}]
users: [{{name: u, user: {{token: {token}}}}}]
contexts: [{{name: x, context: {{cluster: c, user: u, namespace: team}}}}]
current-context: x
"""
    )
    return path


async def test_a_token_from_the_kubeconfig_is_sent_as_a_bearer_header(api, tmp_path):
    conn = await config.from_kubeconfig(write_kubeconfig(tmp_path / "kc", api.url))
    assert conn.host == api.url and await conn.authorization() == "Bearer s3cret-token"
    seen = []

    async with Transport(conn) as transport:
        original = transport._headers

        async def spy(content_type):
            headers = await original(content_type)
            seen.append(headers.get("Authorization"))
            return headers

        transport._headers = spy
        await Client(transport).create(THINGS, thing("a"))
    assert seen == ["Bearer s3cret-token"]


async def test_a_missing_kubeconfig_is_named_in_the_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="kubeconfig"):
        await config.from_kubeconfig(tmp_path / "absent")


def test_a_host_without_a_scheme_is_refused():
    with pytest.raises(ValueError, match="host"):
        Connection("127.0.0.1:6443")


def test_the_token_never_appears_in_the_connection_repr():
    async def auth():
        return "Bearer s3cret"

    assert "s3cret" not in repr(Connection("https://x", authorization=auth))
