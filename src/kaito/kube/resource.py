"""What the machinery needs to know about a kind: its REST path, scope and Python type.

`Resource(group, version, plural, kind, namespaced, type)` is this package's small RESTMapper: it
builds URLs and owns the reused msgspec decoders for the object, its list and its watch events.
Any msgspec Struct with a `metadata: ObjectMeta` field can be a resource type; decode only the
fields you read (unknown fields are dropped, so never PUT a partially modelled object back).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Generic, Protocol, TypeVar
from urllib.parse import quote

import msgspec

from kaito.kube.meta import ListMeta, ObjectMeta


class KubeObject(Protocol):
    """Anything with object metadata."""

    @property
    def metadata(self) -> ObjectMeta: ...


T = TypeVar("T", bound=KubeObject)


class ObjectList(msgspec.Struct, Generic[T], gc=False):
    """A LIST response page: list metadata and the items."""

    metadata: ListMeta = msgspec.field(default_factory=ListMeta)
    items: list[T] | None = None


class RawWatchEvent(msgspec.Struct, gc=False):
    """One watch line before its object is decoded (the type decides into what)."""

    type: str
    object: msgspec.Raw


class TypedWatchEvent(msgspec.Struct, Generic[T], gc=False):
    """One watch line decoded in a single pass (the fast path for ADDED/MODIFIED/DELETED)."""

    type: str
    object: T


class MetaOnly(msgspec.Struct, gc=False):
    """Just an object's metadata: what a BOOKMARK carries."""

    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)


def object_key(obj: KubeObject) -> str:
    """The cache key client-go uses: "namespace/name", or "name" for cluster-scoped objects."""
    meta = obj.metadata
    return f"{meta.namespace}/{meta.name}" if meta.namespace else meta.name


def split_key(key: str) -> tuple[str | None, str]:
    """The inverse of object_key: (namespace or None, name)."""
    ns, sep, name = key.partition("/")
    return (ns, name) if sep else (None, ns)


@dataclass(frozen=True, eq=False)
class Resource(Generic[T]):
    """A resource type: e.g. Resource("", "v1", "pods", "Pod", True, Pod)."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    type: type[T]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_kind(self) -> tuple[str, str]:
        return (self.group, self.kind)

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str = "") -> str:
        """The REST path; `namespace=None` on a namespaced resource means all namespaces."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        elif not self.namespaced and namespace:
            raise ValueError(f"namespace: {self.kind} is cluster-scoped, got namespace {namespace!r}")
        base += f"/{self.plural}"
        if name is not None:
            if not name:
                raise ValueError(f"name: a {self.kind} name must not be empty")
            base += f"/{quote(name, safe='')}"
        if subresource:
            base += f"/{subresource}"
        return base

    @cached_property
    def decoder(self) -> msgspec.json.Decoder[T]:
        return msgspec.json.Decoder(self.type)

    @cached_property
    def event_decoder(self) -> msgspec.json.Decoder[TypedWatchEvent[T]]:
        return msgspec.json.Decoder(TypedWatchEvent[self.type])  # type: ignore[name-defined]

    @cached_property
    def list_decoder(self) -> msgspec.json.Decoder[ObjectList[T]]:
        return msgspec.json.Decoder(ObjectList[self.type])  # type: ignore[name-defined]
