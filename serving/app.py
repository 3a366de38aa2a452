"""The application factory: the core and every domain in one Litestar app, served inside the
access log and metrics (:class:`ObservabilityMiddleware`), which see every request, 404s
included, and the ``Allow`` completion of ``OPTIONS`` answers (:class:`AllowedMethods`).

To add a controller, append it to ``ROUTE_HANDLERS``. Handlers get ``feed`` (the snapshot
cache) by parameter name, and read the rest from the app state (``serving.core.deps``:
``settings_of``, ``redis_of``) and the request (``serving.core.auth.authenticate``: the
verified bearer token, 401 otherwise). Role checks:
``guards=[serving.core.auth.require_role("moderator")]``.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.types import ASGIApp, ControllerRouterHandler

from hot.settings import Settings, get_settings
from serving.core import deps as core_deps
from serving.core import errors as core_errors
from serving.core.auth import VERIFIER_STATE_KEY, TokenVerifier
from serving.core.logs import AccessLog, configure_logging
from serving.core.methods import AllowedMethods
from serving.core.metrics import mark_worker_dead
from serving.core.observability import ObservabilityMiddleware
from serving.core.openapi import openapi_config
from serving.domain.feed import deps as feed_deps
from serving.domain.feed import responses as feed_responses
from serving.domain.feed.controllers import HotController
from serving.domain.feed.services.personal import PersonalReranker, default_reranker
from serving.domain.feed.services.reranking import Reranker
from serving.domain.moderation.controllers import ModerationController
from serving.domain.system.controllers import BENCH_HANDLERS, SYSTEM_HANDLERS
from serving.domain.web.controllers import WEB_HANDLERS
from serving.domain.web.controllers.api_docs import OfflineDocsPlugin

ROUTE_HANDLERS: list[ControllerRouterHandler] = [
    HotController,
    *SYSTEM_HANDLERS,
    ModerationController,
    *WEB_HANDLERS,
]
"""Every controller / route handler of the app (``BENCH_HANDLERS`` aside)."""


def create_app(settings: Settings | None = None, *, reranker: Reranker | None = None) -> ASGIApp:
    """The API as an ASGI app; ``settings`` default to the environment's, ``reranker`` to the
    LanceDB personal ranking when embeddings exist (else the global order)."""
    settings = settings or get_settings()
    reranker = reranker or default_reranker(settings)
    configure_logging()
    access_log = AccessLog()
    handlers = [*ROUTE_HANDLERS, *(BENCH_HANDLERS if settings.bench_endpoints else [])]
    app = Litestar(
        route_handlers=handlers,
        dependencies=feed_deps.DEPENDENCIES,
        exception_handlers={**core_errors.EXCEPTION_HANDLERS, **feed_responses.EXCEPTION_HANDLERS},
        # Entered in this order, left in reverse: the feed cache needs the Redis pool, and
        # the heap is frozen once everything long-lived exists.
        lifespan=[
            core_deps.redis_lifespan(settings),
            feed_deps.feed_lifespan(settings, reranker),
            core_deps.frozen_heap,
        ],
        on_shutdown=[
            access_log.flush,
            mark_worker_dead,
            *([reranker.aclose] if isinstance(reranker, PersonalReranker) else []),
        ],
        openapi_config=openapi_config([OfflineDocsPlugin()]),
        state=State(
            {
                core_deps.SETTINGS_STATE_KEY: settings,
                VERIFIER_STATE_KEY: TokenVerifier(settings),
            }
        ),
        logging_config=None,
    )
    # Plain ASGI wrappers around the app rather than Litestar middleware, which runs only
    # once a route matched: the access log and the metrics count 404s too.
    return ObservabilityMiddleware(AllowedMethods(app), access_log)
