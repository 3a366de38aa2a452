"""``Allow`` headers that list every method of a path, always in the same order.

Litestar answers ``OPTIONS`` with a handler made when the first handler of a path was
registered, so a path whose handlers come from several registrations (GET and POST of
``/api/v1/moderation/decisions``) advertised only some of its methods; and its 405 lists
them in registration order, which follows set iteration and so the hash seed. Here OPTIONS
is answered from the app's finished route table, and :func:`sorted_allow` orders a 405's list.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.exceptions import HTTPException
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Receive, Scope, Send


def sorted_allow(value: str) -> str:
    """An ``Allow`` value with its methods sorted (``"POST, GET"`` -> ``"GET, POST"``)."""
    return ", ".join(sorted({m.strip().upper() for m in value.split(",") if m.strip()}))


class AllowedMethods:
    """ASGI wrapper answering ``OPTIONS`` with 204 and every method of the matched path.

    No token is needed: the answer says which methods exist, not what they return (as a
    CORS preflight, which never carries credentials, expects). Unknown paths go on to the
    app (404).
    """

    def __init__(self, app: ASGIApp, litestar: Litestar) -> None:
        self._app = app
        self._router = litestar.asgi_router
        self._allow = {
            route.path_format: ", ".join(sorted(route.methods))
            for route in litestar.routes
            if isinstance(route, HTTPRoute)
        }

    def route(self, path: str) -> tuple[str, str] | None:
        """The path template and ``Allow`` value of a request path (None: no route)."""
        try:
            template = self._router.handle_routing(path, "OPTIONS")[4]
        except HTTPException:
            return None
        allow = self._allow.get(template)
        return None if allow is None else (template, allow)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer OPTIONS of a known path; pass everything else on."""
        route = None
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            route = self.route(scope["path"])
        if route is None:
            await self._app(scope, receive, send)
            return
        scope["path_template"] = route[0]  # the access log's and metrics' route label
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": [(b"allow", route[1].encode()), (b"cache-control", b"no-store")],
            }
        )
        await send({"type": "http.response.body", "body": b""})
