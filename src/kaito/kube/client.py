"""Typed reads and writes against the API server (controller-runtime's client, uncached).

Reads decode into the Resource's msgspec Struct. Writes take a Struct or a plain dict and send
exactly what they are given, so that a patch or server-side apply body carries only the fields
this code owns and every other controller's fields survive. `update` (PUT) is for fully modelled
types only (a Lease); a partially decoded object must never be PUT back.
"""

from __future__ import annotations

import asyncio
import enum
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec

from kaito.kube.errors import Conflict
from kaito.kube.resource import KubeObject, ObjectList, Resource
from kaito.kube.transport import Transport

T = TypeVar("T", bound=KubeObject)
R = TypeVar("R")

_encoder = msgspec.json.Encoder()


class PatchType(enum.Enum):
    """Patch content types; strategic merge is left out (CRDs do not support it)."""

    MERGE = "application/merge-patch+json"
    JSON = "application/json-patch+json"
    APPLY = "application/apply-patch+yaml"


def _body(obj: Any) -> bytes:
    return obj if isinstance(obj, bytes) else _encoder.encode(obj)


def _namespace_of(obj: Any) -> str | None:
    if isinstance(obj, dict):
        ns = obj.get("metadata", {}).get("namespace")
        return ns if isinstance(ns, str) else None
    meta = getattr(obj, "metadata", None)
    return getattr(meta, "namespace", None)


def _name_of(obj: Any) -> str:
    name = obj.get("metadata", {}).get("name") if isinstance(obj, dict) else obj.metadata.name
    if not name:
        raise ValueError("metadata.name: required")
    return str(name)


class Client:
    """Async CRUD, patch and apply; `field_manager` is stamped on every write."""

    def __init__(self, transport: Transport, *, field_manager: str = "kaito") -> None:
        self.transport = transport
        self.field_manager = field_manager

    async def get(
        self,
        res: Resource[T],
        name: str,
        namespace: str | None = None,
        *,
        request_timeout: float | None = None,
    ) -> T:
        path = res.path(namespace if res.namespaced else None, name)
        return res.decoder.decode(await self.transport.request("GET", path, request_timeout=request_timeout))

    async def list_page(
        self,
        res: Resource[T],
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int | None = 500,
        continue_token: str | None = None,
        resource_version: str | None = None,
        request_timeout: float | None = None,
    ) -> ObjectList[T]:
        """One LIST page; follow `.metadata.continue_` for the next."""
        params = {
            "labelSelector": label_selector,
            "fieldSelector": field_selector,
            "limit": limit or None,
            "continue": continue_token,
            "resourceVersion": resource_version if not continue_token else None,
        }
        body = await self.transport.request(
            "GET", res.path(namespace), params=params, request_timeout=request_timeout
        )
        return res.list_decoder.decode(body)

    async def list(
        self,
        res: Resource[T],
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        limit: int = 500,
    ) -> list[T]:
        """Every matching object, fetched in pages of `limit` (a quorum read)."""
        items: list[T] = []
        token: str | None = None
        while True:
            page = await self.list_page(
                res,
                namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                limit=limit,
                continue_token=token,
            )
            items.extend(page.items or [])
            token = page.metadata.continue_
            if not token:
                return items

    def _write_params(self, dry_run: bool, field_manager: str | None = None) -> dict[str, str | None]:
        return {"fieldManager": field_manager or self.field_manager, "dryRun": "All" if dry_run else None}

    async def create(
        self,
        res: Resource[T],
        obj: Any,
        namespace: str | None = None,
        *,
        dry_run: bool = False,
        request_timeout: float | None = None,
    ) -> T:
        ns = namespace or _namespace_of(obj)
        body = await self.transport.request(
            "POST",
            res.path(ns if res.namespaced else None),
            params=self._write_params(dry_run),
            body=_body(obj),
            content_type="application/json",
            request_timeout=request_timeout,
        )
        return res.decoder.decode(body)

    async def update(
        self,
        res: Resource[T],
        obj: Any,
        *,
        subresource: str = "",
        dry_run: bool = False,
        request_timeout: float | None = None,
    ) -> T:
        """PUT the whole object (its resourceVersion makes a stale write a Conflict)."""
        path = res.path(_namespace_of(obj) if res.namespaced else None, _name_of(obj), subresource)
        body = await self.transport.request(
            "PUT",
            path,
            params=self._write_params(dry_run),
            body=_body(obj),
            content_type="application/json",
            request_timeout=request_timeout,
        )
        return res.decoder.decode(body)

    async def update_status(self, res: Resource[T], obj: Any) -> T:
        return await self.update(res, obj, subresource="status")

    async def patch(
        self,
        res: Resource[T],
        name: str,
        body: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = PatchType.MERGE,
        subresource: str = "",
        field_manager: str | None = None,
        force: bool = False,
        dry_run: bool = False,
    ) -> T:
        """A merge, JSON or apply patch. Put metadata.resourceVersion in a merge patch to get a
        Conflict when the object changed (controller-runtime's MergeFromWithOptimisticLock)."""
        params: dict[str, str | None] = self._write_params(dry_run, field_manager)
        if patch_type is PatchType.APPLY:
            params["force"] = "true" if force else None
        elif force:
            raise ValueError("force: only meaningful for server-side apply")
        data = await self.transport.request(
            "PATCH",
            res.path(namespace if res.namespaced else None, name, subresource),
            params=params,
            body=_body(body),
            content_type=patch_type.value,
        )
        return res.decoder.decode(data)

    async def apply(
        self,
        res: Resource[T],
        body: Any,
        *,
        field_manager: str | None = None,
        force: bool = True,
        subresource: str = "",
    ) -> T:
        """Server-side apply: `body` (with apiVersion, kind, metadata.name) holds the fields we own."""
        if isinstance(body, dict):
            body = {"apiVersion": res.api_version, "kind": res.kind, **body}
        return await self.patch(
            res,
            _name_of(body),
            body,
            namespace=_namespace_of(body),
            patch_type=PatchType.APPLY,
            subresource=subresource,
            field_manager=field_manager,
            force=force,
        )

    async def delete(
        self,
        res: Resource[T],
        name: str,
        namespace: str | None = None,
        *,
        uid: str | None = None,
        resource_version: str | None = None,
        propagation_policy: str | None = None,
        grace_period_seconds: int | None = None,
    ) -> None:
        """Delete, optionally only if the UID / resourceVersion still match (else Conflict)."""
        if propagation_policy not in (None, "Foreground", "Background", "Orphan"):
            raise ValueError(
                f"propagation_policy: must be Foreground, Background or Orphan, got {propagation_policy!r}"
            )
        options: dict[str, Any] = {"apiVersion": "v1", "kind": "DeleteOptions"}
        preconditions = {k: v for k, v in (("uid", uid), ("resourceVersion", resource_version)) if v}
        if preconditions:
            options["preconditions"] = preconditions
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        await self.transport.request(
            "DELETE",
            res.path(namespace if res.namespaced else None, name),
            body=_body(options),
            content_type="application/json",
        )


async def retry_on_conflict(
    fn: Callable[[], Awaitable[R]], *, steps: int = 5, delay: float = 0.01, jitter: float = 0.1
) -> R:
    """Run `fn` again (it must re-read the object) while it raises Conflict: client-go's
    RetryOnConflict with DefaultRetry (5 steps, 10 ms, jitter 0.1). The last Conflict propagates."""
    for attempt in range(steps):
        try:
            return await fn()
        except Conflict:
            if attempt == steps - 1:
                raise
            await asyncio.sleep(delay * (1 + random.random() * jitter))
    raise AssertionError("unreachable")
