"""Generated artwork for the demo catalogue: SVG thumbnails and avatars derived from an id.

The same id always gives the same bytes (colours and shapes come from a hash of the id),
so the images can be cached for a year and the page needs no internet.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from xml.sax.saxutils import escape

MEDIA_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
"""Ids accepted in media URLs (anything else is 404)."""


def _digest(kind: str, media_id: str) -> bytes:
    return hashlib.blake2b(f"{kind}:{media_id}".encode(), digest_size=16).digest()


def _hsl(hue: float, saturation: int, lightness: int) -> str:
    return f"hsl({hue % 360:.0f} {saturation}% {lightness}%)"


@lru_cache(maxsize=4096)
def thumbnail_svg(video_id: str) -> bytes:
    """A 16:9 thumbnail: a two-colour gradient, soft shapes, a play button and the id."""
    d = _digest("thumb", video_id)
    hue = d[0] / 255 * 360
    c1, c2 = _hsl(hue, 78, 56), _hsl(hue + 40 + d[1] % 80, 72, 34)
    angle = d[2] % 4
    x2, y2 = ((1, 1), (1, 0), (0, 1), (1, 0.4))[angle]
    shapes = []
    for i in range(3):
        cx, cy = 40 + d[3 + i] % 560, 20 + d[6 + i] % 320
        r = 40 + d[9 + i] % 110
        shapes.append(
            f'<circle cx="{cx}" cy="{cy}" r="{r}" fill="#fff" fill-opacity="0.{10 + i * 4}"/>'
        )
    wave_y = 250 + d[12] % 60
    label = escape(video_id[:24])
    svg = f"""<svg xmlns="http://www.w3.org/2000/svg" width="640" height="360" \
viewBox="0 0 640 360" role="img" aria-label="thumbnail {escape(video_id)}">
<defs><linearGradient id="g" x1="0" y1="0" x2="{x2}" y2="{y2}">
<stop offset="0" stop-color="{c1}"/><stop offset="1" stop-color="{c2}"/></linearGradient>
<linearGradient id="s" x1="0" y1="0" x2="0" y2="1">
<stop offset="0.55" stop-color="#000" stop-opacity="0"/>
<stop offset="1" stop-color="#000" stop-opacity="0.45"/></linearGradient></defs>
<rect width="640" height="360" fill="url(#g)"/>
{"".join(shapes)}
<path d="M0 {wave_y} C160 {wave_y - 50} 320 {wave_y + 50} 640 {wave_y - 20} L640 360 L0 360 Z" \
fill="#000" fill-opacity="0.18"/>
<rect width="640" height="360" fill="url(#s)"/>
<circle cx="320" cy="170" r="46" fill="#000" fill-opacity="0.35"/>
<path d="M306 146 L342 170 L306 194 Z" fill="#fff"/>
<text x="616" y="40" text-anchor="end" font-family="DejaVu Sans Mono, monospace" \
font-size="22" font-weight="700" fill="#fff" fill-opacity="0.6">{label}</text>
</svg>"""
    return svg.encode()


@lru_cache(maxsize=4096)
def avatar_svg(creator_id: str) -> bytes:
    """A round avatar: a gradient disc with a mirrored 5x5 identicon of the id."""
    d = _digest("avatar", creator_id)
    hue = d[0] / 255 * 360
    c1, c2 = _hsl(hue, 70, 60), _hsl(hue + 50, 75, 40)
    cells = []
    for row in range(5):
        for col in range(3):
            if (d[1 + row] >> col) & 1:
                for x in {col, 4 - col}:
                    cells.append(
                        f'<rect x="{22 + x * 11.2:.1f}" y="{22 + row * 11.2:.1f}" '
                        'width="11.2" height="11.2" rx="2"/>'
                    )
    svg = f"""<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100" \
viewBox="0 0 100 100" role="img" aria-label="avatar {escape(creator_id)}">
<defs><linearGradient id="a" x1="0" y1="0" x2="1" y2="1">
<stop offset="0" stop-color="{c1}"/><stop offset="1" stop-color="{c2}"/></linearGradient>
</defs><circle cx="50" cy="50" r="50" fill="url(#a)"/>
<g fill="#fff" fill-opacity="0.9">{"".join(cells)}</g></svg>"""
    return svg.encode()
