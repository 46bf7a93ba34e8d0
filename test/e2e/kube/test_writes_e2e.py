"""Writes on a real API server: conflicts detected and retried, apply and merge patch keep other
managers' fields, typed errors."""

import asyncio

import pytest
from kube_e2e_support import CONFIGMAPS, configmap

from kaito.kube import errors
from kaito.kube.client import Client, PatchType, retry_on_conflict


async def test_a_conflict_is_retried_until_every_increment_lands(client, namespace):
    await client.create(CONFIGMAPS, configmap("counter", namespace, n="0"))
    conflicts = 0

    async def increment() -> None:
        nonlocal conflicts
        current = await client.get(CONFIGMAPS, "counter", namespace)
        n = int((current.data or {})["n"])
        patch = {
            "metadata": {"resourceVersion": current.metadata.resource_version},
            "data": {"n": str(n + 1)},
        }
        try:
            await client.patch(CONFIGMAPS, "counter", patch, namespace=namespace)
        except errors.Conflict:
            conflicts += 1
            raise

    async def worker() -> None:
        for _ in range(10):
            await retry_on_conflict(increment, steps=50)

    await asyncio.gather(*(worker() for _ in range(4)))
    final = await client.get(CONFIGMAPS, "counter", namespace)
    assert final.data == {"n": "40"}
    assert conflicts > 0  # the writers did collide, and every collision was retried


async def test_server_side_apply_and_merge_patch_leave_other_fields_alone(client, namespace):
    other = Client(client.transport, field_manager="someone-else")
    await other.create(CONFIGMAPS, configmap("shared", namespace, theirs="1"))
    applied = await client.apply(
        CONFIGMAPS, {"metadata": {"name": "shared", "namespace": namespace}, "data": {"ours": "a"}}
    )
    assert applied.data == {"theirs": "1", "ours": "a"}
    patched = await client.patch(CONFIGMAPS, "shared", {"data": {"ours": "b"}}, namespace=namespace)
    assert patched.data == {"theirs": "1", "ours": "b"}
    with pytest.raises(errors.Conflict):  # apply without force on a field another manager owns
        await client.patch(
            CONFIGMAPS,
            "shared",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "shared"},
                "data": {"theirs": "x"},
            },
            namespace=namespace,
            patch_type=PatchType.APPLY,
        )


async def test_errors_from_the_real_server_are_typed(client, namespace):
    with pytest.raises(errors.NotFound):
        await client.get(CONFIGMAPS, "absent", namespace)
    await client.create(CONFIGMAPS, configmap("dup", namespace))
    with pytest.raises(errors.AlreadyExists):
        await client.create(CONFIGMAPS, configmap("dup", namespace))
    with pytest.raises(errors.Invalid) as invalid:
        await client.create(CONFIGMAPS, configmap("Not_A_Valid_Name", namespace))
    assert any(c.field == "metadata.name" for c in invalid.value.causes)
    cm = await client.get(CONFIGMAPS, "dup", namespace)
    with pytest.raises(errors.Conflict):
        await client.delete(CONFIGMAPS, "dup", namespace, uid="00000000-0000-0000-0000-000000000000")
    await client.delete(CONFIGMAPS, "dup", namespace, uid=cm.metadata.uid, propagation_policy="Background")
