"""Controller: watches → queue → workers → reconciler, with controller-runtime's result handling."""

import asyncio
import logging

import pytest

from kaito.kube import metrics, predicate
from kaito.kube.clock import FakeClock
from kaito.kube.config import Connection
from kaito.kube.controller import CacheSyncTimeoutError, Controller
from kaito.kube.informer import Informer
from kaito.kube.meta import ObjectMeta, OwnerReference
from kaito.kube.reconcile import Request, Result, TerminalError
from kaito.kube.transport import Transport

from .kinds import NODES, THINGS, Node, Thing


def obj(name, ns="default", rv="1", generation=1, owners=None, labels=None):
    return Thing(
        metadata=ObjectMeta(
            name=name,
            namespace=ns,
            resource_version=rv,
            generation=generation,
            owner_references=owners,
            labels=labels,
        )
    )


def informer(res=THINGS):
    # Never started: the tests feed it as the reflector would (replace / apply).
    return Informer(Transport(Connection("http://127.0.0.1:1")), res)


class Script:
    """A reconciler whose outcome per call is scripted; records calls and concurrency."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls: list[Request] = []
        self.active: set[Request] = set()
        self.overlap = False
        self.gate: asyncio.Event | None = None

    async def reconcile(self, req):
        if req in self.active:
            self.overlap = True
        self.active.add(req)
        self.calls.append(req)
        try:
            if self.gate is not None:
                await self.gate.wait()
            outcome = self.outcomes.pop(0) if self.outcomes else Result()
            if isinstance(outcome, Exception):
                raise outcome
            return outcome
        finally:
            self.active.discard(req)


async def settle(n=30):
    for _ in range(n):
        await asyncio.sleep(0)


def value(name, **labels):
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def clock():
    return FakeClock()


async def run(ctrl):
    task = asyncio.create_task(ctrl.run())
    await settle()
    return task


async def stop(ctrl, task):
    ctrl.stop()
    await asyncio.wait_for(task, 2)


async def test_workers_start_only_after_the_watched_informers_synced(clock):
    inf, rec = informer(), Script()
    ctrl = Controller("c-sync", rec, clock=clock).for_(inf)
    task = await run(ctrl)
    assert rec.calls == []
    inf.replace([obj("a"), obj("b")], "5")
    await settle()
    assert sorted(map(str, rec.calls)) == ["default/a", "default/b"]
    assert value("controller_runtime_reconcile_total", controller="c-sync", result="success") == 2
    await stop(ctrl, task)


async def test_a_sync_that_takes_longer_than_the_timeout_fails_the_start(clock):
    ctrl = Controller("c-timeout", Script(), cache_sync_timeout=120, clock=clock).for_(informer())
    task = asyncio.create_task(ctrl.run())
    await clock.advance(121)
    with pytest.raises(CacheSyncTimeoutError, match="Thing"):
        await asyncio.wait_for(task, 1)


async def test_an_exception_is_logged_with_the_object_and_requeued_with_backoff(clock, caplog):
    inf, rec = informer(), Script(RuntimeError("boom"), RuntimeError("boom"), Result())
    ctrl = Controller("c-err", rec, clock=clock).for_(inf)
    inf.replace([obj("a")], "1")
    task = await run(ctrl)
    assert len(rec.calls) == 1
    assert ctrl.queue.waiting() == {Request("a", "default"): pytest.approx(clock.now() + 0.005)}
    record = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert record.object == "default/a" and record.controller == "c-err" and "boom" in record.getMessage()
    await clock.advance(0.005)
    assert len(rec.calls) == 2
    assert ctrl.queue.waiting() == {Request("a", "default"): pytest.approx(clock.now() + 0.010)}
    await clock.advance(0.010)
    assert len(rec.calls) == 3
    assert ctrl.queue.num_requeues(Request("a", "default")) == 0  # success forgets
    assert value("controller_runtime_reconcile_errors_total", controller="c-err") == 2
    await stop(ctrl, task)


async def test_a_terminal_error_is_counted_and_not_retried(clock):
    inf, rec = informer(), Script(TerminalError("invalid spec"))
    ctrl = Controller("c-term", rec, clock=clock).for_(inf)
    inf.replace([obj("a")], "1")
    task = await run(ctrl)
    await clock.advance(2000)
    assert len(rec.calls) == 1 and ctrl.queue.waiting() == {}
    assert value("controller_runtime_terminal_reconcile_errors_total", controller="c-term") == 1
    assert value("controller_runtime_reconcile_errors_total", controller="c-term") == 1
    await stop(ctrl, task)


async def test_requeue_after_reconciles_again_after_the_delay(clock):
    inf, rec = informer(), Script(Result(requeue_after=30), Result())
    ctrl = Controller("c-after", rec, clock=clock).for_(inf)
    inf.replace([obj("a")], "1")
    task = await run(ctrl)
    await clock.advance(29)
    assert len(rec.calls) == 1
    await clock.advance(1)
    assert len(rec.calls) == 2
    assert value("controller_runtime_reconcile_total", controller="c-after", result="requeue_after") == 1
    await stop(ctrl, task)


async def test_a_key_is_never_reconciled_concurrently_and_events_during_reconcile_replay_once(clock):
    inf, rec = informer(), Script()
    rec.gate = asyncio.Event()
    ctrl = Controller("c-conc", rec, max_concurrent_reconciles=3, clock=clock).for_(inf)
    inf.replace([obj("a")], "1")
    task = await run(ctrl)
    for rv in "234":
        inf.apply("MODIFIED", obj("a", rv=rv))
    await settle()
    assert len(rec.calls) == 1  # three workers, one key: only one reconcile runs
    assert value("controller_runtime_active_workers", controller="c-conc") == 1
    rec.gate.set()
    await settle()
    assert len(rec.calls) == 2 and not rec.overlap  # the three events collapsed into one replay
    await stop(ctrl, task)


async def test_owned_objects_enqueue_their_controller_owner_on_add_update_and_delete(clock):
    owners, children, rec = informer(), informer(), Script()
    ctrl = Controller("c-own", rec, clock=clock).for_(owners).owns(children, "example.com", "Thing")
    owners.replace([], "1")
    children.replace([], "1")
    task = await run(ctrl)
    ref = OwnerReference(api_version="example.com/v1", kind="Thing", name="parent", uid="u1", controller=True)
    other = OwnerReference(api_version="apps/v1", kind="Thing", name="wrong-group", uid="u2", controller=True)
    not_controller = OwnerReference(api_version="example.com/v1", kind="Thing", name="mere-owner", uid="u3")
    children.apply("ADDED", obj("child", owners=[ref, other, not_controller]))
    await settle()
    assert rec.calls == [Request("parent", "default")]
    moved = OwnerReference(
        api_version="example.com/v1", kind="Thing", name="parent2", uid="u4", controller=True
    )
    children.apply("MODIFIED", obj("child", rv="2", owners=[moved]))
    await settle()
    assert set(rec.calls[1:]) == {Request("parent", "default"), Request("parent2", "default")}
    children.apply("DELETED", obj("child", rv="3", owners=[moved]))
    await settle()
    assert rec.calls[-1] == Request("parent2", "default")
    await stop(ctrl, task)


async def test_mapped_watches_enqueue_what_the_function_returns(clock):
    owners, nodes, rec = informer(), informer(NODES), Script()

    def by_label(node):
        label = (node.metadata.labels or {}).get("owner")
        return [Request(label, "default")] if label else []

    ctrl = Controller("c-map", rec, clock=clock).for_(owners).watches(nodes, by_label)
    owners.replace([], "1")
    nodes.replace(
        [Node(metadata=ObjectMeta(name="n1", labels={"owner": "ws"})), Node(metadata=ObjectMeta(name="n2"))],
        "1",
    )
    task = await run(ctrl)
    assert rec.calls == [Request("ws", "default")]
    await stop(ctrl, task)


async def test_predicates_filter_updates(clock):
    inf, rec = informer(), Script()
    ctrl = Controller("c-pred", rec, clock=clock).for_(inf, predicate.spec_or_metadata_changed)
    inf.replace([obj("a")], "1")
    task = await run(ctrl)
    inf.apply("MODIFIED", obj("a", rv="2"))  # status-only change: same generation
    await settle()
    assert len(rec.calls) == 1
    inf.apply("MODIFIED", obj("a", rv="3", generation=2))
    await settle()
    inf.apply("MODIFIED", obj("a", rv="4", generation=2, labels={"x": "y"}))
    await settle()
    inf.resync()  # old is new: filtered
    await settle()
    assert len(rec.calls) == 3
    await stop(ctrl, task)


async def test_stop_lets_the_in_flight_reconcile_finish_and_takes_no_new_keys(clock):
    inf, rec = informer(), Script()
    rec.gate = asyncio.Event()
    ctrl = Controller("c-stop", rec, clock=clock).for_(inf)
    inf.replace([obj("a"), obj("b")], "1")
    task = await run(ctrl)
    assert len(rec.calls) == 1
    ctrl.stop()
    await settle()
    assert not task.done()
    rec.gate.set()
    await asyncio.wait_for(task, 2)
    assert len(rec.calls) == 1 and not rec.active


def test_invalid_settings_name_the_field():
    with pytest.raises(ValueError, match="max_concurrent_reconciles"):
        Controller("bad", Script(), max_concurrent_reconciles=0)
