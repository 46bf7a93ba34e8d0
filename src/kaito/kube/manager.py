"""The manager: runs the health/metrics server, shared informers, the event recorder, leader
election and the controllers, and stops them in order (controller-runtime pkg/manager).

Start: HTTP server (probes and metrics answer at once, on leaders and standbys alike) → caches
→ event recorder → leader election (if enabled) → controllers. /readyz fails until every informer
has synced. SIGTERM/SIGINT: controllers take no new keys and finish in-flight reconciles, then the
informers, the event writer, the lease (released) and the server stop, all within
`graceful_shutdown_timeout`; `run()` returns 0. Losing the lease returns 1 at once, without a
graceful drain: the process must exit. A controller that fails to start (cache sync timeout)
also returns 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from kaito.kube.cache import Cache
from kaito.kube.client import Client
from kaito.kube.controller import Controller
from kaito.kube.events import EventRecorder
from kaito.kube.health import HealthServer
from kaito.kube.leader import LeaderElectionLost, LeaderElector
from kaito.kube.transport import Transport

log = logging.getLogger(__name__)

# The share of graceful_shutdown_timeout kept for releasing the lease, and its cap in seconds.
RELEASE_SHARE, RELEASE_SHARE_MAX = 0.2, 5.0

EXIT_OK, EXIT_FAILED = 0, 1


@dataclass
class ManagerOptions:
    """Manager settings; the defaults are controller-runtime's."""

    name: str
    namespace: str | None = None  # restrict namespaced informers to one namespace
    leader_election: bool = False
    leader_election_id: str = ""
    leader_election_namespace: str = "default"
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    identity: str = ""
    health_host: str = "127.0.0.1"
    health_port: int = 8081
    graceful_shutdown_timeout: float = 30.0
    resync_period: float | None = None
    field_manager: str = ""


class Manager:
    """Owns the shared client, cache and recorder; `add()` controllers, then `await run()`."""

    def __init__(self, transport: Transport, options: ManagerOptions) -> None:
        if options.leader_election and not options.leader_election_id:
            raise ValueError("leader_election_id: required when leader_election is on")
        self.options = options
        self.transport = transport
        self.client = Client(transport, field_manager=options.field_manager or options.name)
        self.cache = Cache(transport, namespace=options.namespace, resync_period=options.resync_period)
        self.recorder = EventRecorder(self.client, options.name)
        self.health = HealthServer(options.health_host, options.health_port)
        self.health.readiness["informers-synced"] = lambda: (
            None if self.cache.has_synced else "caches not synced"
        )
        self.identity = options.identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.elector: LeaderElector | None = None
        if options.leader_election:
            self.elector = LeaderElector(
                self.client,
                options.leader_election_id,
                options.leader_election_namespace,
                self.identity,
                lease_duration=options.lease_duration,
                renew_deadline=options.renew_deadline,
                retry_period=options.retry_period,
            )
        self.controllers: list[Controller] = []
        self._leader_runnables: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self._stop = asyncio.Event()
        self.started_leading = asyncio.Event()

    def add(self, controller: Controller) -> None:
        self.controllers.append(controller)

    def add_leader_runnable(self, fn: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Something else that must run only on the leader (cancelled on stop)."""
        self._leader_runnables.append(fn)

    def stop(self) -> None:
        """Begin a graceful stop (what SIGTERM does)."""
        self._stop.set()

    async def run(self, *, install_signal_handlers: bool = True) -> int:
        """Run until stopped; 0 after a graceful stop, 1 after losing the lease or failing to start."""
        loop = asyncio.get_running_loop()
        if install_signal_handlers:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
        await self.health.start()
        log.info("serving probes and metrics", extra={"port": self.health.port, "identity": self.identity})
        self.cache.start()
        recorder = asyncio.create_task(self.recorder.run(), name="event-recorder")
        leading: list[asyncio.Task[None]] = []
        code = EXIT_OK
        try:
            code = await self._lead_until_stopped(leading)
        finally:
            await self._shutdown(leading, recorder, graceful=code == EXIT_OK)
            if install_signal_handlers:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)
        return code

    async def _lead_until_stopped(self, leading: list[asyncio.Task[None]]) -> int:
        stop = asyncio.create_task(self._stop.wait())
        try:
            return await self._lead(stop, leading)
        finally:
            stop.cancel()

    async def _lead(self, stop: asyncio.Task[bool], leading: list[asyncio.Task[None]]) -> int:
        if self.elector is not None:
            acquire = asyncio.create_task(self.elector.acquire())
            await asyncio.wait({stop, acquire}, return_when=asyncio.FIRST_COMPLETED)
            if not acquire.done():
                acquire.cancel()
                return EXIT_OK
            if acquire.exception() is not None:
                log.error("leader election failed", exc_info=acquire.exception())
                return EXIT_FAILED
            leading.append(asyncio.create_task(self.elector.renew_forever(), name="lease-renew"))
        self.started_leading.set()
        leading += [asyncio.create_task(c.run(), name=f"controller:{c.name}") for c in self.controllers]
        leading += [asyncio.create_task(fn()) for fn in self._leader_runnables]
        pending: set[asyncio.Task[Any]] = {stop, *leading}
        while True:  # a runnable that returns normally is done; one that raises stops the manager
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is stop or task.cancelled():
                    continue
                err = task.exception()
                if isinstance(err, LeaderElectionLost):
                    log.error("leader election lost; exiting", extra={"identity": self.identity})
                    return EXIT_FAILED
                if err is not None:
                    log.error("runnable failed: %s", err, extra={"task": task.get_name()}, exc_info=err)
                    return EXIT_FAILED
            if stop in done:
                return EXIT_OK

    async def _shutdown(
        self, leading: list[asyncio.Task[None]], recorder: asyncio.Task[None], *, graceful: bool
    ) -> None:
        # One deadline for the whole stop; the lease release keeps a share of it, so that a standby
        # can take over at once instead of waiting out the lease.
        loop = asyncio.get_running_loop()
        timeout = self.options.graceful_shutdown_timeout if graceful else 0.0
        deadline = loop.time() + timeout
        release_share = min(RELEASE_SHARE_MAX, timeout * RELEASE_SHARE) if self.elector is not None else 0.0

        def left(reserve: float = release_share) -> float:
            return max(deadline - reserve - loop.time(), 0.0)

        for c in self.controllers:
            c.stop()
        controllers = [t for t in leading if t.get_name().startswith("controller:")]
        others = [t for t in leading if t not in controllers]
        if controllers and left() > 0:
            _, pending = await asyncio.wait(controllers, timeout=left())
            if pending:
                log.warning(
                    "graceful shutdown timed out; cancelling reconciles", extra={"count": len(pending)}
                )
        for task in [*controllers, *others]:
            task.cancel()
        await asyncio.gather(*leading, return_exceptions=True)
        await self.cache.stop()
        self.recorder.close()
        if graceful and left() > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(recorder), left())
        recorder.cancel()
        (outcome,) = await asyncio.gather(recorder, return_exceptions=True)
        if isinstance(outcome, Exception):
            log.error("the event writer had failed", exc_info=outcome)
        if graceful and self.elector is not None:
            try:
                await asyncio.wait_for(self.elector.release(), left(reserve=0.0))
            except TimeoutError:
                log.warning("lease release timed out; the standby waits for the lease to expire")
        await self.health.stop()
        log.info("manager stopped", extra={"graceful": graceful})
