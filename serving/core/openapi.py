"""OpenAPI: the document at ``/schema/openapi.json``, its security scheme, error responses."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.openapi.spec import Components, Operation, Parameter, RequestBody
from litestar.openapi.spec import SecurityScheme as SecuritySchemeSpec

from serving.core.schemas import ErrorBody

BEARER = "BearerToken"
"""Name of the bearer-JWT security scheme (``security=[{BEARER: []}]`` on handlers)."""


def error_spec(description: str) -> ResponseSpec:
    """A documented error response: the :class:`ErrorBody` and when it happens."""
    return ResponseSpec(data_container=ErrorBody, description=description, generate_examples=False)


INTERNAL_ERROR = "`internal_error` (anything unexpected; never a 500)"
"""What every operation may answer with 503 besides its own reasons."""


def documented_operation(
    *, parameters: Sequence[Parameter] = (), request_body: RequestBody | None = None
) -> type[Operation]:
    """An ``operation_class`` adding what a handler parses by hand (for stable error codes,
    or speed) to its OpenAPI operation: query / header ``parameters`` and a ``request_body``.

    Litestar documents only what it parses itself; without this the document would call
    such a handler's parameters unknown and its body free-form.
    """

    @dataclass
    class DocumentedOperation(Operation):
        def __post_init__(self) -> None:
            self.parameters = [*(self.parameters or []), *parameters]
            if request_body is not None:
                self.request_body = request_body

    return DocumentedOperation


def openapi_config(render_plugins: Sequence[OpenAPIRenderPlugin]) -> OpenAPIConfig:
    """The app's OpenAPI configuration: bearer-JWT scheme, docs pages at ``/schema``."""
    return OpenAPIConfig(
        title="Imoutotv Hot API",
        version="1.0.0",
        description="The 'hot right now' feed. Errors are "
        '`{"error": {"code": ..., "message": ...}}` with a stable code.',
        path="/schema",
        render_plugins=list(render_plugins),
        components=Components(
            security_schemes={
                BEARER: SecuritySchemeSpec(type="http", scheme="bearer", bearer_format="JWT")
            }
        ),
    )
