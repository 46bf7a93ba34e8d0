"""Errors a request can meet, rendered as OpenAI's error body: {"error": {message, type, param, code}}."""

from __future__ import annotations

from typing import Any

import msgspec


class APIError(Exception):
    """An error answered to the client with an HTTP status and OpenAI's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        err_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.err_type = err_type or _default_type(status)
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body OpenAI clients parse into their error classes."""
        return {
            "error": {"message": self.message, "type": self.err_type, "param": self.param, "code": self.code}
        }


def _default_type(status: int) -> str:
    if status == 429:
        return "rate_limit_error"
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def invalid(param: str | None, message: str) -> APIError:
    """A 400 naming the offending field."""
    text = f"{param}: {message}" if param else message
    return APIError(400, text, param=param, code="invalid_value")


def from_msgspec(exc: msgspec.DecodeError) -> APIError:
    """Turns msgspec's decode or validation error into a 400 naming the field path it reports."""
    text = str(exc)
    param = None
    marker = " - at `$."
    if marker in text:
        param = text.rsplit(marker, 1)[1].rstrip("`")
    if isinstance(exc, msgspec.ValidationError):
        return APIError(400, f"invalid request body: {text}", param=param, code="invalid_type")
    return APIError(400, f"malformed JSON body: {text}", code="invalid_json")
