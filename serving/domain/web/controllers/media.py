"""``/media/thumbnails/{id}.svg`` and ``/media/avatars/{id}.svg``: generated demo artwork."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from litestar import Controller, Request, Response, get

from serving.core.errors import ApiError
from serving.domain.web.services.media import MEDIA_ID, avatar_svg, thumbnail_svg

MEDIA_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


def _svg(request: Request, file_name: str, render: Callable[[str], bytes]) -> Response[bytes]:
    media_id, dot, extension = file_name.rpartition(".")
    if not dot or extension != "svg" or not MEDIA_ID.fullmatch(media_id):
        raise ApiError(404, "not_found", "no such media")
    body = render(media_id)
    etag = '"' + hashlib.blake2b(body, digest_size=8).hexdigest() + '"'
    headers = {**MEDIA_HEADERS, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(b"", status_code=304, headers=headers)
    return Response(body, media_type="image/svg+xml", headers=headers)


class MediaController(Controller):
    """Deterministic SVG thumbnails and avatars, cached by browsers for a year."""

    path = "/media"
    include_in_schema = False

    @get("/thumbnails/{file_name:str}")
    async def thumbnail(self, request: Request, file_name: str) -> Response[bytes]:
        """The thumbnail of video ``{id}``."""
        return _svg(request, file_name, thumbnail_svg)

    @get("/avatars/{file_name:str}")
    async def avatar(self, request: Request, file_name: str) -> Response[bytes]:
        """The avatar of creator ``{id}``."""
        return _svg(request, file_name, avatar_svg)
