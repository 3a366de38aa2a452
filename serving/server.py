"""Running the API under uvicorn (``hot serve``)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import uvicorn

from hot.settings import get_settings
from serving.core.redis_client import resolve_redis_url

APP_FACTORY = "serving.app:create_app"


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the app with uvicorn until interrupted; ``workers`` processes share the port.

    ``HOT_REDIS_URL`` must be set (``hot serve`` sets it): checked here, before the workers
    start, so a missing Redis is one clear error rather than one per worker. With
    ``workers > 1`` Prometheus runs in multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR``
    (default ``data_dir/prometheus``) is emptied and shared by the workers.
    """
    settings = get_settings()
    resolve_redis_url(settings)
    if workers > 1:
        _prepare_multiprocess_metrics(settings.data_dir / "prometheus")
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


def _prepare_multiprocess_metrics(default_dir: Path) -> None:
    directory = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(default_dir)))
    if directory.is_dir():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
