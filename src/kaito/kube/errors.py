"""Typed API errors, built from the API server's Status body (mirrors apimachinery pkg/api/errors).

`from_status` maps an HTTP status code and a decoded `Status` to the most specific class, so callers
write `except NotFound:` instead of comparing codes. `is_expired` is the reflector's 410 test.
"""

from __future__ import annotations

from kaito.kube.meta import Status, StatusCause


class ApiError(Exception):
    """An error answer from the API server; `status` is its Status body, `code` the HTTP status."""

    def __init__(self, code: int, status: Status) -> None:
        self.code = code
        self.status = status
        self.reason = status.reason or ""
        super().__init__(f"{code} {self.reason or 'Error'}: {status.message or ''}".rstrip(": "))


class BadRequest(ApiError):
    """400: the request was malformed."""


class Unauthorized(ApiError):
    """401: the credentials were missing or rejected."""


class Forbidden(ApiError):
    """403: the caller may not do this (RBAC)."""


class NotFound(ApiError):
    """404: the object (or its namespace, or the resource type) does not exist."""


class MethodNotAllowed(ApiError):
    """405: the verb is not supported on this resource."""


class Conflict(ApiError):
    """409: the object changed since it was read (resourceVersion or UID precondition failed)."""


class AlreadyExists(ApiError):
    """409 with reason AlreadyExists: a create named an object that exists."""


class Gone(ApiError):
    """410 (reason Gone or Expired): the resourceVersion or continue token is too old; relist."""


class UnsupportedMediaType(ApiError):
    """415: the patch content type is not supported for this resource."""


class Invalid(ApiError):
    """422: the object failed validation; `causes` names each offending field and why."""

    @property
    def causes(self) -> list[StatusCause]:
        details = self.status.details
        return list(details.causes or []) if details else []

    def __str__(self) -> str:
        fields = "; ".join(f"{c.field}: {c.message}" for c in self.causes if c.field)
        return f"{super().__str__()} [{fields}]" if fields else super().__str__()


class TooManyRequests(ApiError):
    """429: throttled by API Priority and Fairness; `retry_after` is the server's hint in seconds."""

    @property
    def retry_after(self) -> float:
        details = self.status.details
        if details and details.retry_after_seconds:
            return float(details.retry_after_seconds)
        return 1.0


class ServerError(ApiError):
    """5xx: the API server (or etcd behind it) failed; usually worth a retry."""


_BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    415: UnsupportedMediaType,
    422: Invalid,
    429: TooManyRequests,
}


def from_status(code: int, status: Status) -> ApiError:
    """The most specific ApiError for an HTTP code and Status body (the body's code wins if set)."""
    code = status.code or code
    if code == 409 and status.reason == "AlreadyExists":
        return AlreadyExists(code, status)
    if status.reason in ("Expired", "Gone"):
        return Gone(code, status)
    if code >= 500:
        return ServerError(code, status)
    return _BY_CODE.get(code, ApiError)(code, status)


def is_expired(err: BaseException) -> bool:
    """True for 410 Gone/Expired and for "too large resource version": the reflector must relist."""
    if isinstance(err, Gone):
        return True
    if isinstance(err, ApiError) and err.code in (504, 500):
        details = err.status.details
        causes = details.causes if details and details.causes else []
        if any(c.reason == "ResourceVersionTooLarge" for c in causes):
            return True
        return "Too large resource version" in (err.status.message or "")
    return False
