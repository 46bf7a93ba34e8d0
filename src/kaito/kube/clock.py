"""Time as a dependency: the real event-loop clock and a FakeClock tests advance by hand.

The work queue, rate limiters, backoff and leader election read time only through `Clock`, so
their unit tests can step through minutes of delays without sleeping.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Coroutine
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    """A monotonic clock in seconds that can also wait."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...

    async def wait(self, event: asyncio.Event, seconds: float | None) -> bool:
        """Wait for `event` at most `seconds` (None: forever); True if it was set."""
        ...


class RealClock:
    """The running event loop's monotonic clock."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))

    async def wait(self, event: asyncio.Event, seconds: float | None) -> bool:
        # asyncio.wait, not wait_for: Python 3.11's wait_for swallows a cancellation that arrives
        # just as the event is set, and the cancelled task would then run on.
        if event.is_set():
            return True
        waiter = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiter.cancel()
        return event.is_set()


class FakeClock:
    """A clock that stands still until `advance` moves it; sleepers wake when their time comes."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def _timer(self, seconds: float) -> asyncio.Future[None]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if seconds <= 0:
            fut.set_result(None)
        else:
            heapq.heappush(self._sleepers, (self._now + seconds, next(self._seq), fut))
        return fut

    async def sleep(self, seconds: float) -> None:
        await self._timer(seconds)

    async def wait(self, event: asyncio.Event, seconds: float | None) -> bool:
        if event.is_set():
            return True
        waiter = asyncio.ensure_future(event.wait())
        pending: set[asyncio.Future[object]] = {waiter}  # type: ignore[arg-type]
        timer = self._timer(seconds) if seconds is not None else None
        if timer is not None:
            pending.add(timer)  # type: ignore[arg-type]
        try:
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            if timer is not None and not timer.done():
                timer.cancel()
        return event.is_set()

    @property
    def sleepers(self) -> int:
        """How many sleeps and timed waits are pending."""
        return sum(1 for _, _, f in self._sleepers if not f.done())

    async def settle(self) -> None:
        """Let every task that can run, run (a few passes of the event loop)."""
        for _ in range(20):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleeper whose deadline passed, then let tasks run."""
        await self.settle()
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, fut = heapq.heappop(self._sleepers)
            if not fut.done():
                fut.set_result(None)
        await self.settle()


async def within(clock: Clock, seconds: float, coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro`, cancelling it and raising TimeoutError if it takes longer than `seconds` on `clock`."""
    task = asyncio.ensure_future(coro)
    done = asyncio.Event()
    task.add_done_callback(lambda _: done.set())
    try:
        finished = await clock.wait(done, max(seconds, 0.0))
    finally:
        if not task.done():
            task.cancel()
    if not finished:
        await asyncio.wait({task})
        raise TimeoutError(f"gave up after {seconds:.1f} s")
    return task.result()
