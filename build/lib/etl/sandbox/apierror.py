"""The Benchmark error envelope: ``{"errors": [{errorType, message, field?, fieldId?}]}``.

Route code raises ``ApiError``; the app turns it into the response. Clients switch on ``errorType``, so the
constructors below are the only place the type names are spelled.
"""

from __future__ import annotations

import re
from typing import Any

from etl.sandbox.http import Response

_OBJECT_ID = re.compile(r"^[0-9a-f]{24}$")


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        field: str | None = None,
        field_id: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.field = field
        self.field_id = field_id
        self.headers = headers or {}

    def response(self) -> Response:
        item: dict[str, Any] = {"errorType": self.error_type, "message": self.message}
        if self.field is not None:
            item["field"] = self.field
        if self.field_id is not None:
            item["fieldId"] = self.field_id
        return Response.json(self.status, {"errors": [item]}, self.headers)


def validation(message: str, *, field: str | None = None, field_id: str | None = None) -> ApiError:
    return ApiError(400, "ValidationError", message, field=field, field_id=field_id)


def concurrency(kind: str, given: int, current: int) -> ApiError:
    return ApiError(
        400, "ConcurrencyError", f"{kind} was modified: __v {given} is stale (current {current})", field="__v"
    )


def duplicate(key: str) -> ApiError:
    return ApiError(
        400,
        "DuplicateFieldError",
        f"A contact with key {key} already exists in this contact structure",
        field="key",
    )


def not_found(kind: str, ident: str) -> ApiError:
    return ApiError(404, "RecordNotFound", f"{kind} {ident} not found")


def forbidden(message: str) -> ApiError:
    return ApiError(403, "ForbiddenError", message)


def unauthorized(message: str = "Invalid API key") -> ApiError:
    return ApiError(401, "UnauthorizedError", message)


# Errors the HTTP layer answers itself (framing, size) or that no route raises on purpose.
_HTTP_ERROR_TYPES = {
    400: "ValidationError",
    404: "RecordNotFound",
    405: "MethodNotAllowedError",
    411: "LengthRequiredError",
    413: "PayloadTooLargeError",
    414: "UriTooLongError",
    415: "UnsupportedMediaTypeError",
    431: "HeadersTooLargeError",
    500: "InternalServerError",
    501: "NotImplementedError",
    505: "HttpVersionNotSupportedError",
}


def http_error(status: int, message: str) -> ApiError:
    """An error of the HTTP layer; ``errorType`` by status (docs/reference/benchmark-api.md names only the API's own)."""
    return ApiError(status, _HTTP_ERROR_TYPES.get(status, "HttpError"), message)


def internal_error(message: str = "Internal server error") -> ApiError:
    return ApiError(500, "InternalServerError", message)


def is_object_id(value: object) -> bool:
    return isinstance(value, str) and bool(_OBJECT_ID.match(value))


def require_object_id(value: object, what: str, *, field: str | None = None) -> str:
    """Malformed ids are a 400 (the caller sent garbage), unknown well-formed ids a 404 (checked later)."""
    if not is_object_id(value):
        raise validation(f"{what} must be a 24-character hexadecimal id", field=field or what)
    assert isinstance(value, str)
    return value
