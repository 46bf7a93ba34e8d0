"""Core kinds the kaito.kube e2e tests use (partial Structs, as a controller would declare them)."""

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
