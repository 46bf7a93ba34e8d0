"""The oras client the adapter push uses: registry auth by challenge scheme and failures in plain words.

A registry answers an unauthenticated request with ``401`` and a ``WWW-Authenticate`` challenge.
``Basic`` (a registry with htpasswd) is answered with the push secret's credentials. ``Bearer
realm=...,service=...,scope=...`` (Docker Hub, GHCR, ACR, distribution with a token server) is
answered by fetching a token from the realm with those credentials (anonymously without a secret)
and sending it; tokens are kept per challenge, so a pull-scoped token never stands in for a push.
Credentials come only from the push secret, never from ~/.docker/config.json or a credential helper,
and every token is registered for log redaction. Imported lazily: oras and requests load only when
an adapter is pushed or pulled.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import oras.auth
import oras.auth.utils
import oras.provider
import requests

from kaito_runtime.tuning.jsonlog import register_secret

TOKEN_TIMEOUT_S = 60.0


class RegistryAuthError(oras.auth.AuthenticationException):  # type: ignore[misc]
    """Authentication with the registry failed; the message says where and why, never a secret.

    An ``AuthenticationException`` so that oras gives up on the request at once instead of retrying.
    """


def describe_response(resp: requests.Response) -> str:
    """``HTTP <status> <reason> to <METHOD> <url without query>`` plus the registry's OCI error codes."""
    parts = urlsplit(resp.url or "")
    what = f"HTTP {resp.status_code} {resp.reason or ''}".rstrip()
    method = resp.request.method if resp.request is not None else "request"
    text = f"{what} to {method} {parts.scheme}://{parts.netloc}{parts.path}"
    try:
        errors = resp.json().get("errors") or []
        details = "; ".join(f"{e.get('code', '?')}: {e.get('message', '')}" for e in errors[:3])
    except (ValueError, AttributeError):  # no JSON, or JSON of another shape
        details = ""
    return f"{text} ({details[:300]})" if details else text


class ChallengeAuth(oras.auth.TokenAuth):  # type: ignore[misc]
    """An oras auth backend that answers each challenge by its scheme: Basic or Bearer token."""

    def __init__(self, basic: str | None, *, allow_http_realm: bool) -> None:
        super().__init__()
        self._basic_auth = basic
        self._allow_http_realm = allow_http_realm
        self._tokens: dict[tuple[str, str, str], str] = {}

    def load_configs(self, container: Any, configs: list[str] | None = None) -> None:
        """Does nothing: the push secret is the only source of credentials."""

    def authenticate_request(
        self, original: requests.Response, headers: dict[str, str] | None, refresh: bool = False
    ) -> tuple[dict[str, str], bool]:
        """Headers that answer ``original``'s challenge; ``refresh`` (after a 403) fetches a new token."""
        headers = dict(headers or {})
        challenge = original.headers.get("WWW-Authenticate", "")
        scheme = challenge.split(" ", 1)[0].lower()
        if scheme == "bearer":
            h = oras.auth.utils.parse_auth_header(challenge)
            key = (h.realm or "", h.service or "", h.scope or "")
            if refresh:
                self._tokens.pop(key, None)
            token = self._tokens.get(key) or self._fetch_token(key)
            self._tokens[key] = self.token = token
            headers["Authorization"] = f"Bearer {token}"
            return headers, True
        if scheme == "basic" and self._basic_auth and not refresh:
            headers["Authorization"] = f"Basic {self._basic_auth}"
            return headers, True
        if scheme == "basic" and not self._basic_auth:
            raise RegistryAuthError(
                f"registry asks for a login ({describe_response(original)}) and no push secret was given"
            )
        raise RegistryAuthError(f"registry refused: {describe_response(original)}")

    def _fetch_token(self, key: tuple[str, str, str]) -> str:
        realm, service, scope = key
        where = f"token endpoint {realm or '(none)'}"
        if urlsplit(realm).scheme not in ("http", "https"):
            raise RegistryAuthError(f"{where}: the Bearer challenge has no http(s) realm")
        if urlsplit(realm).scheme == "http" and self._basic_auth and not self._allow_http_realm:
            raise RegistryAuthError(
                f"{where}: plain http; credentials are only sent there for an insecure registry"
            )
        params = {k: v for k, v in (("service", service), ("scope", scope)) if v}
        login = {"Authorization": f"Basic {self._basic_auth}"} if self._basic_auth else {}
        try:
            resp = self.session.get(
                realm, params=params, headers=login, verify=self._tls_verify, timeout=TOKEN_TIMEOUT_S
            )
        except requests.RequestException as e:
            raise RegistryAuthError(f"{where}: {type(e).__name__}") from None
        if resp.status_code != 200:
            hint = " (check the push secret's username and password)" if resp.status_code == 401 else ""
            raise RegistryAuthError(f"{where}: {describe_response(resp)}{hint}")
        try:
            body = resp.json()
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryAuthError(f"{where}: answered HTTP 200 without a token")
        register_secret(token)
        return token


class Client(oras.provider.Registry):  # type: ignore[misc]
    """An oras registry client with ``ChallengeAuth`` that remembers the last HTTP response.

    oras's own per-request retry (5 tries, sleeping up to 83 s: about 2 minutes per failing request)
    is left out; the job retries whole pushes with its configured attempts and backoff.
    """

    do_request = oras.provider.Registry.do_request.__wrapped__

    def __init__(self, registry: str, basic: str | None, *, insecure: bool) -> None:
        super().__init__(hostname=registry, insecure=insecure)
        auth = ChallengeAuth(basic, allow_http_realm=insecure)
        auth.session, auth.prefix, auth._tls_verify = self.session, self.prefix, self._tls_verify
        self.auth = auth
        self.last_response: requests.Response | None = None
        self.session.hooks["response"].append(self._remember)

    def _remember(self, resp: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.last_response = resp

    def explain(self, e: Exception) -> str:
        """Why a push or pull failed, naming the registry's HTTP answer where there was one."""
        if isinstance(e, RegistryAuthError):
            return str(e)
        if isinstance(e, (requests.ConnectionError, requests.Timeout)):  # no answer: refused, reset, TLS
            return f"{type(e).__name__}: {e}"
        last = self.last_response
        if last is not None and last.status_code >= 400:
            return f"registry answered {describe_response(last)}"
        if isinstance(e, ValueError) and "Expecting value" in str(e):  # oras read a body as JSON
            return "registry answered with a body that is not JSON where oras expected JSON"
        return f"{type(e).__name__}: {e}"
