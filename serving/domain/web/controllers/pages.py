"""The web UI (SPEC §7): the feed page at ``/``, the moderator page, static assets, sign-in.

Pages are Jinja2 templates rendered on the server (layout, navigation, sign-in form); the
feed itself is fetched by a little vanilla JS with the token kept in ``sessionStorage``.
Assets are served from memory under content-hashed URLs (``/static/app.css?v=…``), cached
for a year; pages carry a strict Content-Security-Policy (no inline script, no CDN).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import MediaType, Request, Response, get, post

from serving.core.auth import mint_token
from serving.core.deps import settings_of
from serving.core.errors import ApiError
from serving.domain.web.schemas import DevLoginIn, DevLoginOut
from serving.domain.web.services.assets import ASSETS, TEMPLATES

DEV_TOKEN_TTL_SEC = 8 * 3600
SUB = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: https:; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def render_page(request: Request, template: str, **context: Any) -> Response[str]:
    """Render one page with the common context (sign-in mode, current page)."""
    html = TEMPLATES.get_template(template).render(
        dev_login=settings_of(request.app.state).dev_login, **context
    )
    return Response(html, media_type=MediaType.HTML, headers=PAGE_HEADERS)


@get("/", include_in_schema=False)
async def feed_page(request: Request) -> Response[str]:
    """The viewer's hot feed (global and personal tabs)."""
    return render_page(request, "feed.html", page="feed")


@get("/moderate", include_in_schema=False)
async def moderate_page(request: Request) -> Response[str]:
    """The moderator page: review queue, live feed, decisions, audit trails."""
    return render_page(request, "moderate.html", page="moderate")


@get("/static/{name:str}", include_in_schema=False)
async def static_file(request: Request, name: str) -> Response[bytes]:
    """A static asset; a year of caching when asked for by its current ``v`` hash."""
    asset = ASSETS.get(name)
    if asset is None:
        raise ApiError(404, "not_found", "no such file")
    pinned = request.query_params.get("v") == asset.version
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable" if pinned else "no-cache",
        "ETag": f'"{asset.version}"',
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == headers["ETag"]:
        return Response(b"", status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@post("/auth/dev-login", status_code=200, include_in_schema=False)
async def dev_login(request: Request) -> Response[DevLoginOut]:
    """Mint a token for ``sub`` (moderator on request) — only with ``HOT_DEV_LOGIN=1``."""
    settings = settings_of(request.app.state)
    if not settings.dev_login:
        raise ApiError(404, "not_found", "development sign-in is disabled")
    try:
        body = msgspec.json.decode(await request.body(), type=DevLoginIn)
    except msgspec.DecodeError as exc:
        raise ApiError(400, "invalid_body", "expected {sub, moderator}") from exc
    if not SUB.fullmatch(body.sub):
        raise ApiError(400, "invalid_body", "sub must be 1-64 of A-Z a-z 0-9 . _ @ -", param="sub")
    roles = ("moderator",) if body.moderator else ()
    try:
        token = mint_token(settings, body.sub, roles, ttl=DEV_TOKEN_TTL_SEC)
    except ValueError as exc:
        raise ApiError(404, "not_found", "development sign-in needs an HMAC secret") from exc
    out = DevLoginOut(token=token, sub=body.sub, roles=list(roles), expiresIn=DEV_TOKEN_TTL_SEC)
    return Response(out, headers={"Cache-Control": "no-store"})
