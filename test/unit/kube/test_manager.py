"""Manager: probes and metrics on one server, readiness after cache sync, graceful stop releasing
the lease, exit code 1 when the lease is lost; JSON logs."""

import asyncio
import io
import json
import logging

import aiohttp
import pytest

from kaito.kube import logs
from kaito.kube.controller import Controller
from kaito.kube.manager import Manager, ManagerOptions
from kaito.kube.reconcile import Result

from .kinds import THINGS, thing


class Count:
    def __init__(self):
        self.calls = []

    async def reconcile(self, req):
        self.calls.append(req)
        return Result()


async def eventually(pred, within=5.0):
    end = asyncio.get_running_loop().time() + within
    while not await pred():
        assert asyncio.get_running_loop().time() < end, "condition not met in time"
        await asyncio.sleep(0.02)


def manager(transport, **kw):
    opts = ManagerOptions(name="test-mgr", health_port=0, **kw)
    mgr = Manager(transport, opts)
    rec = Count()
    mgr.add(Controller("mgr-things", rec).for_(mgr.cache.informer(THINGS)))
    return mgr, rec


async def get(mgr, path):
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{mgr.health.port}{path}") as r:
        return r.status, await r.text()


async def test_probes_answer_before_sync_and_readyz_waits_for_the_caches(api, transport):
    await api.put("things", thing("a"))
    for _ in range(3):
        api.fail_next("GET", 500, "InternalError", path_contains="/things")
    mgr, rec = manager(transport)
    run = asyncio.create_task(mgr.run(install_signal_handlers=False))
    await eventually(lambda: asyncio.sleep(0, mgr.health.port != 0))
    await asyncio.sleep(0.05)
    assert await get(mgr, "/healthz") == (200, "ok")
    status, body = await get(mgr, "/readyz?verbose")
    assert status == 500 and "[-]informers-synced failed" in body and "[+]ping ok" in body

    async def ready():
        return (await get(mgr, "/readyz"))[0] == 200

    await eventually(ready, within=15)
    await eventually(lambda: asyncio.sleep(0, bool(rec.calls)))
    status, text = await get(mgr, "/metrics")
    assert 'controller_runtime_reconcile_total{controller="mgr-things",result="success"} 1.0' in text
    assert 'workqueue_adds_total{controller="mgr-things",name="mgr-things"}' in text
    assert 'controller_runtime_max_concurrent_reconciles{controller="mgr-things"} 1.0' in text
    assert "_created" not in text
    mgr.stop()
    assert await asyncio.wait_for(run, 10) == 0


async def test_a_graceful_stop_releases_the_lease(api, transport):
    mgr, _ = manager(transport, leader_election=True, leader_election_id="mgr-lock")
    run = asyncio.create_task(mgr.run(install_signal_handlers=False))
    await asyncio.wait_for(mgr.started_leading.wait(), 5)
    assert api.objects[("leases", "default", "mgr-lock")]["spec"]["holderIdentity"] == mgr.identity
    mgr.stop()
    assert await asyncio.wait_for(run, 10) == 0
    assert "holderIdentity" not in api.objects[("leases", "default", "mgr-lock")]["spec"]


async def test_losing_the_lease_returns_exit_code_1(api, transport):
    mgr, _ = manager(
        transport,
        leader_election=True,
        leader_election_id="mgr-lost",
        lease_duration=3,
        renew_deadline=1.5,
        retry_period=0.5,
    )
    run = asyncio.create_task(mgr.run(install_signal_handlers=False))
    await asyncio.wait_for(mgr.started_leading.wait(), 5)
    for _ in range(50):
        api.fail_next("PUT", 500, "InternalError", path_contains="leases")
        api.fail_next("GET", 500, "InternalError", path_contains="leases")
    assert await asyncio.wait_for(run, 10) == 1


async def test_sigterm_drain_is_bounded_by_the_graceful_shutdown_timeout(api, transport):
    started = asyncio.Event()

    class Stuck:
        async def reconcile(self, req):
            started.set()
            await asyncio.Event().wait()  # never finishes on its own

    await api.put("things", thing("a"))
    mgr = Manager(transport, ManagerOptions(name="stuck-mgr", health_port=0, graceful_shutdown_timeout=0.5))
    mgr.add(Controller("stuck", Stuck()).for_(mgr.cache.informer(THINGS)))
    run = asyncio.create_task(mgr.run(install_signal_handlers=False))
    await asyncio.wait_for(started.wait(), 10)
    t0 = asyncio.get_running_loop().time()
    mgr.stop()
    assert await asyncio.wait_for(run, 10) == 0
    assert asyncio.get_running_loop().time() - t0 < 3


async def test_the_whole_stop_fits_the_timeout_when_the_apiserver_stops_answering():
    from kaito.kube.config import Connection
    from kaito.kube.meta import ObjectMeta
    from kaito.kube.transport import Transport

    from .kinds import Thing

    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)  # accepts, never answers
    port = silent.sockets[0].getsockname()[1]
    try:
        async with Transport(Connection(f"http://127.0.0.1:{port}")) as stalled:
            mgr = Manager(stalled, ManagerOptions(name="m", health_port=0, graceful_shutdown_timeout=1.0))
            run = asyncio.create_task(mgr.run(install_signal_handlers=False))
            await asyncio.sleep(0.2)
            mgr.recorder.normal(Thing(metadata=ObjectMeta(name="a", namespace="n")), "Pending", "queued")
            await asyncio.sleep(0.1)  # the event's POST is now waiting on the silent server
            t0 = asyncio.get_running_loop().time()
            mgr.stop()
            assert await asyncio.wait_for(run, 10) == 0
            assert asyncio.get_running_loop().time() - t0 < 1.5  # it used to take the fixed 5 s flush
    finally:
        silent.close()


async def test_a_real_sigterm_stops_the_manager(api, transport):
    import os
    import signal

    mgr, _ = manager(transport)
    run = asyncio.create_task(mgr.run())
    await asyncio.sleep(0.3)
    os.kill(os.getpid(), signal.SIGTERM)
    assert await asyncio.wait_for(run, 10) == 0


async def test_a_failing_leader_runnable_stops_the_manager_with_1_and_a_finished_one_does_not(api, transport):
    mgr, _ = manager(transport)

    async def finishes():
        return None

    async def fails():
        await asyncio.sleep(0.3)
        raise RuntimeError("runnable broke")

    mgr.add_leader_runnable(finishes)
    mgr.add_leader_runnable(fails)
    assert await asyncio.wait_for(mgr.run(install_signal_handlers=False), 10) == 1


def test_leader_election_needs_an_id(transport):
    with pytest.raises(ValueError, match="leader_election_id"):
        Manager(transport, ManagerOptions(name="x", leader_election=True))


def test_logs_are_json_lines_with_the_extra_fields():
    out = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    logs.configure(logging.INFO, out)
    try:
        logging.getLogger("kaito.test").info(
            "reconciled %s", "a", extra={"controller": "c", "object": "ns/a"}
        )
        try:
            raise RuntimeError("bad")
        except RuntimeError:
            logging.getLogger("kaito.test").exception("failed")
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first["msg"] == "reconciled a" and first["controller"] == "c" and first["level"] == "info"
    assert second["error"] == "RuntimeError: bad" and "Traceback" in second["stacktrace"]


async def test_a_check_that_raises_fails_the_probe_and_its_error_is_logged(caplog):
    from aiohttp.test_utils import TestClient, TestServer

    from kaito.kube.health import HealthServer

    health = HealthServer()

    def broken() -> str | None:
        raise KeyError("informer gone")

    health.liveness["cache"] = broken
    async with TestClient(TestServer(health.app())) as client:
        response = await client.get("/healthz")
        assert response.status == 500 and "[-]cache failed" in await response.text()
    (record,) = [r for r in caplog.records if r.msg == "health check raised"]
    assert record.check == "cache" and "informer gone" in str(record.exc_info[1])
