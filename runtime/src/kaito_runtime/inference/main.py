"""Process entry point (``kaito-inference``, ``python -m kaito_runtime.inference``).

A plain process, or rank 0 under torchrun, listens on PORT + LOCAL_RANK at once (/healthz 503,
/metrics), loads the model, warms up, then reports healthy and serves until SIGTERM or SIGINT. Other
torchrun ranks load their part of the model and follow rank 0 (``distributed``). Under torchrun every
rank destroys its process group and leaves with ``os._exit``: workers can otherwise abort at exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence

import torch.distributed as dist
from aiohttp import web

from kaito_runtime.inference import distributed, loader
from kaito_runtime.inference.app import create_runner
from kaito_runtime.inference.config import ServerConfig, parse_args
from kaito_runtime.inference.engine import Runner
from kaito_runtime.inference.runner import ModelRunner
from kaito_runtime.inference.service import InferenceService

log = logging.getLogger("kaito_runtime.inference")


def main(argv: Sequence[str] | None = None) -> None:
    """Parses the command line and runs this process's role; exits with its status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = parse_args(argv)
    world = distributed.World.from_env()
    if world.size == 1:
        sys.exit(asyncio.run(serve(config, world)))
    code = 1
    try:
        distributed.init_process_group(world)
        code = asyncio.run(serve(config, world)) if world.rank == 0 else follow(config, world)
    except Exception:
        log.exception("rank %d failed", world.rank)
    finally:
        with contextlib.suppress(Exception):
            dist.destroy_process_group()
        log.info("rank %d exiting with status %d", world.rank, code)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


async def serve(config: ServerConfig, world: distributed.World) -> int:
    """Rank 0: HTTP first, then load and warm up; returns the exit status after a signal."""
    service = InferenceService(config)
    http = create_runner(service)
    await http.setup()
    await web.TCPSite(http, config.host, config.port).start()
    log.info(
        "rank %d (pid %d) listening on %s:%d (healthy once the model is loaded and warmed up)",
        world.rank,
        os.getpid(),
        config.host,
        config.port,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    broadcast: distributed.BroadcastRunner | None = None
    try:
        loaded = await loop.run_in_executor(None, lambda: loader.load(config, world_size=world.size))
        local = ModelRunner(loaded.model, loaded.pad_token_id, adapters_enabled=bool(loaded.adapter_names))
        runner: Runner = local
        if world.size > 1:
            runner = broadcast = distributed.BroadcastRunner(local)
        await service.start(loaded, runner)
        log.info("ready: model %s, context %d tokens", config.served_model_name, loaded.context_length)
        await stop.wait()
        log.info("stopping")
        return 0
    except Exception:
        log.exception("the server could not start")
        return 1
    finally:
        service.close()
        if broadcast is not None:
            with contextlib.suppress(Exception):
                broadcast.shutdown()
        await http.cleanup()


def follow(config: ServerConfig, world: distributed.World) -> int:
    """A follower rank: load the model's part, answer /healthz, replay rank 0's operations.

    SIGTERM (torchrun forwards it to every worker) is left to rank 0, which tells the followers to
    stop once its own shutdown is done; torchrun kills a follower that outlives its grace period.
    """
    signal.signal(signal.SIGTERM, lambda *_: log.info("SIGTERM: waiting for rank 0 to say shutdown"))
    health = distributed.HealthServer(config.host, config.port)
    health.start()
    loaded = loader.load(config, world_size=world.size)
    health.ready = True
    distributed.follow(
        ModelRunner(loaded.model, loaded.pad_token_id, adapters_enabled=bool(loaded.adapter_names))
    )
    return 0
