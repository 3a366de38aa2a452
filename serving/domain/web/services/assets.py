"""The web UI's static files, held in memory under content hashes, and its Jinja2 templates."""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

WEB_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = WEB_DIR / "static"
TEMPLATES_DIR = WEB_DIR / "templates"


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
