"""OpenAPI: the document at ``/schema/openapi.json`` and the docs page at ``/schema``."""

from __future__ import annotations

from dataclasses import dataclass

from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, OpenAPIType, Operation, Parameter, Schema
from litestar.openapi.spec import SecurityScheme as SecuritySchemeSpec

from serving.api_docs import OfflineDocsPlugin
from serving.params import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, SNAPSHOT_ID

BEARER = "BearerToken"
"""Name of the bearer-JWT security scheme (``security=[{BEARER: []}]`` on handlers)."""

HOT_PARAMETERS: list[Parameter] = [
    Parameter(
        name="type",
        param_in="query",
        description="`global`, or `personal` (re-ranked for the token's `sub`).",
        schema=Schema(type=OpenAPIType.STRING, enum=["global", "personal"], default="global"),
    ),
    Parameter(
        name="limit",
        param_in="query",
        description="Page size.",
        schema=Schema(
            type=OpenAPIType.INTEGER, minimum=1, maximum=MAX_LIMIT, default=DEFAULT_LIMIT
        ),
    ),
    Parameter(
        name="offset",
        param_in="query",
        description="Position of the first item in the capped list.",
        schema=Schema(type=OpenAPIType.INTEGER, minimum=0, maximum=MAX_OFFSET, default=0),
    ),
    Parameter(
        name="snapshot",
        param_in="query",
        description="A `snapshotId` from an earlier response: keep paging that snapshot "
        "(410 `snapshot_expired` once it is no longer retained).",
        schema=Schema(type=OpenAPIType.STRING, pattern=f"^{SNAPSHOT_ID.pattern}$"),
    ),
    Parameter(
        name="X-Feature-Flag",
        param_in="header",
        description="Comma-separated `name=value` flags; `hot_enabled=1` enables the feed "
        "(absent: the server default).",
        schema=Schema(type=OpenAPIType.STRING),
    ),
]


@dataclass
class HotOperation(Operation):
    """The feed operation: its query parameters are parsed by hand, so documented here."""

    def __post_init__(self) -> None:
        self.parameters = [*(self.parameters or []), *HOT_PARAMETERS]


def openapi_config() -> OpenAPIConfig:
    """The app's OpenAPI configuration (bearer-JWT scheme, an offline docs page)."""
    return OpenAPIConfig(
        title="Imoutotv Hot API",
        version="1.0.0",
        description="The 'hot right now' feed. Errors are "
        '`{"error": {"code": ..., "message": ...}}` with a stable code.',
        path="/schema",
        render_plugins=[OfflineDocsPlugin()],
        components=Components(
            security_schemes={
                BEARER: SecuritySchemeSpec(type="http", scheme="bearer", bearer_format="JWT")
            }
        ),
    )
