"""Fixtures for kaito.kube unit tests: a fake API server and a Transport pointed at it."""

from collections.abc import AsyncIterator

import pytest

from kaito.kube.config import Connection
from kaito.kube.transport import Transport

from .fakeapi import FakeApi


@pytest.fixture
async def api() -> AsyncIterator[FakeApi]:
    server = FakeApi()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def transport(api: FakeApi) -> AsyncIterator[Transport]:
    t = Transport(Connection(api.url), timeout=5.0)
    yield t
    await t.close()
