"""One aiohttp server for /healthz, /readyz and /metrics (controller-runtime pkg/healthz format).

A check is a function returning None when healthy or a reason string. All pass: 200 "ok";
any fails: 500 with "[+]name ok" / "[-]name failed: reason withheld" lines; `?verbose` forces
the lines, `?exclude=name` skips a check. /metrics serves the package's Prometheus registry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import prometheus_client
from aiohttp import web

from kaito.kube.metrics import REGISTRY

log = logging.getLogger(__name__)

Check = Callable[[], str | None]


def ping() -> str | None:
    """Always healthy: the process answers."""
    return None


class HealthServer:
    """Named liveness and readiness checks plus metrics, on one port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8081) -> None:
        self.host, self.port = host, port
        self.liveness: dict[str, Check] = {"ping": ping}
        self.readiness: dict[str, Check] = {"ping": ping}
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()

        async def healthz(request: web.Request) -> web.Response:
            return await self._serve(request, self.liveness)

        async def readyz(request: web.Request) -> web.Response:
            return await self._serve(request, self.readiness)

        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def _serve(self, request: web.Request, checks: dict[str, Check]) -> web.Response:
        excluded = set(request.query.getall("exclude", []))
        lines, failed = [], False
        for name, check in checks.items():
            if name in excluded:
                lines.append(f"[+]{name} excluded: ok")
                continue
            try:
                reason = check()
            except Exception as err:
                log.warning("health check raised", extra={"check": name}, exc_info=True)
                reason = f"{type(err).__name__}"
            if reason is None:
                lines.append(f"[+]{name} ok")
            else:
                failed = True
                lines.append(f"[-]{name} failed: reason withheld")
        path = request.path.lstrip("/")
        if failed:
            return web.Response(status=500, text="\n".join(lines) + f"\n{path} check failed\n")
        if "verbose" in request.query:
            return web.Response(text="\n".join(lines) + f"\n{path} check passed\n")
        return web.Response(text="ok")

    async def _metrics(self, request: web.Request) -> web.Response:
        body = prometheus_client.generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            server = site._server
            assert server is not None
            self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
