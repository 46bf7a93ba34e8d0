"""Small resource types for the kaito.kube unit tests."""

from typing import Any

import msgspec

from kaito.kube.meta import ObjectMeta
from kaito.kube.resource import Resource


class Thing(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    spec: dict[str, Any] | None = None


class Node(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)


THINGS = Resource("example.com", "v1", "things", "Thing", True, Thing)
NODES = Resource("", "v1", "nodes", "Node", False, Node)


def thing(name: str, ns: str = "default", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Thing",
        "metadata": {"name": name, "namespace": ns},
        "spec": spec,
    }
