"""Every error leaves the API as JSON ``{"error": {"code", "message"[, "param"]}}``.

Exception handlers map our own :class:`ApiError`, Litestar's HTTP exceptions (unknown route,
wrong method, ...) and anything unexpected (logged, then 503) — the API never answers 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.types import ExceptionHandlersMap

from serving.core.methods import sorted_allow
from serving.core.schemas import ErrorBody, ErrorDetail

log = logging.getLogger("serving")

RETRY_AFTER_SEC = 5
"""``Retry-After`` sent with every 503."""

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "too_many_requests",
}


class ApiError(Exception):
    """An error response with a stable ``code`` (raise it from handlers, guards, deps)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.headers = dict(headers or {})


def unavailable(code: str, message: str) -> ApiError:
    """A 503 with ``Retry-After``."""
    return ApiError(503, code, message, headers={"Retry-After": str(RETRY_AFTER_SEC)})


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response[bytes]:
    """The JSON error response (never cached)."""
    body = msgspec.json.encode(ErrorBody(ErrorDetail(code=code, message=message, param=param)))
    return Response(
        body,
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def api_error_response(_: Request, exc: ApiError) -> Response[bytes]:
    """The response of an :class:`ApiError` (its exception handler; domains map theirs to it)."""
    return error_response(exc.status, exc.code, exc.message, param=exc.param, headers=exc.headers)


def _http_exception(request: Request, exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if status >= 500:
        return _unexpected(request, exc)
    code = _HTTP_CODES.get(status, "bad_request")
    message = exc.detail if isinstance(exc.detail, str) and exc.detail else code
    # Allow (405) in a fixed order, whatever order the router registered the methods in.
    allow = next((v for k, v in (exc.headers or {}).items() if k.lower() == "allow"), None)
    headers = {"Allow": sorted_allow(allow)} if allow else {}
    return error_response(status, code, message, headers=headers)


def _unexpected(request: Request, exc: Exception) -> Response[bytes]:
    log.error(
        "unhandled error on %s %s",
        request.method,
        request.url.path,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    error = unavailable("internal_error", "the server could not answer; retry shortly")
    return api_error_response(request, error)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    ApiError: api_error_response,
    HTTPException: _http_exception,
    Exception: _unexpected,
}
"""Pass to ``Litestar(exception_handlers=...)`` (with the domains' own)."""
