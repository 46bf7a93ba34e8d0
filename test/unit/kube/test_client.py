"""Client: typed objects in, typed errors out, and writes that carry only what they are given."""

import asyncio

import pytest

from kaito.kube import errors
from kaito.kube.client import Client, PatchType, retry_on_conflict
from kaito.kube.meta import ObjectMeta

from .kinds import NODES, THINGS, Thing, thing


@pytest.fixture
def client(transport):
    return Client(transport, field_manager="test-manager")


async def test_create_get_and_list_decode_into_structs(client, api):
    created = await client.create(THINGS, thing("a", replicas=1))
    assert isinstance(created, Thing) and created.metadata.uid and created.spec == {"replicas": 1}
    got = await client.get(THINGS, "a", "default")
    assert got.metadata.resource_version == created.metadata.resource_version
    assert api.requests[0][2]["fieldManager"] == "test-manager"


async def test_list_follows_continue_tokens(client, api):
    for i in range(5):
        await api.put("things", thing(f"t{i}"))
    items = await client.list(THINGS, "default", limit=2)
    assert [t.metadata.name for t in items] == [f"t{i}" for i in range(5)]
    lists = [r for r in api.requests if r[0] == "GET"]
    assert len(lists) == 3 and all(r[2]["limit"] == "2" for r in lists)


async def test_errors_are_typed_from_the_status_body(client, api):
    with pytest.raises(errors.NotFound):
        await client.get(THINGS, "missing", "default")
    await client.create(THINGS, thing("a"))
    with pytest.raises(errors.AlreadyExists):
        await client.create(THINGS, thing("a"))
    with pytest.raises(errors.Invalid) as invalid:
        await client.create(THINGS, {"metadata": {"namespace": "default"}})
    assert invalid.value.causes[0].field == "metadata.name"
    assert "metadata.name: Required value" in str(invalid.value)
    api.fail_next("GET", 403, "Forbidden")
    with pytest.raises(errors.Forbidden):
        await client.get(THINGS, "a", "default")
    api.fail_next("GET", 410, "Expired")
    with pytest.raises(errors.Gone):
        await client.get(THINGS, "a", "default")
    api.fail_next("GET", 500, "InternalError")
    with pytest.raises(errors.ServerError):
        await client.get(THINGS, "a", "default")


async def test_too_many_requests_is_retried_after_retry_after(client, api):
    await client.create(THINGS, thing("a"))
    api.fail_next("GET", 429, "TooManyRequests", headers={"Retry-After": "1"})
    api.fail_next("GET", 429, "TooManyRequests", headers={"Retry-After": "0"})
    loop = asyncio.get_running_loop()
    start = loop.time()
    got = await client.get(THINGS, "a", "default")
    assert got.metadata.name == "a"
    assert loop.time() - start >= 0.95  # waited the server's Retry-After
    assert sum(1 for r in api.requests if r[0] == "GET") == 3


async def test_too_many_requests_surfaces_after_max_retries(api, transport):
    transport.max_retries = 1
    client = Client(transport)
    for _ in range(2):
        api.fail_next(
            "GET", 429, "TooManyRequests", headers={"Retry-After": "0"}, details={"retryAfterSeconds": 7}
        )
    with pytest.raises(errors.TooManyRequests) as err:
        await client.get(THINGS, "a", "default")
    assert err.value.retry_after == 7


async def test_merge_patch_keeps_fields_it_does_not_carry(client, api):
    await api.put("things", {**thing("a", replicas=1), "status": {"owner": "someone-else"}})
    patched = await client.patch(THINGS, "a", {"spec": {"image": "x"}}, namespace="default")
    assert patched.spec == {"replicas": 1, "image": "x"}
    assert api.objects[("things", "default", "a")]["status"] == {"owner": "someone-else"}
    assert api.requests[-1][3] == "application/merge-patch+json"


async def test_merge_patch_with_a_stale_resource_version_conflicts(client, api):
    obj = await client.create(THINGS, thing("a"))
    await client.patch(THINGS, "a", {"spec": {"v": 1}}, namespace="default")
    stale = {"metadata": {"resourceVersion": obj.metadata.resource_version}, "spec": {"v": 2}}
    with pytest.raises(errors.Conflict):
        await client.patch(THINGS, "a", stale, namespace="default")


async def test_apply_sends_an_apply_patch_with_field_manager_and_force(client, api):
    await client.apply(THINGS, {"metadata": {"name": "a", "namespace": "default"}, "spec": {"x": 1}})
    method, _path, query, ctype = api.requests[-1]
    assert (method, ctype) == ("PATCH", PatchType.APPLY.value)
    assert query == {"fieldManager": "test-manager", "force": "true"}
    with pytest.raises(ValueError, match="force"):
        await client.patch(THINGS, "a", {}, namespace="default", force=True)


async def test_update_conflicts_on_a_stale_object_and_retry_on_conflict_rereads(client, api):
    first = await client.create(THINGS, thing("a", n=0))
    await client.patch(THINGS, "a", {"spec": {"n": 1}}, namespace="default")
    with pytest.raises(errors.Conflict):
        await client.update(THINGS, first)
    attempts = []

    async def bump():
        current = await client.get(THINGS, "a", "default")
        attempts.append(current.metadata.resource_version)
        if len(attempts) == 1:  # someone else writes in between, once
            await client.patch(THINGS, "a", {"spec": {"other": True}}, namespace="default")
        spec = {**(current.spec or {}), "n": current.spec["n"] + 1}
        return await client.update(THINGS, Thing(metadata=current.metadata, spec=spec))

    result = await retry_on_conflict(bump)
    assert len(attempts) == 2 and result.spec == {"n": 2, "other": True}


async def test_retry_on_conflict_gives_up_after_its_steps(client):
    calls = 0

    async def always_conflicts():
        nonlocal calls
        calls += 1
        raise errors.Conflict(409, errors.Status(reason="Conflict"))

    with pytest.raises(errors.Conflict):
        await retry_on_conflict(always_conflicts, steps=3, delay=0)
    assert calls == 3


async def test_delete_honours_preconditions_and_propagation_policy(client, api):
    obj = await client.create(THINGS, thing("a"))
    with pytest.raises(errors.Conflict):
        await client.delete(THINGS, "a", "default", uid="not-the-uid")
    with pytest.raises(ValueError, match="propagation_policy"):
        await client.delete(THINGS, "a", "default", propagation_policy="Sideways")
    await client.delete(THINGS, "a", "default", uid=obj.metadata.uid, propagation_policy="Foreground")
    assert ("things", "default", "a") not in api.objects


async def test_cluster_scoped_paths_refuse_a_namespace(client):
    assert NODES.path(name="n1") == "/api/v1/nodes/n1"
    assert THINGS.path("ns", "x", "status") == "/apis/example.com/v1/namespaces/ns/things/x/status"
    with pytest.raises(ValueError, match="namespace"):
        NODES.path("ns")
    with pytest.raises(ValueError, match=r"metadata\.name"):
        await client.update(THINGS, Thing(metadata=ObjectMeta(namespace="default")))
