"""Which Redis the API (and the CLI) talks to."""

from __future__ import annotations

from hot.redis_server import EmbeddedRedis, ensure_local_redis
from hot.settings import Settings

_owned: list[EmbeddedRedis] = []


def resolve_redis_url(settings: Settings) -> str:
    """``HOT_REDIS_URL`` if set, else the URL of the embedded Redis under ``data_dir/redis``.

    The embedded server is started unless another process already runs it for this data
    dir; one started here lives until this process exits.
    """
    if settings.redis_url:
        return settings.redis_url
    url, server = ensure_local_redis(settings.data_dir / "redis")
    if server is not None:
        _owned.append(server)
    return url
