"""Leader election on a Lease: acquire, hold off others, take over an expired lease, lose, release."""

import asyncio

import pytest

from kaito.kube import metrics
from kaito.kube.client import Client
from kaito.kube.clock import FakeClock
from kaito.kube.leader import LeaderElectionLost, LeaderElector


def elector(transport, identity, clock, **kw):
    return LeaderElector(Client(transport), "lock", "default", identity, clock=clock, **kw)


def holder(api):
    return api.objects[("leases", "default", "lock")]["spec"].get("holderIdentity")


async def test_the_first_candidate_creates_the_lease_and_others_wait(api, transport):
    clock = FakeClock()
    a, b = elector(transport, "a", clock), elector(transport, "b", clock)
    await a.acquire()
    assert holder(api) == "a" and a.is_leader
    assert api.objects[("leases", "default", "lock")]["spec"]["leaseDurationSeconds"] == 15
    assert not await b.try_acquire_or_renew()
    await clock.advance(14)
    assert not await b.try_acquire_or_renew()  # a's lease still counts on b's clock
    assert metrics.REGISTRY.get_sample_value("leader_election_master_status", {"name": "lock"}) == 1.0


async def test_a_standby_takes_over_once_the_holder_stops_renewing_for_a_lease_duration(api, transport):
    clock = FakeClock()
    a, b = elector(transport, "a", clock), elector(transport, "b", clock)
    await a.acquire()
    assert not await b.try_acquire_or_renew()  # b observes the record now
    await clock.advance(15.1)
    assert await b.try_acquire_or_renew()
    spec = api.objects[("leases", "default", "lock")]["spec"]
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1


async def test_renewals_keep_the_lease_and_the_standby_out(api, transport):
    clock = FakeClock()
    a, b = elector(transport, "a", clock), elector(transport, "b", clock)
    await a.acquire()
    renew = asyncio.create_task(a.renew_forever())
    for _ in range(10):  # 20 s of renewals every 2 s
        await clock.advance(2)
        await asyncio.sleep(0.02)
        assert not await b.try_acquire_or_renew()
    assert holder(api) == "a"
    renew.cancel()


async def test_renew_failures_past_the_deadline_lose_the_lease(api, transport):
    clock = FakeClock()
    a = elector(transport, "a", clock)
    await a.acquire()
    for _ in range(10):
        api.fail_next("PUT", 500, "InternalError")
        api.fail_next("GET", 500, "InternalError")
    renew = asyncio.create_task(a.renew_forever())
    for _ in range(6):
        await clock.advance(2)
        await asyncio.sleep(0.02)
    with pytest.raises(LeaderElectionLost):
        await asyncio.wait_for(renew, 1)
    assert not a.is_leader


async def test_a_renewal_that_hangs_is_cancelled_at_the_renew_deadline_and_the_lease_is_lost(api, transport):
    clock = FakeClock()
    a = elector(transport, "a", clock)
    await a.acquire()
    started = asyncio.Event()

    async def overloaded_apiserver() -> bool:
        started.set()
        await asyncio.Event().wait()  # never answers
        return True

    a.try_acquire_or_renew = overloaded_apiserver  # type: ignore[method-assign]
    renew = asyncio.create_task(a.renew_forever())
    await clock.settle()
    assert started.is_set()
    await clock.advance(9.9)
    assert not renew.done()
    await clock.advance(0.2)  # 10 s after the renewal began: the renew deadline
    with pytest.raises(LeaderElectionLost):
        await asyncio.wait_for(renew, 1)
    assert not a.is_leader


async def test_release_lets_a_standby_take_over_at_once(api, transport):
    clock = FakeClock()
    a, b = elector(transport, "a", clock), elector(transport, "b", clock)
    await a.acquire()
    await a.release()
    assert holder(api) is None
    assert await b.try_acquire_or_renew()  # an empty holder is free for the taking, no wait
    assert holder(api) == "b"


def test_inconsistent_timings_are_refused():
    with pytest.raises(ValueError, match="renew_deadline"):
        LeaderElector(None, "l", "ns", "me", lease_duration=10, renew_deadline=10)
