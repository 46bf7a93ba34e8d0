"""The aiohttp application: error middleware, request metrics, and the health, metrics and root routes.

Every error leaves as OpenAI's JSON error body, including aiohttp's own (404 route, 405 method, 413
body too large), and is counted in ``kaito_inference_requests{route,status}``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kaito_runtime.inference import kaito_api, openai_api
from kaito_runtime.inference.errors import APIError
from kaito_runtime.inference.responses import error_response, json_response
from kaito_runtime.inference.service import InferenceService

log = logging.getLogger(__name__)

SERVICE_KEY = web.AppKey("service", InferenceService)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CLIENT_CLOSED = 499  # nginx's status for a request whose client went away; recorded in the metrics only


def create_runner(service: InferenceService) -> web.AppRunner:
    """The app runner serving ``service``. Handlers are cancelled when their client disconnects
    (aiohttp does not do that by default), so an abandoned request's sequences leave the batch."""
    return web.AppRunner(create_app(service), access_log=None, handler_cancellation=True)


def create_app(service: InferenceService) -> web.Application:
    """The application serving ``service``; bodies over ``max_body_bytes`` get 413."""
    metrics = service.metrics
    max_body = service.config.max_body_bytes

    @web.middleware
    async def errors_and_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.monotonic()
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except APIError as err:
            status = err.status
            return error_response(err)
        except asyncio.CancelledError:
            status = CLIENT_CLOSED
            raise
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            status = exc.status
            if exc.status == 413:
                api_err = APIError(
                    413, f"request body is larger than {max_body} bytes", code="request_too_large"
                )
            else:
                api_err = APIError(exc.status, f"{request.method} {request.path}: {exc.reason}", code=None)
            return error_response(api_err)
        except Exception as exc:
            log.exception("unhandled error on %s %s", request.method, request.path)
            return error_response(APIError(500, f"internal error: {type(exc).__name__}"))
        finally:
            metrics.requests.labels(route, str(status)).inc()
            metrics.request_latency.labels(route).observe(time.monotonic() - started)

    app = web.Application(client_max_size=max_body, middlewares=[errors_and_metrics])
    app[SERVICE_KEY] = service

    async def root(_: web.Request) -> web.Response:
        return json_response({"message": "Server is running"})

    async def healthz(_: web.Request) -> web.Response:
        if service.healthy:
            return json_response({"status": "Healthy"})
        if service.ready:
            return json_response({"status": "Unhealthy", "detail": "the generate loop has stopped"}, 503)
        return json_response({"status": "Loading", "detail": "model not loaded or warm-up not passed"}, 503)

    async def metrics_route(_: web.Request) -> web.Response:
        if service.engine is not None:
            metrics.queue_depth.set(service.engine.queue_depth())
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/", root)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/health", healthz)
    app.router.add_get("/metrics", metrics_route)
    kaito_api.add_routes(app.router, service)
    openai_api.add_routes(app.router, service)
    return app
