"""An indexed object store keyed by namespace/name (client-go thread_safe_store.go + index.go).

Indexers are functions obj → list of index values (a label's value, an owner UID, spec.nodeName);
the indexes are kept up to date on every add, update, delete and replace. `replace` reports the
objects that vanished, so a relist can emit deletes missed while disconnected.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

from kaito.kube.resource import KubeObject, object_key

T = TypeVar("T", bound=KubeObject)
IndexFunc = Callable[[T], Iterable[str]]

NAMESPACE_INDEX = "namespace"


def index_by_namespace(obj: KubeObject) -> list[str]:
    """The namespace index ("" for cluster-scoped objects)."""
    return [obj.metadata.namespace or ""]


def index_by_label(label: str) -> Callable[[KubeObject], list[str]]:
    """Index by one label's value (objects without the label are not indexed)."""

    def fn(obj: KubeObject) -> list[str]:
        value = (obj.metadata.labels or {}).get(label)
        return [value] if value is not None else []

    return fn


def index_by_owner_uid(controller_only: bool = False) -> Callable[[KubeObject], list[str]]:
    """Index by owner UID (only the controller owner when `controller_only`)."""

    def fn(obj: KubeObject) -> list[str]:
        refs = obj.metadata.owner_references or []
        return [r.uid for r in refs if r.controller or not controller_only]

    return fn


class Store(Generic[T]):
    """The cache behind an informer. Objects are shared: treat them as read-only."""

    def __init__(self, indexers: dict[str, IndexFunc[T]] | None = None) -> None:
        self._items: dict[str, T] = {}
        self._indexers: dict[str, IndexFunc[T]] = {NAMESPACE_INDEX: index_by_namespace}
        self._indices: dict[str, dict[str, set[str]]] = {NAMESPACE_INDEX: {}}
        self._index_pairs = self._pairs()
        for name, fn in (indexers or {}).items():
            self.add_indexer(name, fn)

    def add_indexer(self, name: str, fn: IndexFunc[T]) -> None:
        if name in self._indexers and self._indexers[name] is not fn:
            raise ValueError(f"indexer {name!r}: already registered")
        self._indexers[name] = fn
        index: dict[str, set[str]] = {}
        for key, obj in self._items.items():
            for value in fn(obj):
                index.setdefault(value, set()).add(key)
        self._indices[name] = index
        self._index_pairs = self._pairs()

    def _pairs(self) -> list[tuple[IndexFunc[T], dict[str, set[str]]]]:
        return [(fn, self._indices[name]) for name, fn in self._indexers.items()]

    def _unindex(self, key: str, obj: T) -> None:
        for fn, index in self._index_pairs:
            for value in fn(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]

    def _index(self, key: str, obj: T) -> None:
        for fn, index in self._index_pairs:
            for value in fn(obj):
                keys = index.get(value)
                if keys is None:
                    index[value] = {key}
                else:
                    keys.add(key)

    def upsert(self, obj: T) -> T | None:
        """Add or replace; returns the previous object under the key, if any."""
        meta = obj.metadata
        key = f"{meta.namespace}/{meta.name}" if meta.namespace else meta.name
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        self._index(key, obj)
        return old

    def delete(self, obj: T) -> T | None:
        key = object_key(obj)
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def replace(self, items: Iterable[T]) -> builtins.list[T]:
        """Make the store hold exactly `items`; returns the objects that were dropped."""
        new = {object_key(o): o for o in items}
        gone = [obj for key, obj in self._items.items() if key not in new]
        self._items = new
        for name, fn in self._indexers.items():
            index: dict[str, set[str]] = {}
            for key, obj in new.items():
                for value in fn(obj):
                    index.setdefault(value, set()).add(key)
            self._indices[name] = index
        self._index_pairs = self._pairs()
        return gone

    def get(self, key: str) -> T | None:
        return self._items.get(key)

    def get_by_name(self, name: str, namespace: str | None = None) -> T | None:
        return self._items.get(f"{namespace}/{name}" if namespace else name)

    def keys(self) -> builtins.list[str]:
        return list(self._items)

    def list(self) -> builtins.list[T]:
        return list(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items.values()))

    def by_index(self, index: str, value: str) -> builtins.list[T]:
        """Objects whose indexer `index` produced `value`."""
        if index not in self._indices:
            raise KeyError(f"index {index!r}: not registered (have {sorted(self._indices)})")
        return [self._items[k] for k in self._indices[index].get(value, ())]

    def index_keys(self, index: str, value: str) -> builtins.list[str]:
        if index not in self._indices:
            raise KeyError(f"index {index!r}: not registered (have {sorted(self._indices)})")
        return sorted(self._indices[index].get(value, ()))
