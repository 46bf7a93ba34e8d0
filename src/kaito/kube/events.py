"""Kubernetes Events for objects, with repeats aggregated into one Event's count
(client-go tools/record: EventRecorder + EventCorrelator's dedup by reason/message).

`recorder.normal(obj, reason, message)` / `.warning(...)` never block and never raise: events are
queued and written by a background task (`run()`, started by the manager). A repeat of the same
(object, type, reason, message) patches count and lastTimestamp of the Event already written.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from datetime import UTC, datetime
from typing import Any

import msgspec

from kaito.kube.client import Client, PatchType
from kaito.kube.errors import NotFound
from kaito.kube.meta import ObjectMeta
from kaito.kube.resource import KubeObject, Resource

log = logging.getLogger(__name__)

NORMAL, WARNING = "Normal", "Warning"
_MAX_MESSAGE = 1024


class ObjectReference(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """What an Event is about."""

    api_version: str | None = None
    kind: str | None = None
    name: str | None = None
    namespace: str | None = None
    uid: str | None = None


class EventSource(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """Who reported the Event."""

    component: str | None = None
    host: str | None = None


class Event(msgspec.Struct, kw_only=True, omit_defaults=True, rename="camel", gc=False):
    """core/v1 Event (the fields the recorder writes and reads)."""

    api_version: str = "v1"
    kind: str = "Event"
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    involved_object: ObjectReference = msgspec.field(default_factory=ObjectReference)
    reason: str | None = None
    message: str | None = None
    type: str | None = None
    count: int | None = None
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    source: EventSource | None = None
    reporting_component: str | None = None
    reporting_instance: str | None = None


EVENTS: Resource[Event] = Resource("", "v1", "events", "Event", True, Event)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class EventRecorder:
    """Records Events for objects of known kinds; `kind`/`api_version` come from the object or args."""

    def __init__(
        self, client: Client, component: str, *, host: str | None = None, cache_size: int = 4096
    ) -> None:
        self.client, self.component = client, component
        self.host = host or socket.gethostname()
        self._queue: asyncio.Queue[tuple[ObjectReference, str, str, str] | None] = asyncio.Queue(
            maxsize=10000
        )
        self._seen: dict[tuple[str, ...], tuple[str, str, int]] = {}  # key → (namespace, name, count)
        self._cache_size = cache_size
        self.dropped = 0

    def _ref(self, obj: KubeObject, kind: str | None, api_version: str | None) -> ObjectReference:
        meta = obj.metadata
        return ObjectReference(
            api_version=api_version or getattr(obj, "api_version", None),
            kind=kind or getattr(obj, "kind", None) or type(obj).__name__,
            name=meta.name,
            namespace=meta.namespace,
            uid=meta.uid,
        )

    def event(
        self,
        obj: KubeObject,
        type_: str,
        reason: str,
        message: str,
        *,
        kind: str | None = None,
        api_version: str | None = None,
    ) -> None:
        if type_ not in (NORMAL, WARNING):
            raise ValueError(f"type: must be Normal or Warning, got {type_!r}")
        if not reason:
            raise ValueError("reason: must not be empty")
        try:
            self._queue.put_nowait((self._ref(obj, kind, api_version), type_, reason, message[:_MAX_MESSAGE]))
        except asyncio.QueueFull:
            self.dropped += 1

    def normal(self, obj: KubeObject, reason: str, message: str, **kw: Any) -> None:
        self.event(obj, NORMAL, reason, message, **kw)

    def warning(self, obj: KubeObject, reason: str, message: str, **kw: Any) -> None:
        self.event(obj, WARNING, reason, message, **kw)

    async def write(self, ref: ObjectReference, type_: str, reason: str, message: str) -> Event:
        """Write one event now: a new Event, or count+1 on the one already written for a repeat."""
        key = (ref.uid or "", ref.kind or "", ref.namespace or "", ref.name or "", type_, reason, message)
        now = _now()
        seen = self._seen.get(key)
        if seen is not None:
            ns, name, count = seen
            patch = {"count": count + 1, "lastTimestamp": now}
            try:
                event = await self.client.patch(EVENTS, name, patch, namespace=ns, patch_type=PatchType.MERGE)
                self._seen[key] = (ns, name, count + 1)
                return event
            except NotFound:
                del self._seen[key]
        ns = ref.namespace or "default"
        body = Event(
            metadata=ObjectMeta(name=f"{ref.name}.{time.time_ns():x}", namespace=ns),
            involved_object=ref,
            reason=reason,
            message=message,
            type=type_,
            count=1,
            first_timestamp=now,
            last_timestamp=now,
            source=EventSource(component=self.component, host=self.host),
            reporting_component=self.component,
            reporting_instance=self.host,
        )
        event = await self.client.create(EVENTS, body)
        if len(self._seen) >= self._cache_size:
            self._seen.pop(next(iter(self._seen)))
        self._seen[key] = (ns, event.metadata.name, 1)
        return event

    async def flush(self) -> None:
        """Write everything queued so far."""
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                await self._write_logged(*item)

    async def _write_logged(self, ref: ObjectReference, type_: str, reason: str, message: str) -> None:
        try:
            await self.write(ref, type_, reason, message)
        except Exception as err:  # any failure loses this event only, never the writer
            log.warning(
                "could not write event",
                extra={"reason": reason, "object": ref.name, "error": f"{type(err).__name__}: {err}"},
            )

    async def run(self) -> None:
        """Write queued events until `close()`."""
        while True:
            item = await self._queue.get()
            if item is None:
                return
            await self._write_logged(*item)

    def close(self) -> None:
        """Ask `run()` to return once the events queued before this call are written."""
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:
            self.dropped += 1  # the writer is far behind; run() is cancelled by the manager anyway
