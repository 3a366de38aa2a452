"""OpenAPI: the document at ``/schema/openapi.json``, its security scheme, error responses."""

from __future__ import annotations

from collections.abc import Sequence

from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.openapi.spec import Components
from litestar.openapi.spec import SecurityScheme as SecuritySchemeSpec

from serving.core.schemas import ErrorBody

BEARER = "BearerToken"
"""Name of the bearer-JWT security scheme (``security=[{BEARER: []}]`` on handlers)."""


def error_spec(description: str) -> ResponseSpec:
    """A documented error response: the :class:`ErrorBody` and when it happens."""
    return ResponseSpec(data_container=ErrorBody, description=description, generate_examples=False)


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
