"""Clocks: a timed wait on the real clock obeys cancellation; `within` bounds a coroutine."""

import asyncio

import pytest

from kaito.kube.clock import FakeClock, RealClock, within


async def test_a_wait_cancelled_as_its_event_is_set_is_still_cancelled():
    event = asyncio.Event()
    waiter = asyncio.create_task(RealClock().wait(event, 10))
    await asyncio.sleep(0)  # the waiter is now waiting
    event.set()
    waiter.cancel()  # in the same loop iteration: Python 3.11's wait_for would return True here
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_within_returns_the_result_or_cancels_the_coroutine_at_the_deadline():
    clock = FakeClock()
    assert await within(clock, 5, asyncio.sleep(0, result="done")) == "done"
    cancelled = asyncio.Event()

    async def forever():
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    bounded = asyncio.create_task(within(clock, 5, forever()))
    await clock.advance(4.9)
    assert not bounded.done()
    await clock.advance(0.2)
    with pytest.raises(TimeoutError):
        await bounded
    assert cancelled.is_set()
