"""An in-memory API server on aiohttp for unit tests: CRUD, merge patch, paged LIST and WATCH with
resourceVersions, plus fault injection (queued error answers, compaction → 410, closing watches).

It models only what kaito.kube relies on; the e2e tests check the same behaviour on a real one.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def status(code: int, reason: str, message: str = "", **details: Any) -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": code,
        "reason": reason,
        "message": message or reason,
    }
    if details:
        body["details"] = details
    return web.json_response(body, status=code)


@dataclass
class Fault:
    method: str
    code: int
    reason: str
    headers: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    path_contains: str = ""


class FakeApi:
    """Start with `await api.start()`; `api.url` is its base URL."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}  # (plural, ns, name)
        self.log: list[tuple[int, str, str, dict[str, Any]]] = []  # (rv, plural, type, obj)
        self.rv = itertools.count(100)
        self.current_rv = 99
        self.compacted_rv = 0
        self.faults: list[Fault] = []
        self.requests: list[tuple[str, str, dict[str, str], str]] = []  # method, path, query, content type
        self.watch_timeouts: list[int] = []
        self.max_watch_seconds = 3600.0
        self._changed = asyncio.Condition()
        self._close_watches = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.open_watches = 0
        self._watch_transports: set[Any] = set()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self._close_watches.set()
        if self._runner:
            await self._runner.cleanup()

    # --- test controls
    def fail_next(self, method: str, code: int, reason: str, path_contains: str = "", **kw: Any) -> None:
        self.faults.append(Fault(method, code, reason, path_contains=path_contains, **kw))

    def compact(self) -> None:
        """Forget history: watches and lists from an older RV get 410 Expired."""
        self.compacted_rv = self.current_rv

    async def close_watches(self) -> None:
        """End the watches open now (later ones are not affected)."""
        old, self._close_watches = self._close_watches, asyncio.Event()
        old.set()
        await asyncio.sleep(0.05)

    def abort_watches(self) -> None:
        """Cut every open watch connection without ending the HTTP response (a dropped link)."""
        for transport in list(self._watch_transports):
            transport.abort()

    async def put(self, plural: str, obj: dict[str, Any], event: str | None = None) -> dict[str, Any]:
        """Store an object directly (bypassing HTTP), emitting a watch event."""
        meta = obj.setdefault("metadata", {})
        key = (plural, meta.get("namespace", ""), meta["name"])
        meta.setdefault("uid", str(uuid.uuid4()))
        kind = event or ("MODIFIED" if key in self.objects else "ADDED")
        await self._commit(plural, key, obj, kind)
        return obj

    async def remove(self, plural: str, name: str, namespace: str = "") -> None:
        obj = self.objects[(plural, namespace, name)]
        await self._commit(plural, (plural, namespace, name), obj, "DELETED")

    async def watch_error(self, plural: str, code: int, reason: str) -> None:
        """Send an ERROR event carrying a Status down every open watch of `plural`."""
        rv = next(self.rv)
        self.current_rv = rv
        status_obj = {"kind": "Status", "code": code, "reason": reason, "metadata": {}}
        self.log.append((rv, plural, "ERROR", status_obj))
        async with self._changed:
            self._changed.notify_all()

    async def bookmark(self, plural: str) -> None:
        rv = next(self.rv)
        self.current_rv = rv
        self.log.append((rv, plural, "BOOKMARK", {"metadata": {"resourceVersion": str(rv)}}))
        async with self._changed:
            self._changed.notify_all()

    async def _commit(self, plural: str, key: tuple[str, str, str], obj: dict[str, Any], kind: str) -> None:
        rv = next(self.rv)
        self.current_rv = rv
        obj["metadata"]["resourceVersion"] = str(rv)
        if kind == "DELETED":
            self.objects.pop(key, None)
        else:
            self.objects[key] = obj
        self.log.append((rv, plural, kind, copy.deepcopy(obj)))
        async with self._changed:
            self._changed.notify_all()

    # --- HTTP
    @staticmethod
    def parse(path: str) -> tuple[str, str, str, str]:
        parts = path.strip("/").split("/")
        parts = parts[2:] if parts[0] == "api" else parts[3:]
        ns = ""
        if parts and parts[0] == "namespaces" and len(parts) >= 3:
            ns, parts = parts[1], parts[2:]
        plural = parts[0]
        name = parts[1] if len(parts) > 1 else ""
        sub = parts[2] if len(parts) > 2 else ""
        return plural, ns, name, sub

    async def handle(self, request: web.Request) -> web.StreamResponse:
        q = dict(request.query)
        self.requests.append((request.method, request.path, q, request.headers.get("Content-Type", "")))
        for fault in list(self.faults):
            if fault.method == request.method and fault.path_contains in request.path:
                self.faults.remove(fault)
                resp = status(fault.code, fault.reason, **fault.details)
                resp.headers.update(fault.headers)
                return resp
        plural, ns, name, _sub = self.parse(request.path)
        body = await request.read()
        if request.method == "GET" and not name:
            if q.get("watch") == "true":
                return await self.watch(request, plural, ns, q)
            return self.list(plural, ns, q)
        if request.method == "POST":
            return await self.create(plural, ns, json.loads(body))
        key = (plural, ns, name)
        obj = self.objects.get(key)
        if (
            obj is None
            and request.method == "PATCH"
            and "apply-patch" in request.headers.get("Content-Type", "")
        ):
            return await self.create(plural, ns, json.loads(body))  # server-side apply creates
        if obj is None:
            return status(404, "NotFound", f'{plural} "{name}" not found')
        if request.method == "GET":
            return web.json_response(obj)
        if request.method == "PUT":
            new = json.loads(body)
            if new["metadata"].get("resourceVersion") != obj["metadata"]["resourceVersion"]:
                return status(409, "Conflict", "the object has been modified")
            new["metadata"]["uid"] = obj["metadata"]["uid"]
            await self._commit(plural, key, new, "MODIFIED")
            return web.json_response(new)
        if request.method == "PATCH":
            patch = json.loads(body)
            want_rv = patch.get("metadata", {}).get("resourceVersion")
            if want_rv and want_rv != obj["metadata"]["resourceVersion"]:
                return status(409, "Conflict", "the object has been modified")
            new = merge_patch(obj, patch)
            await self._commit(plural, key, new, "MODIFIED")
            return web.json_response(new)
        if request.method == "DELETE":
            pre = json.loads(body or b"{}").get("preconditions", {})
            if pre.get("uid") and pre["uid"] != obj["metadata"]["uid"]:
                return status(409, "Conflict", "Precondition failed: UID")
            if pre.get("resourceVersion") and pre["resourceVersion"] != obj["metadata"]["resourceVersion"]:
                return status(409, "Conflict", "Precondition failed: ResourceVersion")
            await self._commit(plural, key, obj, "DELETED")
            return status(200, "", "deleted")
        return status(405, "MethodNotAllowed")

    async def create(self, plural: str, ns: str, obj: dict[str, Any]) -> web.Response:
        meta = obj.setdefault("metadata", {})
        if ns:
            meta["namespace"] = ns
        if not meta.get("name"):
            return status(
                422,
                "Invalid",
                "name required",
                causes=[{"field": "metadata.name", "message": "Required value"}],
            )
        key = (plural, ns, meta["name"])
        if key in self.objects:
            return status(409, "AlreadyExists", f'{plural} "{meta["name"]}" already exists')
        meta["uid"] = str(uuid.uuid4())
        meta.setdefault("generation", 1)
        await self._commit(plural, key, obj, "ADDED")
        return web.json_response(obj, status=201)

    def _matching(self, plural: str, ns: str, q: dict[str, str]) -> list[dict[str, Any]]:
        sel = dict(s.split("=", 1) for s in q.get("labelSelector", "").split(",") if s)
        out = []
        for (p, ons, _), obj in sorted(self.objects.items()):
            labels = obj["metadata"].get("labels") or {}
            if p == plural and (not ns or ons == ns) and all(labels.get(k) == v for k, v in sel.items()):
                out.append(obj)
        return out

    def list(self, plural: str, ns: str, q: dict[str, str]) -> web.Response:
        rv = q.get("resourceVersion", "")
        if rv not in ("", "0") and int(rv) < self.compacted_rv:
            return status(410, "Expired", "too old resource version")
        items = self._matching(plural, ns, q)
        start = 0
        if q.get("continue"):
            start, token_rv = (int(x) for x in q["continue"].split(":"))
            if token_rv < self.compacted_rv:
                return status(410, "Expired", "The provided continue parameter is too old")
        limit = int(q.get("limit", 0)) or len(items) or 1
        page = items[start : start + limit]
        meta: dict[str, Any] = {"resourceVersion": str(self.current_rv)}
        if start + limit < len(items):
            meta["continue"] = f"{start + limit}:{self.current_rv}"
        return web.json_response({"kind": "List", "metadata": meta, "items": page})

    async def watch(
        self, request: web.Request, plural: str, ns: str, q: dict[str, str]
    ) -> web.StreamResponse:
        since = int(q.get("resourceVersion") or 0)
        timeout = min(int(q.get("timeoutSeconds", 1800)), self.max_watch_seconds)
        self.watch_timeouts.append(int(q.get("timeoutSeconds", 0)))
        resp = web.StreamResponse()
        resp.content_type = "application/json"
        await resp.prepare(request)
        if since < self.compacted_rv:
            err = {
                "type": "ERROR",
                "object": {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old"},
            }
            await resp.write(json.dumps(err).encode() + b"\n")
            return resp
        self.open_watches += 1
        self._watch_transports.add(request.transport)
        closing = self._close_watches
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while not closing.is_set():
                if request.transport is None or request.transport.is_closing():
                    break  # the client went away
                for rv, p, kind, obj in self.log:
                    if (
                        rv > since
                        and p == plural
                        and (not ns or obj["metadata"].get("namespace") in (ns, None))
                    ):
                        if kind == "BOOKMARK" and q.get("allowWatchBookmarks") != "true":
                            continue
                        await resp.write(json.dumps({"type": kind, "object": obj}).encode() + b"\n")
                        since = rv
                since = max(since, self.current_rv)
                left = deadline - loop.time()
                if left <= 0:
                    break
                async with self._changed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), min(left, 0.05))
        except ConnectionResetError:
            pass
        finally:
            self.open_watches -= 1
            self._watch_transports.discard(request.transport)
        return resp
