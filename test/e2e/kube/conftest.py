"""Fixtures for the kaito.kube e2e tests: a Transport and Client on the shared control plane
(`kubeconfig`, `cluster` and the per-test `namespace` come from test/e2e/conftest.py)."""

import asyncio
from collections.abc import AsyncIterator

import pytest

from kaito.kube import config
from kaito.kube.client import Client
from kaito.kube.transport import Transport


@pytest.fixture
async def transport(kubeconfig) -> AsyncIterator[Transport]:
    t = Transport(await config.from_kubeconfig(kubeconfig), timeout=30)
    yield t
    await t.close()


@pytest.fixture
async def client(transport: Transport) -> Client:
    return Client(transport, field_manager="kaito-kube-e2e")


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
