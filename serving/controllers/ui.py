"""The web UI (SPEC §7): the feed page at ``/``, the moderator page, static assets, sign-in.

Pages are Jinja2 templates rendered on the server (layout, navigation, sign-in form); the
feed itself is fetched by a little vanilla JS with the token kept in ``sessionStorage``.
Assets are served from memory under content-hashed URLs (``/static/app.css?v=…``), cached
for a year; pages carry a strict Content-Security-Policy (no inline script, no CDN).
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
from jinja2 import Environment, FileSystemLoader, select_autoescape
from litestar import MediaType, Request, Response, get, post
from litestar.types import ControllerRouterHandler

from hot.settings import Settings
from serving.auth import mint_token
from serving.controllers.media import MediaController
from serving.deps import SETTINGS_STATE_KEY
from serving.errors import ApiError

PACKAGE_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = PACKAGE_DIR / "static"
TEMPLATES_DIR = PACKAGE_DIR / "templates"
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


@dataclass(frozen=True, slots=True)
class Asset:
    """One static file, held in memory with its content hash."""

    body: bytes
    media_type: str
    version: str


def _load_assets(directory: Path) -> dict[str, Asset]:
    assets = {}
    for path in sorted(directory.iterdir()):
        if path.is_file():
            body = path.read_bytes()
            media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            version = hashlib.blake2b(body, digest_size=6).hexdigest()
            assets[path.name] = Asset(body, media_type, version)
    return assets


ASSETS = _load_assets(STATIC_DIR)


def asset_url(name: str) -> str:
    """The cache-busting URL of a static file (its content hash in ``v``)."""
    return f"/static/{name}?v={ASSETS[name].version}"


TEMPLATES = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.globals["asset"] = asset_url


def _settings(request: Request) -> Settings:
    return request.app.state[SETTINGS_STATE_KEY]


def render_page(request: Request, template: str, **context: Any) -> Response[str]:
    """Render one page with the common context (sign-in mode, current page)."""
    html = TEMPLATES.get_template(template).render(
        dev_login=_settings(request).dev_login, **context
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


class DevLoginIn(msgspec.Struct, frozen=True):
    """Body of ``POST /auth/dev-login``."""

    sub: str
    moderator: bool = False


class DevLoginOut(msgspec.Struct, frozen=True):
    """A freshly minted token for the development sign-in."""

    token: str
    sub: str
    roles: list[str]
    expiresIn: int


@post("/auth/dev-login", status_code=200, include_in_schema=False)
async def dev_login(request: Request) -> Response[DevLoginOut]:
    """Mint a token for ``sub`` (moderator on request) — only with ``HOT_DEV_LOGIN=1``."""
    settings = _settings(request)
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


WEB_HANDLERS: list[ControllerRouterHandler] = [
    feed_page,
    moderate_page,
    static_file,
    dev_login,
    MediaController,
]
"""The web UI's handlers (registered in ``serving.app.ROUTE_HANDLERS``)."""
