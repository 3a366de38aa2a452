"""An ASGI wrapper around the whole app: access log line and metrics for every request.

It wraps the whole Litestar app as plain ASGI (``serving.app.create_app``), so unknown routes
(404) are seen too; the route label is the path template Litestar's router puts in the scope
(``<unmatched>`` when no route matched), which keeps the metrics' cardinality bounded.
"""

from __future__ import annotations

import time

from litestar.types import ASGIApp, Message, Receive, Scope, Send

from serving.core.logs import AccessLog
from serving.core.metrics import observe_request


class ObservabilityMiddleware:
    """Times each HTTP request, then logs it as JSON and records it in Prometheus."""

    def __init__(self, app: ASGIApp, access_log: AccessLog) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI entry point."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        created = time.time()
        start = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            seconds = time.perf_counter() - start
            route = scope.get("path_template") or "<unmatched>"
            method = scope["method"]
            observe_request(route, method, status, seconds)
            client = scope.get("client")
            self.access_log.record(
                {
                    "method": method,
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "durationMs": round(seconds * 1000, 3),
                    "client": client[0] if client else None,
                },
                created,
            )
