"""An informer: a reflector feeding an indexed store, then fanning events out to handlers.

Mirrors client-go shared_informer.go with one asyncio task instead of a DeltaFIFO: each event
is applied to the store first, then every handler is called synchronously (handlers must be
fast: enqueue a key, no I/O). A relist emits updates for known objects, adds for new ones and
deletes (with the last known state) for the ones that vanished. `transform` runs on every
object before it is stored, to drop what nobody reads (see `slim`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from kaito.kube.clock import Clock, RealClock
from kaito.kube.reflector import Reflector
from kaito.kube.resource import KubeObject, Resource, object_key
from kaito.kube.store import IndexFunc, Store
from kaito.kube.transport import Transport
from kaito.kube.watch import ADDED, DELETED, MODIFIED

T = TypeVar("T", bound=KubeObject)
T_contra = TypeVar("T_contra", bound=KubeObject, contravariant=True)
log = logging.getLogger(__name__)

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


class EventHandler(Protocol[T_contra]):
    """Receives an informer's notifications; the store already holds the new state."""

    def on_add(self, obj: T_contra, is_initial_list: bool) -> None: ...

    def on_update(self, old: T_contra, new: T_contra) -> None: ...

    def on_delete(self, obj: T_contra) -> None: ...


@dataclass
class FuncHandler(Generic[T]):
    """An EventHandler from optional callables."""

    add: Callable[[T, bool], None] | None = None
    update: Callable[[T, T], None] | None = None
    delete: Callable[[T], None] | None = None

    def on_add(self, obj: T, is_initial_list: bool) -> None:
        if self.add:
            self.add(obj, is_initial_list)

    def on_update(self, old: T, new: T) -> None:
        if self.update:
            self.update(old, new)

    def on_delete(self, obj: T) -> None:
        if self.delete:
            self.delete(obj)


def slim(
    *,
    drop_annotations: tuple[str, ...] = (LAST_APPLIED,),
    keep_annotation_prefixes: tuple[str, ...] | None = None,
    max_annotation_bytes: int = 4096,
) -> Callable[[KubeObject], KubeObject]:
    """A cache transform that drops what a controller does not read.

    Removes the named annotations (kubectl's last-applied copy by default), any annotation whose
    value exceeds `max_annotation_bytes`, and, if `keep_annotation_prefixes` is given, every
    annotation not under one of those prefixes; interns the namespace string, which thousands of
    cached objects share. (managedFields are never decoded in the first place.)
    """

    drop = frozenset(drop_annotations)
    prefixes = keep_annotation_prefixes
    limit = max_annotation_bytes
    intern = sys.intern

    def transform(obj: KubeObject) -> KubeObject:
        meta = obj.metadata
        if meta.namespace:
            meta.namespace = intern(meta.namespace)
        annotations = meta.annotations
        if annotations:
            kept = {
                k: v
                for k, v in annotations.items()
                if k not in drop and len(v) <= limit and (prefixes is None or k.startswith(prefixes))
            }
            if len(kept) != len(annotations):
                meta.annotations = kept or None
        return obj

    return transform


class Informer(Generic[T]):
    """List-watches one resource into `store` and notifies handlers. `await run()` or `start()`."""

    def __init__(
        self,
        transport: Transport,
        res: Resource[T],
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        indexers: dict[str, IndexFunc[T]] | None = None,
        transform: Callable[[T], T] | None = None,
        resync_period: float | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.res = res
        self.store: Store[T] = Store(indexers)
        self.transform = transform
        self.resync_period = resync_period
        self._clock = clock or RealClock()
        self._handlers: list[EventHandler[T]] = []
        self._synced = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.reflector = Reflector(
            transport,
            res,
            self,
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            clock=self._clock,
        )

    def add_event_handler(self, handler: EventHandler[T]) -> None:
        """Register a handler; if already synced, it is first told of every cached object."""
        self._handlers.append(handler)
        if self.has_synced:
            for obj in self.store:
                self._call(handler.on_add, obj, True)

    def add_indexer(self, name: str, fn: IndexFunc[T]) -> None:
        self.store.add_indexer(name, fn)

    @property
    def synced(self) -> asyncio.Event:
        """Set once the first list was stored."""
        return self._synced

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_for_sync(self, within: float | None = None) -> bool:
        """True once the first list was stored; False if `within` seconds passed first."""
        return await self._clock.wait(self._synced, within)

    def _call(self, fn: Callable[..., None], *args: object) -> None:
        try:
            fn(*args)
        except Exception:
            log.exception("event handler failed", extra={"resource": self.res.plural})

    def _prepare(self, obj: T) -> T:
        return self.transform(obj) if self.transform is not None else obj

    # Sink protocol, called by the reflector.
    def replace(self, items: list[T], resource_version: str) -> None:
        initial = not self.has_synced
        items = [self._prepare(o) for o in items]
        old = {object_key(o): o for o in self.store.list()}
        gone = self.store.replace(items)
        self._synced.set()
        for handler in self._handlers:
            for obj in gone:
                self._call(handler.on_delete, obj)
            for obj in items:
                prev = old.get(object_key(obj))
                if prev is None:
                    self._call(handler.on_add, obj, initial)
                else:
                    self._call(handler.on_update, prev, obj)

    def apply(self, event_type: str, obj: T) -> None:
        if event_type == DELETED:
            obj = self._prepare(obj)
            self.store.delete(obj)
            for handler in self._handlers:
                self._call(handler.on_delete, obj)
            return
        if event_type != MODIFIED and event_type != ADDED:
            log.warning("unknown watch event type", extra={"type": event_type, "resource": self.res.plural})
            return
        if self.transform is not None:  # _prepare, inlined: this runs once per watch event
            obj = self.transform(obj)
        prev = self.store.upsert(obj)
        for handler in self._handlers:
            if prev is None:
                self._call(handler.on_add, obj, False)
            else:
                self._call(handler.on_update, prev, obj)

    def resync(self) -> None:
        """Tell every handler of every cached object again, as update(obj, obj)."""
        for handler in self._handlers:
            for obj in self.store:
                self._call(handler.on_update, obj, obj)

    async def _resync_loop(self, period: float) -> None:
        await self.wait_for_sync()
        while True:
            await self._clock.sleep(period * random.uniform(0.9, 1.1))
            self.resync()

    async def run(self) -> None:
        """List-watch until cancelled."""
        if self.resync_period:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self.reflector.run())
                tg.create_task(self._resync_loop(self.resync_period))
        else:
            await self.reflector.run()

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.run(), name=f"informer:{self.res.plural}")
        return self._task

    async def stop(self) -> None:
        """Cancel the list-watch and close its connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
