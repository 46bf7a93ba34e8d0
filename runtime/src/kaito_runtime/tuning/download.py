"""Downloads the job's input URLs itself: https (http only when allowed), retries, a size cap, sha256.

No shell and no curl: aiohttp streams each URL to ``<name>.part`` and renames it into place when
complete. Redirects are followed by hand so that every hop is held to the same scheme rule
(file:// and other schemes are never fetched). A URL fragment ``#sha256=<hex>`` asks for a checksum
check. The file name is the URL path's last segment with the query dropped, as in KAITO. URLs are
logged without their query string, which may carry a signature or token.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp

from kaito_runtime.tuning.errors import DownloadError
from kaito_runtime.tuning.jsonlog import log_event

log = logging.getLogger("kaito.tuning.download")

_SHA256 = re.compile(r"^sha256=([0-9a-fA-F]{64})$")
_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}
_REDIRECT_STATUS = {301, 302, 303, 307, 308}


@dataclass(frozen=True)
class DownloadPolicy:
    """How inputs are fetched."""

    allow_http: bool = False
    max_bytes: int = 10 * 1024**3
    attempts: int = 3
    backoff_s: float = 2.0
    connect_timeout_s: float = 60.0
    """Longest wait to open a connection (DNS, TCP, TLS)."""
    read_timeout_s: float = 300.0
    """Longest wait for the response headers or for the next piece of the body. There is no limit on
    the whole transfer: a 10 GiB file on a slow but steady link takes as long as it takes."""
    max_redirects: int = 5


@dataclass(frozen=True)
class InputURL:
    """A parsed input URL: where to fetch, the local file name and the expected checksum."""

    url: str
    filename: str
    sha256: str | None

    @property
    def display(self) -> str:
        """The URL for logs and errors: no query, no fragment, no user info."""
        return safe_url(self.url)


def safe_url(url: str) -> str:
    """``scheme://host[:port]/path`` of a URL, dropping what may hold a secret."""
    p = urlsplit(url)
    host = p.hostname or ""
    if p.port:
        host = f"{host}:{p.port}"
    return f"{p.scheme}://{host}{p.path}"


def _check_scheme(url: str, policy: DownloadPolicy) -> None:
    scheme = urlsplit(url).scheme.lower()
    allowed = ("https", "http") if policy.allow_http else ("https",)
    if scheme not in allowed:
        hint = "" if scheme != "http" else " (http needs --allow-http)"
        raise DownloadError(
            f"input URL {safe_url(url)}: scheme {scheme or '(none)'!r} is not allowed; "
            f"allowed: {', '.join(allowed)}{hint}"
        )


def parse_input_url(url: str, policy: DownloadPolicy) -> InputURL:
    """Validates a URL and works out its file name and optional ``#sha256=`` checksum."""
    _check_scheme(url, policy)
    parts = urlsplit(url)
    if not parts.hostname:
        raise DownloadError(f"input URL {safe_url(url)}: has no host")
    sha: str | None = None
    if parts.fragment:
        m = _SHA256.match(parts.fragment)
        if not m:
            raise DownloadError(
                f"input URL {safe_url(url)}: fragment must be 'sha256=<64 hex digits>', "
                f"got {parts.fragment!r}"
            )
        sha = m.group(1).lower()
    name = PurePosixPath(unquote(parts.path)).name
    if not name or name in (".", ".."):
        raise DownloadError(f"input URL {safe_url(url)}: its path has no file name")
    return InputURL(url=parts._replace(fragment="").geturl(), filename=name, sha256=sha)


class _Retryable(Exception):
    pass


async def _fetch_once(
    session: aiohttp.ClientSession, item: InputURL, dest: Path, policy: DownloadPolicy
) -> None:
    url = item.url
    for _ in range(policy.max_redirects + 1):
        _check_scheme(url, policy)
        async with session.get(url, allow_redirects=False) as resp:
            if resp.status in _REDIRECT_STATUS and "Location" in resp.headers:
                url = urljoin(url, resp.headers["Location"])
                continue
            if resp.status in _RETRY_STATUS:
                raise _Retryable(f"HTTP {resp.status}")
            if resp.status != 200:
                raise DownloadError(
                    f"input URL {item.display}: HTTP {resp.status} {resp.reason or ''}".rstrip()
                )
            if resp.content_length is not None and resp.content_length > policy.max_bytes:
                raise DownloadError(
                    f"input URL {item.display}: {resp.content_length} bytes exceeds the limit of "
                    f"{policy.max_bytes} bytes"
                )
            digest = hashlib.sha256()
            size = 0
            part = dest.with_name(dest.name + ".part")
            try:
                with part.open("wb") as f:
                    async for chunk in resp.content.iter_chunked(1 << 20):
                        size += len(chunk)
                        if size > policy.max_bytes:
                            raise DownloadError(
                                f"input URL {item.display}: larger than the limit of {policy.max_bytes} bytes"
                            )
                        digest.update(chunk)
                        f.write(chunk)
            except BaseException:
                part.unlink(missing_ok=True)  # a cut-off body never lingers on the volume
                raise
            if size == 0:
                part.unlink(missing_ok=True)
                raise DownloadError(f"input URL {item.display}: the response body is empty")
            if item.sha256 and digest.hexdigest() != item.sha256:
                part.unlink(missing_ok=True)
                raise DownloadError(
                    f"input URL {item.display}: sha256 mismatch: expected {item.sha256}, "
                    f"got {digest.hexdigest()}"
                )
            os.replace(part, dest)
            log_event(log, "downloaded", url=item.display, file=str(dest), bytes=size)
            return
    raise DownloadError(f"input URL {item.display}: more than {policy.max_redirects} redirects")


def _describe(e: BaseException, policy: DownloadPolicy) -> str:
    """A failed attempt in words: timeouts say which limit ran out."""
    if isinstance(e, aiohttp.SocketTimeoutError):
        return f"no data for {policy.read_timeout_s:g} s (read timeout)"
    if isinstance(e, aiohttp.ConnectionTimeoutError):
        return f"no connection within {policy.connect_timeout_s:g} s (connect timeout)"
    return str(e) or type(e).__name__


async def _fetch(item: InputURL, dest: Path, policy: DownloadPolicy) -> None:
    timeout = aiohttp.ClientTimeout(
        total=None, connect=policy.connect_timeout_s, sock_read=policy.read_timeout_s
    )
    last = ""
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for attempt in range(1, policy.attempts + 1):
            try:
                await _fetch_once(session, item, dest, policy)
                return
            except DownloadError:
                raise
            except (_Retryable, aiohttp.ClientError, TimeoutError) as e:
                last = _describe(e, policy)
                if attempt < policy.attempts:
                    delay = policy.backoff_s * 2 ** (attempt - 1)
                    log_event(
                        log,
                        "download failed; retrying",
                        logging.WARNING,
                        url=item.display,
                        attempt=attempt,
                        error=last,
                        retry_in_s=delay,
                    )
                    await asyncio.sleep(delay)
    raise DownloadError(f"input URL {item.display}: failed after {policy.attempts} attempts: {last}")


def plan_downloads(urls: list[str], dest_dir: Path, policy: DownloadPolicy) -> list[tuple[InputURL, Path]]:
    """Parses every URL (all are checked before any is fetched) and picks unique local file names."""
    items = [parse_input_url(u, policy) for u in urls]
    seen: set[str] = set()
    plan = []
    for i, item in enumerate(items):
        name = item.filename if item.filename not in seen else f"{i}-{item.filename}"
        seen.add(name)
        plan.append((item, dest_dir / name))
    return plan


def download_inputs(urls: list[str], dest_dir: Path, policy: DownloadPolicy) -> list[Path]:
    """Fetches every URL into ``dest_dir`` and returns the local files, in the URLs' order."""
    plan = plan_downloads(urls, dest_dir, policy)
    dest_dir.mkdir(parents=True, exist_ok=True)

    async def run() -> None:
        for item, dest in plan:
            await _fetch(item, dest, policy)

    asyncio.run(run())
    return [dest for _, dest in plan]
