"""An in-process OCI registry with a token server, as Docker Hub, GHCR and ACR authenticate.

Every ``/v2/`` request needs ``Authorization: Bearer <token>`` whose scope grants the action (pull for
GET/HEAD, push for POST/PUT) on the repository; otherwise it answers 401 with ``WWW-Authenticate:
Bearer realm=".../token",service=...,scope=...`` and an empty body. ``/token`` hands out tokens only for
the right Basic credentials, and grants push only on repositories not under ``readonly/``.
Blob uploads are the monolithic POST + PUT flow; blobs are checked against their digest.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

SERVICE = "fake-registry"
_PATH = re.compile(r"^/v2/(?P<repo>.+?)/(?P<kind>blobs/uploads|blobs|manifests)/?(?P<ref>[^/]*)$")


@dataclass
class FakeRegistry:
    """State and knobs of a running fake registry."""

    username: str
    password: str
    port: int = 0
    blobs: dict[str, bytes] = field(default_factory=dict)
    manifests: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    tokens: dict[str, tuple[str, set[str]]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    seen_authorization: list[str] = field(default_factory=list)
    upload_status: int | None = None
    """When set, every blob upload POST (with a valid token) answers this status and an empty body."""

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


def _handler(reg: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _token(self) -> None:
            query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
            reg.token_requests.append(query)
            want = base64.b64encode(f"{reg.username}:{reg.password}".encode()).decode()
            if self.headers.get("Authorization") != f"Basic {want}":
                self._send(401, b'{"details":"incorrect username or password"}')
                return
            scope = query.get("scope", "")
            repo, _, actions = scope.removeprefix("repository:").rpartition(":")
            granted = set(actions.split(",")) - ({"push"} if repo.startswith("readonly/") else set())
            token = uuid.uuid4().hex
            reg.tokens[token] = (repo, granted)
            self._send(200, json.dumps({"token": token, "expires_in": 300}).encode())

        def _authorized(self, repo: str, action: str) -> bool:
            got = self.headers.get("Authorization", "")
            reg.seen_authorization.append(got.split(" ", 1)[0])
            grant = reg.tokens.get(got.removeprefix("Bearer ")) if got.startswith("Bearer ") else None
            if grant is not None and (not repo or (grant[0] == repo and action in grant[1])):
                return True
            scope = (
                f',scope="repository:{repo}:{"pull,push" if action == "push" else "pull"}"' if repo else ""
            )
            realm = f"http://{reg.host}/token"
            self._send(
                401, headers={"WWW-Authenticate": f'Bearer realm="{realm}",service="{SERVICE}"{scope}'}
            )
            return False

        def _handle(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/token":
                self._token()
                return
            if url.path == "/v2/":
                if self._authorized("", "pull"):
                    self._send(200, b"{}")
                return
            m = _PATH.match(url.path)
            if not m:
                self._send(404)
                return
            repo, kind, ref = m["repo"], m["kind"], m["ref"]
            if not self._authorized(repo, "push" if self.command in ("POST", "PUT") else "pull"):
                return
            if kind == "blobs/uploads" and self.command == "POST":
                if reg.upload_status is not None:
                    self._send(reg.upload_status)
                    return
                self._send(202, headers={"Location": f"/v2/{repo}/blobs/uploads/{uuid.uuid4().hex}"})
            elif kind == "blobs/uploads" and self.command == "PUT":
                body, digest = self._body(), parse_qs(url.query)["digest"][0]
                if digest != "sha256:" + hashlib.sha256(body).hexdigest():
                    self._send(400, b'{"errors":[{"code":"DIGEST_INVALID","message":"digest mismatch"}]}')
                    return
                reg.blobs[digest] = body
                self._send(201, headers={"Docker-Content-Digest": digest})
            elif kind == "blobs":
                if ref in reg.blobs:
                    self._send(200, reg.blobs[ref], {"Docker-Content-Digest": ref})
                else:
                    self._send(404)
            elif self.command == "PUT":
                body = self._body()
                digest = "sha256:" + hashlib.sha256(body).hexdigest()
                reg.manifests[ref] = reg.manifests[digest] = (self.headers["Content-Type"], body)
                self._send(201, headers={"Docker-Content-Digest": digest})
            elif ref in reg.manifests:
                media_type, body = reg.manifests[ref]
                self._send(200, body, {"Content-Type": media_type})
            else:
                self._send(404)

        do_GET = do_HEAD = do_POST = do_PUT = _handle

    return Handler


@contextmanager
def running(username: str, password: str) -> Iterator[FakeRegistry]:
    """A fake registry on 127.0.0.1, stopped on exit."""
    reg = FakeRegistry(username, password)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(reg))
    reg.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield reg
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
