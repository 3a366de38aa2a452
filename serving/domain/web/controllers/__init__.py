"""The web UI's handlers: the pages, static files and sign-in, and the demo media."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from serving.domain.web.controllers.media import MediaController
from serving.domain.web.controllers.pages import dev_login, feed_page, moderate_page, static_file

WEB_HANDLERS: list[ControllerRouterHandler] = [
    feed_page,
    moderate_page,
    static_file,
    dev_login,
    MediaController,
]
"""The web UI's handlers (registered in ``serving.app.ROUTE_HANDLERS``)."""
