"""Fixtures for the kaito.kube e2e tests: a Transport and Client on the shared control plane
(`kubeconfig`, `cluster` and the per-test `namespace` come from test/e2e/conftest.py)."""

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kaito.kube import config
from kaito.kube.client import Client
from kaito.kube.transport import Transport

# pytest runs with --import-mode=importlib: make kube_e2e_support importable for the test modules.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
async def transport(kubeconfig) -> AsyncIterator[Transport]:
    t = Transport(await config.from_kubeconfig(kubeconfig), timeout=30)
    yield t
    await t.close()


@pytest.fixture
async def client(transport: Transport) -> Client:
    return Client(transport, field_manager="kaito-kube-e2e")
