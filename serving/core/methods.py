"""``Allow`` headers that list every method of a path, always in the same order.

Litestar answers ``OPTIONS`` with a handler made when the first handler of a path was
registered, so a path whose handlers come from several registrations (GET and POST of
``/api/v1/moderation/decisions``) advertised only some of its methods; and its 405 lists
them in registration order, which follows set iteration and so the hash seed. Litestar still
routes the ``OPTIONS`` request (its path template is the route's); :class:`AllowedMethods`
only rewrites the answer's headers from the app's finished route table, and
:func:`sorted_allow` orders a 405's list.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send


def sorted_allow(value: str) -> str:
    """An ``Allow`` value with its methods sorted (``"POST, GET"`` -> ``"GET, POST"``)."""
    return ", ".join(sorted({m.strip().upper() for m in value.split(",") if m.strip()}))


class AllowedMethods:
    """ASGI wrapper around a Litestar app: its ``OPTIONS`` answers (204) list every method of
    the matched path, sorted, and are not cached.

    No token is needed: the answer says which methods exist, not what they return (as a
    CORS preflight, which never carries credentials, expects; the guards let ``OPTIONS``
    through). Unknown paths stay Litestar's 404.
    """

    def __init__(self, app: Litestar) -> None:
        self._app: ASGIApp = app
        self._allow = {
            route.path_format: ", ".join(sorted(route.methods)).encode()
            for route in app.routes
            if isinstance(route, HTTPRoute)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Complete the ``Allow`` header of ``OPTIONS`` answers; pass everything else on."""
        if scope["type"] != "http" or scope["method"] != "OPTIONS":
            await self._app(scope, receive, send)
            return

        async def send_allow(message: Message) -> None:
            # Litestar has routed the request by now: its template names the path's methods.
            allow = self._allow.get(scope.get("path_template", ""))
            if message["type"] == "http.response.start" and message["status"] == 204 and allow:
                message["headers"] = [(b"allow", allow), (b"cache-control", b"no-store")]
            await send(message)

        await self._app(scope, receive, send_allow)
