"""Fixtures for the kaito.kube e2e tests: a client on the shared control plane (the `kubeconfig`
and `cluster` fixtures come from test/e2e/conftest.py) and a namespace per test, deleted after."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest

from kaito.kube import config
from kaito.kube.client import Client
from kaito.kube.errors import NotFound
from kaito.kube.transport import Transport

from .kinds import NAMESPACES


@pytest.fixture
async def transport(kubeconfig) -> AsyncIterator[Transport]:
    t = Transport(await config.from_kubeconfig(kubeconfig), timeout=30)
    yield t
    await t.close()


@pytest.fixture
async def client(transport: Transport) -> Client:
    return Client(transport, field_manager="kaito-kube-e2e")


@pytest.fixture
async def namespace(client: Client) -> AsyncIterator[str]:
    name = f"kube-e2e-{uuid.uuid4().hex[:8]}"
    await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    yield name
    with contextlib.suppress(NotFound):
        await client.delete(NAMESPACES, name, propagation_policy="Background")


async def eventually(pred, within: float = 30.0, interval: float = 0.1) -> None:
    """Poll an async or plain predicate until it is true."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while True:
        value = pred()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if loop.time() > end:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(interval)
