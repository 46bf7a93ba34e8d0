"""JSON responses encoded with msgspec, and OpenAI's error response."""

from __future__ import annotations

import msgspec
from aiohttp import web

from kaito_runtime.inference.errors import APIError


def json_response(body: object, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response encoded with msgspec."""
    return web.Response(
        body=msgspec.json.encode(body), status=status, headers=headers, content_type="application/json"
    )


def error_response(err: APIError) -> web.Response:
    """OpenAI's error body with the error's status and headers."""
    return json_response(err.body(), err.status, err.headers)
