"""One aiohttp session to the API server: requests, watch streams, and errors typed from Status.

Every call carries a timeout (kubernetes-asyncio sends none, so a half-open connection hangs it
forever). A 429, or a 5xx with Retry-After, is retried after the server's Retry-After like
client-go's rest client (at most `max_retries` times); then the typed error is raised.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import msgspec

from kaito.kube.config import Connection
from kaito.kube.errors import ApiError, from_status
from kaito.kube.meta import Status

log = logging.getLogger(__name__)

Params = Mapping[str, str | int | bool | None]
_status_decoder = msgspec.json.Decoder(Status)


def _query(params: Params | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


def error_from_body(code: int, body: bytes, reason: str | None = None) -> ApiError:
    """Decode an error body into a typed ApiError; a non-Status body becomes its message."""
    try:
        status = _status_decoder.decode(body)
    except msgspec.DecodeError:
        status = Status(code=code, message=(body[:500].decode(errors="replace") or reason or ""))
    if status.code is None:
        status = msgspec.structs.replace(status, code=code)
    return from_status(code, status)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


class Transport:
    """The single HTTP session. Use as `async with Transport(conn) as t:` or call `close()`."""

    def __init__(
        self,
        connection: Connection,
        *,
        timeout: float = 30.0,
        max_retries: int = 10,
        user_agent: str = "kaito/0.1",
    ) -> None:
        self.connection = connection
        self.timeout = timeout
        self.max_retries = max_retries
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(ssl=self.connection.ssl_context, limit=100)
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self._user_agent, "Accept": "application/json"}
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> Transport:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _headers(self, content_type: str | None) -> dict[str, str]:
        headers: dict[str, str] = {}
        auth = await self.connection.authorization()
        if auth:
            headers["Authorization"] = auth
        if content_type:
            headers["Content-Type"] = content_type
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        request_timeout: float | None = None,
    ) -> bytes:
        """Send one request and return the response body; raise a typed ApiError on failure."""
        client_timeout = aiohttp.ClientTimeout(total=request_timeout or self.timeout, sock_connect=10)
        attempt = 0
        while True:
            headers = await self._headers(content_type if body is not None else None)
            async with self.session.request(
                method,
                self.connection.host + path,
                params=_query(params),
                data=body,
                headers=headers,
                timeout=client_timeout,
            ) as resp:
                data = await resp.read()
                if resp.status < 400:
                    return data
                wait = _retry_after(resp.headers)
                retriable = resp.status == 429 or (resp.status >= 500 and wait is not None)
                if not retriable or attempt >= self.max_retries:
                    raise error_from_body(resp.status, data, resp.reason)
            attempt += 1
            delay = min(wait if wait is not None else 1.0, 30.0)
            log.info(
                "API server asked to retry",
                extra={"method": method, "path": path, "code": resp.status, "retry_after": delay},
            )
            await asyncio.sleep(delay)

    @asynccontextmanager
    async def stream(
        self, path: str, *, params: Params | None = None, read_timeout: float
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Open a streaming GET (a watch). No total timeout; `read_timeout` bounds each read."""
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=read_timeout)
        headers = await self._headers(None)
        async with self.session.get(
            self.connection.host + path, params=_query(params), headers=headers, timeout=timeout
        ) as resp:
            if resp.status >= 400:
                raise error_from_body(resp.status, await resp.read(), resp.reason)
            yield resp

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """A request whose JSON answer is returned untyped (for rare, small responses)."""
        return msgspec.json.decode(await self.request(method, path, **kwargs))
