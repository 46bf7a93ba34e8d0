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
    """The cache behind an informer. Objects are shared: treat them as read-only.

    The namespace index is kept inline (every upsert of a known key leaves it unchanged, since the key
    contains the namespace); other indexes are rewritten only when an object's values change.
    """

    def __init__(self, indexers: dict[str, IndexFunc[T]] | None = None) -> None:
        self._items: dict[str, T] = {}
        self._by_namespace: dict[str, set[str]] = {}
        self._indexers: dict[str, IndexFunc[T]] = {}
        self._indices: dict[str, dict[str, set[str]]] = {NAMESPACE_INDEX: self._by_namespace}
        self._index_pairs: list[tuple[IndexFunc[T], dict[str, set[str]]]] = []
        for name, fn in (indexers or {}).items():
            self.add_indexer(name, fn)

    def add_indexer(self, name: str, fn: IndexFunc[T]) -> None:
        if name == NAMESPACE_INDEX:
            if fn is not index_by_namespace:
                raise ValueError(f"indexer {name!r}: reserved for the built-in namespace index")
            return
        if name in self._indexers and self._indexers[name] is not fn:
            raise ValueError(f"indexer {name!r}: already registered")
        self._indexers[name] = fn
        index: dict[str, set[str]] = {}
        for key, obj in self._items.items():
            for value in fn(obj):
                index.setdefault(value, set()).add(key)
        self._indices[name] = index
        self._index_pairs = [(f, self._indices[n]) for n, f in self._indexers.items()]

    def upsert(self, obj: T) -> T | None:
        """Add or replace; returns the previous object under the key, if any."""
        meta = obj.metadata
        namespace = meta.namespace or ""
        key = f"{namespace}/{meta.name}" if namespace else meta.name  # object_key, inlined: once per event
        items = self._items
        old = items.get(key)
        items[key] = obj
        if old is None:
            _add(self._by_namespace, namespace, key)
            for fn, index in self._index_pairs:
                for value in fn(obj):
                    _add(index, value, key)
        else:
            for fn, index in self._index_pairs:
                before, after = fn(old), fn(obj)
                if before != after:
                    for value in before:
                        _discard(index, value, key)
                    for value in after:
                        _add(index, value, key)
        return old

    def delete(self, obj: T) -> T | None:
        key = object_key(obj)
        old = self._items.pop(key, None)
        if old is not None:
            _discard(self._by_namespace, old.metadata.namespace or "", key)
            for fn, index in self._index_pairs:
                for value in fn(old):
                    _discard(index, value, key)
        return old

    def replace(self, items: Iterable[T]) -> builtins.list[T]:
        """Make the store hold exactly `items`; returns the objects that were dropped."""
        new = {object_key(o): o for o in items}
        gone = [obj for key, obj in self._items.items() if key not in new]
        self._items = new
        self._by_namespace.clear()
        for key, obj in new.items():
            _add(self._by_namespace, obj.metadata.namespace or "", key)
        for name, fn in self._indexers.items():
            index = self._indices[name]
            index.clear()
            for key, obj in new.items():
                for value in fn(obj):
                    _add(index, value, key)
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


def _add(index: dict[str, set[str]], value: str, key: str) -> None:
    keys = index.get(value)
    if keys is None:
        index[value] = {key}
    else:
        keys.add(key)


def _discard(index: dict[str, set[str]], value: str, key: str) -> None:
    keys = index.get(value)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del index[value]
