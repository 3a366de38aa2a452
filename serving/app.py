"""The Litestar application factory.

To add a controller, append it to ``ROUTE_HANDLERS``. Handlers get, by parameter name:
``settings``, ``redis`` (asyncio client on the app's pool), ``feed`` (the snapshot cache),
``reranker`` and ``principal`` (the verified bearer token; 401 otherwise). Role checks:
``guards=[serving.auth.require_role("moderator")]``.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.types import ControllerRouterHandler

from hot.settings import Settings, get_settings
from serving.auth import VERIFIER_STATE_KEY, TokenVerifier
from serving.controllers.bench import bench_bare
from serving.controllers.health import healthz, readyz
from serving.controllers.hot import HotController
from serving.controllers.moderation import ModerationController
from serving.controllers.ui import WEB_HANDLERS
from serving.deps import DEPENDENCIES, SETTINGS_STATE_KEY, lifespan
from serving.errors import EXCEPTION_HANDLERS
from serving.logs import AccessLog, configure_logging
from serving.metrics import mark_worker_dead, metrics_endpoint
from serving.observability import ObservabilityMiddleware
from serving.openapi import openapi_config
from serving.personal import PersonalReranker, default_reranker
from serving.reranking import Reranker

ROUTE_HANDLERS: list[ControllerRouterHandler] = [
    HotController,
    healthz,
    readyz,
    metrics_endpoint,
    ModerationController,
    *WEB_HANDLERS,
]
"""Every controller / route handler of the app."""

BENCH_HANDLERS: list[ControllerRouterHandler] = [bench_bare]
"""Mounted only with ``HOT_BENCH_ENDPOINTS=1``."""


def create_app(settings: Settings | None = None, *, reranker: Reranker | None = None) -> Litestar:
    """The API app; ``settings`` default to the environment's, ``reranker`` to the LanceDB
    personal ranking when embeddings exist (else the global order)."""
    settings = settings or get_settings()
    reranker = reranker or default_reranker(settings)
    configure_logging()
    access_log = AccessLog()
    handlers = [*ROUTE_HANDLERS, *(BENCH_HANDLERS if settings.bench_endpoints else [])]
    app = Litestar(
        route_handlers=handlers,
        dependencies=DEPENDENCIES,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan(settings, reranker)],
        on_shutdown=[
            access_log.flush,
            mark_worker_dead,
            *([reranker.aclose] if isinstance(reranker, PersonalReranker) else []),
        ],
        openapi_config=openapi_config(),
        state=State({SETTINGS_STATE_KEY: settings, VERIFIER_STATE_KEY: TokenVerifier(settings)}),
        logging_config=None,
    )
    app.asgi_handler = ObservabilityMiddleware(app.asgi_handler, access_log)
    return app
