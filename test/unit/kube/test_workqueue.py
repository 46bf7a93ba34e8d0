"""Work queue: client-go's dirty/processing semantics, delays and rate limiting, on a fake clock."""

import asyncio

import pytest

from kaito.kube import metrics
from kaito.kube.clock import FakeClock
from kaito.kube.ratelimit import ItemExponentialFailureRateLimiter
from kaito.kube.workqueue import WorkQueue


def queue(name: str, clock: FakeClock, **kw) -> WorkQueue[str]:
    return WorkQueue(name, clock=clock, **kw)


async def test_queued_duplicates_collapse_and_order_is_fifo():
    q = queue("wq-dup", FakeClock())
    for key in ["a", "b", "a", "c", "b"]:
        q.add(key)
    assert len(q) == 3
    assert [await q.get(), await q.get(), await q.get()] == ["a", "b", "c"]


async def test_a_key_is_never_handed_to_two_workers_and_an_add_during_processing_replays_after_done():
    clock = FakeClock()
    q = queue("wq-proc", clock)
    q.add("a")
    assert await q.get() == "a"
    q.add("a")  # while processing: remembered, not queued
    assert len(q) == 0
    second = asyncio.create_task(q.get())
    await clock.settle()
    assert not second.done()  # a second worker does not get "a"
    q.add("a")  # still one pending replay
    q.done("a")
    assert await asyncio.wait_for(second, 1) == "a"
    q.done("a")
    assert len(q) == 0 and q.processing() == set()


async def test_get_blocks_until_add():
    clock = FakeClock()
    q = queue("wq-block", clock)
    waiter = asyncio.create_task(q.get())
    await clock.settle()
    assert not waiter.done()
    q.add("x")
    assert await asyncio.wait_for(waiter, 1) == "x"


async def test_add_after_delivers_when_due_and_the_earliest_deadline_wins():
    clock = FakeClock()
    q = queue("wq-after", clock)
    q.add_after("a", 10)
    q.add_after("a", 3)  # earlier wins
    q.add_after("a", 20)  # later is ignored
    waiter = asyncio.create_task(q.get())
    await clock.advance(2.9)
    assert not waiter.done()
    await clock.advance(0.2)
    assert await asyncio.wait_for(waiter, 1) == "a"
    q.done("a")
    await clock.advance(30)
    assert len(q) == 0  # the superseded deadlines do not add it again


async def test_add_after_with_no_delay_is_an_add():
    q = queue("wq-zero", FakeClock())
    q.add_after("a", 0)
    assert len(q) == 1


async def test_add_rate_limited_backs_off_per_item_and_forget_resets():
    clock = FakeClock()
    q = queue("wq-rl", clock, rate_limiter=ItemExponentialFailureRateLimiter(1.0, 100.0))
    q.add_rate_limited("a")
    q.add_rate_limited("a")  # 1 s then 2 s: the 1 s deadline stands
    assert q.waiting() == {"a": pytest.approx(clock.now() + 1.0)}
    assert q.num_requeues("a") == 2
    q.forget("a")
    assert q.num_requeues("a") == 0
    waiter = asyncio.create_task(q.get())
    await clock.advance(1.0)
    assert await asyncio.wait_for(waiter, 1) == "a"


async def test_shutdown_ignores_adds_hands_out_what_is_queued_then_none():
    clock = FakeClock()
    q = queue("wq-shut", clock)
    q.add("a")
    q.add_after("later", 5)
    idle = asyncio.create_task(q.get())  # takes "a"
    assert await idle == "a"
    q.add("b")
    q.shut_down()
    q.add("c")
    assert await q.get() == "b"
    assert await q.get() is None
    waiters = [asyncio.create_task(q.get()) for _ in range(3)]
    assert await asyncio.gather(*waiters) == [None, None, None]  # all wake (broadcast)


async def test_shutdown_wakes_every_blocked_worker():
    clock = FakeClock()
    q = queue("wq-wake", clock)
    waiters = [asyncio.create_task(q.get()) for _ in range(3)]
    await clock.settle()
    q.shut_down()
    assert await asyncio.wait_for(asyncio.gather(*waiters), 1) == [None, None, None]


async def test_shutdown_with_drain_waits_for_in_flight_keys():
    clock = FakeClock()
    q = queue("wq-drain", clock)
    q.add("a")
    assert await q.get() == "a"
    drain = asyncio.create_task(q.shut_down_with_drain())
    await clock.settle()
    assert not drain.done()
    q.done("a")
    assert await asyncio.wait_for(drain, 1) is True


async def test_shutdown_with_drain_gives_up_after_the_bound():
    clock = FakeClock()
    q = queue("wq-drain-bound", clock)
    q.add("a")
    await q.get()
    drain = asyncio.create_task(q.shut_down_with_drain(within=5))
    await clock.advance(5)
    assert await asyncio.wait_for(drain, 1) is False


def sample(name: str, metric: str, **labels: str) -> float:
    value = metrics.REGISTRY.get_sample_value(metric, {"name": name, "controller": name, **labels})
    return value or 0.0


async def test_metrics_count_adds_depth_retries_and_durations():
    clock = FakeClock()
    q = queue("wq-metrics", clock)
    q.add("a")
    q.add("a")
    q.add("b")
    assert sample("wq-metrics", "workqueue_adds_total") == 2
    assert sample("wq-metrics", "workqueue_depth") == 2
    await clock.advance(2)
    assert await q.get() == "a"
    assert sample("wq-metrics", "workqueue_depth") == 1
    assert sample("wq-metrics", "workqueue_queue_duration_seconds_sum") == pytest.approx(2)
    await clock.advance(3)
    assert sample("wq-metrics", "workqueue_unfinished_work_seconds") == pytest.approx(3)
    assert sample("wq-metrics", "workqueue_longest_running_processor_seconds") == pytest.approx(3)
    q.done("a")
    assert sample("wq-metrics", "workqueue_work_duration_seconds_sum") == pytest.approx(3)
    q.add_after("c", 1)
    q.add_rate_limited("d")
    assert sample("wq-metrics", "workqueue_retries_total") == 2
