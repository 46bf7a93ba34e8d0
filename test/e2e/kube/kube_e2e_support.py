"""Helpers for the kaito.kube e2e tests: the core kinds they use (partial Structs, as a controller
would declare them) and a polling helper. A uniquely named module, not a package, so that the unit
and e2e test trees can be collected in one pytest run."""

import asyncio

import msgspec

from kaito.kube.meta import ObjectMeta
from kaito.kube.resource import Resource


class ConfigMap(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    data: dict[str, str] | None = None


class Namespace(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)


CONFIGMAPS = Resource("", "v1", "configmaps", "ConfigMap", True, ConfigMap)
NAMESPACES = Resource("", "v1", "namespaces", "Namespace", False, Namespace)


def configmap(name: str, namespace: str, **data: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace},
        "data": data,
    }


async def eventually(pred, within: float = 30.0, interval: float = 0.1) -> None:
    """Poll an async or plain predicate until it is true."""
    loop = asyncio.get_running_loop()
    end = loop.time() + within
    while True:
        value = pred()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if loop.time() > end:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(interval)
