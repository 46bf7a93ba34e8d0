"""Event handlers that turn informer events into reconcile Requests (controller-runtime pkg/handler).

- EnqueueRequestForObject: the object's own key (the primary type).
- EnqueueRequestForOwner: the owner named by an ownerReference matching group and kind (only the
  controller owner by default), in the object's namespace, or cluster-wide for a cluster-scoped
  owner. On update, owners of both the old and the new object are enqueued.
- EnqueueRequestsFromMapFunc: any function object → requests (e.g. a label naming the owner).
Delete events carry the last known state, so children still map to their owners.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

from kaito.kube.reconcile import Request
from kaito.kube.resource import KubeObject


class Mapper(Protocol):
    """Maps one object to the requests it should trigger."""

    def requests(self, obj: Any) -> Iterable[Request]: ...


class EnqueueRequestForObject:
    """The object's own namespace/name."""

    def requests(self, obj: KubeObject) -> Iterable[Request]:
        return (Request(obj.metadata.name, obj.metadata.namespace or ""),)


class EnqueueRequestForOwner:
    """The owner(s) of `group`/`kind` from the object's ownerReferences."""

    def __init__(
        self, group: str, kind: str, *, owner_namespaced: bool = True, only_controller: bool = True
    ) -> None:
        self.group, self.kind = group, kind
        self.owner_namespaced, self.only_controller = owner_namespaced, only_controller

    def requests(self, obj: KubeObject) -> Iterable[Request]:
        out = []
        for ref in obj.metadata.owner_references or []:
            if self.only_controller and not ref.controller:
                continue
            group = ref.api_version.rpartition("/")[0] if "/" in ref.api_version else ""
            if ref.kind == self.kind and group == self.group:
                ns = (obj.metadata.namespace or "") if self.owner_namespaced else ""
                out.append(Request(ref.name, ns))
        return out


class EnqueueRequestsFromMapFunc:
    """Whatever `fn(obj)` returns."""

    def __init__(self, fn: Callable[[Any], Iterable[Request]]) -> None:
        self.fn = fn

    def requests(self, obj: Any) -> Iterable[Request]:
        return self.fn(obj)
