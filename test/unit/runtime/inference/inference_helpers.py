"""Helpers for the inference server's tests: an in-process server on a free loopback port."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from kaito_runtime.inference import loader
from kaito_runtime.inference.app import create_runner
from kaito_runtime.inference.config import ServerConfig
from kaito_runtime.inference.runner import ModelRunner
from kaito_runtime.inference.service import InferenceService

SERVED = "tiny-phi3"


@dataclass
class Server:
    """A running in-process server."""

    url: str
    service: InferenceService

    @property
    def v1(self) -> str:
        return self.url + "/v1"


def make_config(model_dir: Path, **overrides: Any) -> ServerConfig:
    fields: dict[str, Any] = {
        "model": str(model_dir),
        "served_model_name": SERVED,
        "adapters_dir": str(model_dir / "no-adapters"),
        "device_map": None,
        "host": "127.0.0.1",
        "max_body_bytes": 64 * 1024,
        "max_batch_size": 8,
    }
    fields.update(overrides)
    return ServerConfig(**fields)


@asynccontextmanager
async def running_server(config: ServerConfig, *, start: bool = True) -> AsyncIterator[Server]:
    """Serves ``config`` on 127.0.0.1 with a free port; ``start=False`` leaves the model unloaded."""
    service = InferenceService(config)
    http = create_runner(service)
    await http.setup()
    site = web.TCPSite(http, "127.0.0.1", 0)
    await site.start()
    port = http.addresses[0][1]
    try:
        if start:
            loaded = loader.load(config)
            runner = ModelRunner(
                loaded.model, loaded.pad_token_id, adapters_enabled=bool(loaded.adapter_names)
            )
            await service.start(loaded, runner)
        yield Server(f"http://127.0.0.1:{port}", service)
    finally:
        service.close()
        await http.cleanup()


async def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Polls ``condition`` for up to five seconds."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting until {what}")
