"""The controller engine: watches feed a work queue, N workers call the reconciler
(controller-runtime pkg/internal/controller/controller.go).

Outcomes of one reconcile:
  exception        → add_rate_limited (retry with backoff), logged with the object's key
  TerminalError    → logged and counted, not retried
  requeue_after>0  → forget, then add_after(requeue_after)
  requeue          → add_rate_limited
  success          → forget
`done` always runs. Workers start only after every watched informer has synced (a sync that
takes longer than `cache_sync_timeout` fails the start). On stop, workers take no new keys and
the in-flight reconciles finish.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from kaito.kube import metrics as m
from kaito.kube.clock import Clock, RealClock
from kaito.kube.handler import (
    EnqueueRequestForObject,
    EnqueueRequestForOwner,
    EnqueueRequestsFromMapFunc,
    Mapper,
)
from kaito.kube.informer import Informer
from kaito.kube.predicate import Predicate
from kaito.kube.ratelimit import RateLimiter
from kaito.kube.reconcile import Reconciler, Request, Result, TerminalError
from kaito.kube.workqueue import WorkQueue

log = logging.getLogger(__name__)


class CacheSyncTimeoutError(Exception):
    """The controller's informers did not sync within cache_sync_timeout."""


class _Enqueue:
    """The EventHandler a watch installs on an informer: filter, map to requests, enqueue."""

    def __init__(self, queue: WorkQueue[Request], mapper: Mapper, predicates: tuple[Predicate, ...]) -> None:
        self.queue, self.mapper, self.predicates = queue, mapper, predicates

    def _enqueue(self, *objs: Any) -> None:
        for obj in objs:
            for req in self.mapper.requests(obj):
                self.queue.add(req)

    def on_add(self, obj: Any, is_initial_list: bool) -> None:
        if all(p.create(obj) for p in self.predicates):
            self._enqueue(obj)

    def on_update(self, old: Any, new: Any) -> None:
        if all(p.update(old, new) for p in self.predicates):
            self._enqueue(old, new) if old is not new else self._enqueue(new)

    def on_delete(self, obj: Any) -> None:
        if all(p.delete(obj) for p in self.predicates):
            self._enqueue(obj)


class Controller:
    """One reconciler, its queue, its watches and its workers."""

    def __init__(
        self,
        name: str,
        reconciler: Reconciler,
        *,
        max_concurrent_reconciles: int = 1,
        rate_limiter: RateLimiter | None = None,
        cache_sync_timeout: float = 120.0,
        clock: Clock | None = None,
    ) -> None:
        if max_concurrent_reconciles < 1:
            raise ValueError(f"max_concurrent_reconciles: must be >= 1, got {max_concurrent_reconciles}")
        self.name = name
        self.reconciler = reconciler
        self.max_concurrent_reconciles = max_concurrent_reconciles
        self.cache_sync_timeout = cache_sync_timeout
        self._clock = clock or RealClock()
        self.queue: WorkQueue[Request] = WorkQueue(name, rate_limiter=rate_limiter, clock=self._clock)
        self._informers: list[Informer[Any]] = []
        self._stopping = False
        m.init_controller_metrics(name, max_concurrent_reconciles)

    def watch(self, informer: Informer[Any], mapper: Mapper, *predicates: Predicate) -> Controller:
        """Enqueue `mapper`'s requests for every event `predicates` let through."""
        if informer not in self._informers:
            self._informers.append(informer)
        informer.add_event_handler(_Enqueue(self.queue, mapper, predicates))
        return self

    def for_(self, informer: Informer[Any], *predicates: Predicate) -> Controller:
        """The primary type: its own key."""
        return self.watch(informer, EnqueueRequestForObject(), *predicates)

    def owns(
        self, informer: Informer[Any], owner_group: str, owner_kind: str, *, owner_namespaced: bool = True
    ) -> Controller:
        """A child type: the controller owner of `owner_group`/`owner_kind`."""
        return self.watch(
            informer, EnqueueRequestForOwner(owner_group, owner_kind, owner_namespaced=owner_namespaced)
        )

    def watches(self, informer: Informer[Any], fn: Any, *predicates: Predicate) -> Controller:
        """Any type, mapped to requests by `fn(obj) -> Iterable[Request]`."""
        return self.watch(informer, EnqueueRequestsFromMapFunc(fn), *predicates)

    async def wait_for_sync(self) -> None:
        timeout = self.cache_sync_timeout
        synced = await asyncio.gather(*(self._clock.wait(i.synced, timeout) for i in self._informers))
        if not all(synced):
            kinds = [i.res.kind for i, ok in zip(self._informers, synced, strict=True) if not ok]
            raise CacheSyncTimeoutError(
                f"controller {self.name}: caches for {kinds} did not sync in {self.cache_sync_timeout:g} s"
            )

    async def run(self) -> None:
        """Wait for the caches, then run the workers until `stop()` (or cancellation)."""
        await self.wait_for_sync()
        log.info(
            "starting workers", extra={"controller": self.name, "workers": self.max_concurrent_reconciles}
        )
        async with asyncio.TaskGroup() as tg:
            for i in range(self.max_concurrent_reconciles):
                tg.create_task(self._worker(), name=f"{self.name}-worker-{i}")

    def stop(self) -> None:
        """Take no new keys; workers return after their in-flight reconcile."""
        self._stopping = True
        self.queue.shut_down()

    async def _worker(self) -> None:
        while True:
            req = await self.queue.get()
            if req is None:
                return
            try:
                if not self._stopping:
                    await self._reconcile(req)
            finally:
                self.queue.done(req)

    async def _reconcile(self, req: Request) -> None:
        active = m.ACTIVE_WORKERS.labels(self.name)
        active.inc()
        start = time.perf_counter()
        reconcile_id = uuid.uuid4().hex[:12]
        ctx = {"controller": self.name, "object": str(req), "reconcile_id": reconcile_id}
        try:
            result = await self.reconciler.reconcile(req)
            if not isinstance(result, Result):
                raise TypeError(f"reconcile returned {result!r}, not a Result")
        except TerminalError as err:
            m.RECONCILE_TOTAL.labels(self.name, "error").inc()
            m.RECONCILE_ERRORS.labels(self.name).inc()  # counted here too, as controller-runtime does
            m.TERMINAL_RECONCILE_ERRORS.labels(self.name).inc()
            log.error("reconcile failed permanently: %s", err, extra=ctx)
            self.queue.forget(req)
            return
        except Exception as err:
            m.RECONCILE_TOTAL.labels(self.name, "error").inc()
            m.RECONCILE_ERRORS.labels(self.name).inc()
            log.error(
                "reconcile failed; will retry: %s: %s", type(err).__name__, err, extra=ctx, exc_info=True
            )
            self.queue.add_rate_limited(req)
            return
        finally:
            m.RECONCILE_TIME.labels(self.name).observe(time.perf_counter() - start)
            active.dec()
        if result.requeue_after > 0:
            m.RECONCILE_TOTAL.labels(self.name, "requeue_after").inc()
            self.queue.forget(req)
            self.queue.add_after(req, result.requeue_after)
        elif result.requeue:
            m.RECONCILE_TOTAL.labels(self.name, "requeue").inc()
            self.queue.add_rate_limited(req)
        else:
            m.RECONCILE_TOTAL.labels(self.name, "success").inc()
            self.queue.forget(req)
