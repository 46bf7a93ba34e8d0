"""Shared informers, one per resource type, and cached readers over their stores.

controller-runtime's cache: every controller asking for the same Resource gets the same informer
(started once by the manager), and reconcilers read through a `Reader` (get, list with a label
selector, by_index) instead of asking the API server. Objects are shared with the cache: do not
mutate them; build a patch instead.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from kaito.kube.clock import Clock
from kaito.kube.informer import Informer, slim
from kaito.kube.resource import KubeObject, Resource
from kaito.kube.store import IndexFunc
from kaito.kube.transport import Transport

T = TypeVar("T", bound=KubeObject)


def matches_labels(obj: KubeObject, selector: Mapping[str, str]) -> bool:
    """True if the object carries every label of `selector` with the same value."""
    labels = obj.metadata.labels or {}
    return all(labels.get(k) == v for k, v in selector.items())


class Reader(Generic[T]):
    """Read-only view of one informer's store."""

    def __init__(self, informer: Informer[T]) -> None:
        self.informer = informer

    def get(self, name: str, namespace: str | None = None) -> T | None:
        """The cached object, or None (not found means deleted, or not yet seen)."""
        return self.informer.store.get_by_name(name, namespace)

    def list(self, namespace: str | None = None, labels: Mapping[str, str] | None = None) -> list[T]:
        store = self.informer.store
        items = store.by_index("namespace", namespace) if namespace is not None else store.list()
        return [o for o in items if matches_labels(o, labels)] if labels else items

    def by_index(self, index: str, value: str) -> builtins.list[T]:
        return self.informer.store.by_index(index, value)


class Cache:
    """Creates and runs shared informers; `informer(res)` returns the same one for the same type."""

    def __init__(
        self,
        transport: Transport,
        *,
        namespace: str | None = None,
        resync_period: float | None = None,
        transform: Callable[[Any], Any] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._transport = transport
        self.namespace = namespace
        self.resync_period = resync_period
        self.transform = transform or slim()
        self._clock = clock
        self._informers: dict[Resource[Any], Informer[Any]] = {}
        self._started = False

    def informer(
        self,
        res: Resource[T],
        *,
        indexers: dict[str, IndexFunc[T]] | None = None,
        label_selector: str | None = None,
    ) -> Informer[T]:
        """The shared informer for `res` (created on first use; started now if the cache runs)."""
        inf = self._informers.get(res)
        if inf is None:
            inf = Informer(
                self._transport,
                res,
                namespace=self.namespace if res.namespaced else None,
                label_selector=label_selector,
                transform=self.transform,
                resync_period=self.resync_period,
                clock=self._clock,
            )
            self._informers[res] = inf
            if self._started:
                inf.start()
        elif label_selector and label_selector != inf.reflector.label_selector:
            raise ValueError(f"label_selector: the {res.kind} informer already exists with another selector")
        for name, fn in (indexers or {}).items():
            inf.add_indexer(name, fn)
        return inf

    def reader(self, res: Resource[T]) -> Reader[T]:
        return Reader(self.informer(res))

    @property
    def informers(self) -> list[Informer[Any]]:
        return list(self._informers.values())

    def start(self) -> None:
        self._started = True
        for inf in self._informers.values():
            inf.start()

    @property
    def has_synced(self) -> bool:
        return all(inf.has_synced for inf in self._informers.values())

    async def wait_for_sync(self, within: float | None = None) -> bool:
        results = await asyncio.gather(*(inf.wait_for_sync(within) for inf in self._informers.values()))
        return all(results)

    async def stop(self) -> None:
        await asyncio.gather(*(inf.stop() for inf in self._informers.values()))
        self._started = False
