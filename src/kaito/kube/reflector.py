"""List-then-watch loop that keeps a sink in step with the API server (client-go reflector.go).

- LIST with resourceVersion=0 in pages of 500 following `continue`; an expired continue token
  restarts as one full list; the sink gets `replace(items, rv)`.
- WATCH from the list's RV with allowWatchBookmarks and timeoutSeconds drawn from [300, 600);
  every event (bookmarks too) advances the RV; a normal close re-watches without relisting.
- 410 Gone/Expired (HTTP or ERROR event) relists from the last RV; a LIST that is itself expired
  makes the next list a quorum read (RV ""). Other errors relist after a backoff of 0.8 s doubling
  to 30 s, jittered, reset after 2 min. 429 and refused connections re-watch without a relist.
- A watch that ends in under 1 s with no events counts as an error (no hot loop). A stream cut
  mid-way, or silent past the read timeout (timeoutSeconds + 30 s: a half-open connection), ends
  like a normal close and re-watches from the last RV, as client-go's StreamWatcher does.
"""

from __future__ import annotations

import asyncio
import logging
import random
from contextlib import aclosing
from typing import Generic, Protocol, TypeVar

import aiohttp

from kaito.kube import watch as watchmod
from kaito.kube.backoff import Backoff
from kaito.kube.client import Client
from kaito.kube.clock import Clock, RealClock
from kaito.kube.errors import Gone, TooManyRequests, is_expired
from kaito.kube.resource import KubeObject, Resource
from kaito.kube.transport import Transport

T = TypeVar("T", bound=KubeObject)
T_contra = TypeVar("T_contra", bound=KubeObject, contravariant=True)
log = logging.getLogger(__name__)

MIN_WATCH_TIMEOUT = 300


class Sink(Protocol[T_contra]):  # type: ignore[misc]
    """Where the reflector delivers what it sees (the informer)."""

    def replace(self, items: list[T_contra], resource_version: str) -> None: ...

    def apply(self, event_type: str, obj: T_contra) -> None: ...


_STREAM_ERRORS = (
    aiohttp.ClientPayloadError,
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientOSError,
    TimeoutError,
)


class ShortWatchError(Exception):
    """The watch closed in under a second without a single event."""


class Reflector(Generic[T]):
    """Keeps `sink` in step with one resource (optionally one namespace / selector)."""

    def __init__(
        self,
        transport: Transport,
        res: Resource[T],
        sink: Sink[T],
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.res, self.sink = res, sink
        self.namespace, self.label_selector, self.field_selector = namespace, label_selector, field_selector
        self.page_size = page_size
        self._transport = transport
        self._client = Client(transport)
        self._clock = clock or RealClock()
        self._backoff = backoff or Backoff(clock=self._clock)
        self.last_rv = ""
        self._rv_unavailable = False
        self.lists = 0  # completed LISTs, for tests and logs
        self.watches = 0  # watch requests opened
        self.expired = 0  # 410 Gone/Expired answers seen (HTTP or in-stream)

    def _relist_rv(self) -> str:
        if self._rv_unavailable:
            return ""
        return self.last_rv or "0"

    async def _list(self) -> None:
        rv = self._relist_rv()
        # Paging only when served from the watch cache ("0") or a quorum read (""), like client-go.
        limit = self.page_size if rv in ("", "0") else None
        items: list[T] = []
        token: str | None = None
        try:
            while True:
                try:
                    page = await self._client.list_page(
                        self.res,
                        self.namespace,
                        label_selector=self.label_selector,
                        field_selector=self.field_selector,
                        limit=limit,
                        continue_token=token,
                        resource_version=rv,
                        request_timeout=60.0,
                    )
                except Gone:
                    if token is None:
                        raise
                    log.info("continue token expired; listing in full", extra={"resource": self.res.plural})
                    items, token, limit = [], None, None
                    continue
                items.extend(page.items or [])
                token = page.metadata.continue_
                if not token:
                    break
        except Exception as err:
            if is_expired(err):
                self._rv_unavailable = True
            raise
        self._rv_unavailable = False
        self.last_rv = page.metadata.resource_version or ""
        self.lists += 1
        self.sink.replace(items, self.last_rv)

    async def _watch_once(self) -> None:
        timeout = random.randint(MIN_WATCH_TIMEOUT, 2 * MIN_WATCH_TIMEOUT - 1)
        started, count = self._clock.now(), 0
        opened = False

        def mark_open() -> None:
            nonlocal opened
            opened = True

        self.watches += 1
        events = watchmod.watch(
            self._transport,
            self.res,
            resource_version=self.last_rv,
            timeout_seconds=timeout,
            namespace=self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
            on_open=mark_open,
        )
        try:
            async with aclosing(events):
                async for event in events:
                    count += 1
                    if event.object is not None:
                        self.sink.apply(event.type, event.object)
                    if event.resource_version:
                        self.last_rv = event.resource_version
        except _STREAM_ERRORS as err:
            if not opened:
                raise
            # Like client-go's StreamWatcher: a stream cut mid-way (unexpected EOF, the server
            # going away, our read timeout on a silent half-open connection) ends the watch as
            # a normal close; the next watch resumes from the last resourceVersion.
            log.info(
                "watch stream ended",
                extra={"resource": self.res.plural, "error": f"{type(err).__name__}: {err}", "events": count},
            )
        if count == 0 and self._clock.now() - started < 1.0:
            raise ShortWatchError(f"watch of {self.res.plural} closed in under 1 s with no events")

    async def _list_and_watch(self) -> None:
        await self._list()
        while True:
            try:
                await self._watch_once()
            except (TooManyRequests, aiohttp.ClientConnectorError) as err:
                # The server is there (or coming back) and our RV is still good: re-watch.
                delay = self._backoff.next()
                log.info(
                    "watch refused; re-watching",
                    extra={"resource": self.res.plural, "error": str(err), "delay": round(delay, 2)},
                )
                await self._clock.sleep(delay)

    async def run(self) -> None:
        """Run until cancelled; never returns on its own and never raises but CancelledError."""
        while True:
            try:
                await self._list_and_watch()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                if is_expired(err):
                    self.expired += 1
                    log.info("resourceVersion expired; relisting", extra={"resource": self.res.plural})
                else:
                    log.warning(
                        "list/watch failed",
                        extra={"resource": self.res.plural, "error": f"{type(err).__name__}: {err}"},
                    )
            await self._clock.sleep(self._backoff.next())
