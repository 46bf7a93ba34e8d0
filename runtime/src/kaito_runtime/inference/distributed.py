"""torchrun: rank 0 serves HTTP and runs the batch loop; the other ranks replay its model operations.

Every ``ModelRunner`` call on rank 0 is first broadcast (``broadcast_object_list``) and then run, so
each rank performs the same forwards in the same order, which tensor parallelism needs (each rank
holds a shard and the forward's collectives need every rank). Only rank 0 samples: the chosen tokens
reach the others in the next operation. An idle rank 0 broadcasts a heartbeat now and then so the
followers' blocking receive never reaches the process group's timeout. Followers that are a node's
LOCAL_RANK 0 also answer /healthz on the node's port, for the StatefulSet's probes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from aiohttp import web

from kaito_runtime.inference.runner import ModelRunner

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class World:
    """This process's place in the torchrun job (from RANK, WORLD_SIZE, LOCAL_RANK)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> World:
        """Reads torchrun's variables; a plain process is rank 0 of 1."""
        env = dict(os.environ) if env is None else env
        return cls(
            int(env.get("RANK", "0")), int(env.get("WORLD_SIZE", "1")), int(env.get("LOCAL_RANK", "0"))
        )


def init_process_group(world: World) -> None:
    """Joins the job's process group: NCCL on GPUs, gloo on the CPU."""
    if torch.cuda.is_available():
        torch.cuda.set_device(world.local_rank)
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")
    log.info("rank %d of %d joined the process group (%s)", world.rank, world.size, dist.get_backend())


class BroadcastRunner:
    """Rank 0's runner: broadcasts each operation to the followers, then runs it locally."""

    def __init__(self, runner: ModelRunner) -> None:
        self.runner = runner

    def _send(self, op: str, *args: Any) -> None:
        dist.broadcast_object_list([(op, args)], src=0)

    def prefill(self, prompts: list[list[int]], adapters: list[str] | None = None) -> torch.Tensor:
        """See ``ModelRunner.prefill``."""
        self._send("prefill", prompts, adapters)
        return self.runner.prefill(prompts, adapters)

    def decode(self, tokens: list[int], adapters: list[str] | None = None) -> torch.Tensor:
        """See ``ModelRunner.decode``."""
        self._send("decode", tokens, adapters)
        return self.runner.decode(tokens, adapters)

    def keep(self, rows: list[int]) -> None:
        """See ``ModelRunner.keep``."""
        self._send("keep", rows)
        self.runner.keep(rows)

    def reset(self) -> None:
        """See ``ModelRunner.reset``."""
        self._send("reset")
        self.runner.reset()

    def generate(self, input_ids: list[int], kwargs: dict[str, Any], seed: int) -> list[int]:
        """See ``ModelRunner.generate`` (the seed keeps sampling identical on every rank)."""
        self._send("generate", input_ids, dict(kwargs), seed)
        return self.runner.generate(input_ids, kwargs, seed)

    def idle(self) -> None:
        """A heartbeat while no request is running."""
        self._send("idle")

    def shutdown(self) -> None:
        """Tells the followers to return from ``follow``."""
        self._send("shutdown")


def follow(runner: ModelRunner) -> None:
    """A follower's loop: runs rank 0's operations until it says ``shutdown``."""
    with torch.inference_mode():
        while True:
            box: list[Any] = [None]
            dist.broadcast_object_list(box, src=0)
            op, args = box[0]
            if op == "shutdown":
                log.info("rank 0 said shutdown")
                return
            if op == "idle":
                continue
            try:
                getattr(runner, op)(*args)
            except Exception:  # rank 0 met the same error and resets; stay in step with it
                log.exception("replayed %s failed", op)


class HealthServer:
    """A /healthz-only HTTP server in a thread of its own, for follower ranks."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.ready = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="health", daemon=True)
        self._started = threading.Event()

    def start(self) -> None:
        """Starts listening (503 until ``ready`` is set)."""
        self._thread.start()
        self._started.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def healthz(_: web.Request) -> web.Response:
            if self.ready:
                return web.json_response({"status": "Healthy", "role": "follower"})
            return web.json_response({"status": "Loading", "role": "follower"}, status=503)

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/health", healthz)
        runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(runner.setup())
        self._loop.run_until_complete(web.TCPSite(runner, self.host, self.port).start())
        self._started.set()
        self._loop.run_forever()
