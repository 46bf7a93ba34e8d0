"""Informers on a real API server: resume after an apiserver restart, relist after a forced 410
(etcd compaction), and converge after 1,000 rapid updates to one object."""

import asyncio
import base64
import uuid

import aiohttp
import pytest
from kube_e2e_support import CONFIGMAPS, configmap, eventually

from kaito.kube.client import Client
from kaito.kube.controller import Controller
from kaito.kube.informer import Informer
from kaito.kube.reconcile import Result

pytestmark = pytest.mark.slow


def names(inf: Informer) -> set[str]:
    return {o.metadata.name for o in inf.store}


async def server_names(client: Client, ns: str) -> set[str]:
    return {o.metadata.name for o in await client.list(CONFIGMAPS, ns)}


@pytest.fixture
async def informer(transport, namespace):
    inf = Informer(transport, CONFIGMAPS, namespace=namespace)
    inf.start()
    assert await inf.wait_for_sync(30)
    yield inf
    await inf.stop()


async def test_a_watch_resumes_after_the_apiserver_restarts(cluster, client, namespace, informer):
    await client.create(CONFIGMAPS, configmap("before", namespace))
    await eventually(lambda: "before" in names(informer))
    await asyncio.to_thread(cluster.restart_apiserver)
    await client.create(CONFIGMAPS, configmap("after", namespace))
    await client.patch(CONFIGMAPS, "before", {"data": {"v": "2"}}, namespace=namespace)
    await eventually(lambda: "after" in names(informer), within=90)
    await eventually(
        lambda: (informer.store.get_by_name("before", namespace).data or {}).get("v") == "2", within=30
    )
    assert names(informer) == await server_names(client, namespace)


async def etcd_revision(session: aiohttp.ClientSession, etcd_url: str) -> int:
    body = {
        "key": base64.b64encode(b"\0").decode(),
        "range_end": base64.b64encode(b"\0").decode(),
        "limit": 1,
    }
    async with session.post(f"{etcd_url}/v3/kv/range", json=body) as resp:
        resp.raise_for_status()
        return int((await resp.json())["header"]["revision"])


async def compact(etcd_url: str) -> int:
    async with aiohttp.ClientSession() as session:
        rev = await etcd_revision(session, etcd_url)
        async with session.post(
            f"{etcd_url}/v3/kv/compaction", json={"revision": str(rev), "physical": True}
        ) as r:
            r.raise_for_status()
        return rev


async def test_a_forced_410_relists_and_the_cache_converges(cluster, client, namespace, informer):
    for i in range(5):
        await client.create(CONFIGMAPS, configmap(f"cm-{i}", namespace))
    await eventually(lambda: {f"cm-{i}" for i in range(5)} <= names(informer))
    lists = informer.reflector.lists
    # A write the informer does not see, so its last RV is strictly older than the compaction point.
    await client.create(CONFIGMAPS, configmap(f"elsewhere-{uuid.uuid4().hex[:6]}", "default"))
    await compact(cluster.etcd_url)
    # The restart drops the watch and rebuilds the watch cache at the current revision: the re-watch
    # from the informer's old resourceVersion can only be answered with 410 Expired.
    await asyncio.to_thread(cluster.restart_apiserver)
    await client.delete(CONFIGMAPS, "cm-0", namespace)
    await client.create(CONFIGMAPS, configmap("cm-new", namespace))
    await eventually(lambda: informer.reflector.expired >= 1 and informer.reflector.lists > lists, within=90)
    expected = await server_names(client, namespace)
    await eventually(lambda: names(informer) == expected, within=30)
    assert "cm-0" not in names(informer) and "cm-new" in names(informer)


async def test_the_final_state_is_right_after_1000_rapid_updates_to_one_object(transport, client, namespace):
    await client.create(CONFIGMAPS, configmap("hot", namespace, n="-1"))
    inf = Informer(transport, CONFIGMAPS, namespace=namespace)
    seen: list[str] = []

    class Observe:
        async def reconcile(self, req):
            obj = inf.store.get_by_name(req.name, req.namespace)
            seen.append((obj.data or {}).get("n", "") if obj else "gone")
            return Result()

    ctrl = Controller("e2e-hot", Observe(), max_concurrent_reconciles=2).for_(inf)
    inf.start()
    run = asyncio.create_task(ctrl.run())
    try:
        assert await inf.wait_for_sync(30)
        for i in range(1000):
            await client.patch(CONFIGMAPS, "hot", {"data": {"n": str(i)}}, namespace=namespace)
        server = await client.get(CONFIGMAPS, "hot", namespace)
        assert server.data == {"n": "999"}
        await eventually(lambda: inf.store.get_by_name("hot", namespace).data == {"n": "999"}, within=60)
        await eventually(lambda: seen and seen[-1] == "999", within=30)
        # Keys collapse in the queue: never more reconciles than events. The events are the 1,000
        # updates plus one add-or-update per LIST (a relist, e.g. after a watch error, adds one).
        assert len(seen) <= 1000 + inf.reflector.lists
        assert (
            inf.store.get_by_name("hot", namespace).metadata.resource_version
            == server.metadata.resource_version
        )
    finally:
        ctrl.stop()
        await asyncio.wait_for(run, 30)
        await inf.stop()
