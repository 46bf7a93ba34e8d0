"""A rate-limited, delaying work queue with client-go's semantics (util/workqueue/queue.go,
delaying_queue.go, rate_limiting_queue.go).

- `dirty` holds keys waiting to be processed, `processing` the ones a worker holds: a key is never
  handed to two workers at once; an `add` while it is processing is replayed at `done`; queued
  duplicates collapse.
- `add_after` keeps the earliest deadline if the key is already waiting; `add_rate_limited` asks
  the rate limiter how long; `forget` clears the key's failure history.
- `shut_down` stops accepting adds; workers still get what is queued, then None.
  `shut_down_with_drain` also waits for the keys being processed to be `done`.
Everything runs on one event loop, so methods other than `get` are synchronous.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Hashable
from typing import Generic, TypeVar

from kaito.kube import metrics as m
from kaito.kube.clock import Clock, RealClock
from kaito.kube.ratelimit import RateLimiter, default_controller_rate_limiter

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    """Keys in, keys out; see the module docstring for the contract."""

    def __init__(
        self, name: str, *, rate_limiter: RateLimiter | None = None, clock: Clock | None = None
    ) -> None:
        self.name = name
        self._clock = clock or RealClock()
        self.rate_limiter = rate_limiter or default_controller_rate_limiter(self._clock)
        self._queue: deque[K] = deque()
        self._dirty: set[K] = set()
        self._processing: dict[K, float] = {}  # key → time a worker got it
        self._added_at: dict[K, float] = {}
        self._waiting: dict[K, float] = {}  # key → ready time
        self._heap: list[tuple[float, int, K]] = []
        self._seq = itertools.count()
        self._ready = asyncio.Event()
        self._drained = asyncio.Event()
        self._shutting_down = False
        self._depth = m.WORKQUEUE_DEPTH.labels(name, name)
        self._adds = m.WORKQUEUE_ADDS.labels(name, name)
        self._queue_latency = m.WORKQUEUE_QUEUE_DURATION.labels(name, name)
        self._work_duration = m.WORKQUEUE_WORK_DURATION.labels(name, name)
        self._retries = m.WORKQUEUE_RETRIES.labels(name, name)
        m.UNFINISHED_WORK.queues.add(self)

    def __len__(self) -> int:
        """Keys ready to be handed out (not counting delayed or processing ones)."""
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def processing(self) -> set[K]:
        return set(self._processing)

    def waiting(self) -> dict[K, float]:
        """Delayed keys and the clock time each becomes ready."""
        return dict(self._waiting)

    def add(self, key: K) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._adds.inc()
        self._dirty.add(key)
        self._added_at.setdefault(key, self._clock.now())
        if key not in self._processing:
            self._queue.append(key)
            self._depth.inc()
            self._ready.set()

    def add_after(self, key: K, delay: float) -> None:
        if self._shutting_down:
            return
        self._retries.inc()
        if delay <= 0:
            self.add(key)
            return
        ready_at = self._clock.now() + delay
        if self._waiting.get(key, float("inf")) <= ready_at:
            return  # an earlier deadline is already set
        self._waiting[key] = ready_at
        heapq.heappush(self._heap, (ready_at, next(self._seq), key))
        self._ready.set()  # a waiting get() recomputes its timeout

    def add_rate_limited(self, key: K) -> None:
        self.add_after(key, self.rate_limiter.when(key))

    def forget(self, key: K) -> None:
        self.rate_limiter.forget(key)

    def num_requeues(self, key: K) -> int:
        return self.rate_limiter.num_requeues(key)

    def _promote_ready(self) -> float | None:
        """Move delayed keys whose time came into the queue; return seconds to the next one."""
        now = self._clock.now()
        while self._heap:
            ready_at, _, key = self._heap[0]
            if self._waiting.get(key) != ready_at:
                heapq.heappop(self._heap)  # superseded by an earlier deadline, or already added
                continue
            if ready_at > now:
                return ready_at - now
            heapq.heappop(self._heap)
            del self._waiting[key]
            self.add(key)
        return None

    async def get(self) -> K | None:
        """The next key (now owned by the caller until `done`), or None once shut down and empty."""
        while True:
            timeout = None if self._shutting_down else self._promote_ready()
            if self._queue:
                key = self._queue.popleft()
                now = self._clock.now()
                self._depth.dec()
                self._queue_latency.observe(max(now - self._added_at.pop(key, now), 0.0))
                self._processing[key] = now
                self._dirty.discard(key)
                return key
            if self._shutting_down:
                return None
            self._ready.clear()
            await self._clock.wait(self._ready, timeout)

    def done(self, key: K) -> None:
        """The worker finished `key`; if it was added meanwhile, it is queued again now."""
        started = self._processing.pop(key, None)
        if started is not None:
            self._work_duration.observe(max(self._clock.now() - started, 0.0))
        if key in self._dirty:
            self._queue.append(key)
            self._depth.inc()
            self._ready.set()
        if not self._processing:
            self._drained.set()

    def shut_down(self) -> None:
        """Ignore further adds; drop delayed keys; wake every waiting worker."""
        self._shutting_down = True
        self._heap.clear()
        self._waiting.clear()
        if not self._processing:
            self._drained.set()
        self._ready.set()

    async def shut_down_with_drain(self, within: float | None = None) -> bool:
        """shut_down, then wait until no key is being processed; False if `within` seconds passed."""
        self.shut_down()
        deadline = None if within is None else self._clock.now() + within
        while self._processing:
            self._drained.clear()
            left = None if deadline is None else deadline - self._clock.now()
            if (left is not None and left <= 0) or not await self._clock.wait(self._drained, left):
                return False
        return True

    def in_flight_ages(self) -> list[float]:
        now = self._clock.now()
        return [now - t for t in self._processing.values()]
