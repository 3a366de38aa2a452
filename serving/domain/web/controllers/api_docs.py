"""An offline API docs page: the OpenAPI document rendered as plain HTML on the server.

Litestar's bundled docs UIs load their JavaScript from a CDN, which a deployment without
internet access (and the demo) cannot reach; this page needs nothing but the app.
"""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Request
from litestar.openapi.plugins import OpenAPIRenderPlugin

_STYLE = """<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{border-bottom:1px solid #ddd;padding-bottom:.3rem;margin-top:2rem}
.op{border:1px solid #e3e3e3;border-radius:8px;padding:.6rem 1rem;margin:.8rem 0}
.m{font:600 13px monospace;padding:2px 8px;border-radius:4px;background:#1f6feb;color:#fff}
.m.post{background:#2da44e}code{background:#f3f3f3;padding:1px 4px;border-radius:3px}
td,th{text-align:left;padding:2px 10px 2px 0;vertical-align:top}
</style>"""


def _params(op: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p.get('in', ''))}</td>"
        f"<td>{escape(p.get('description') or '')}</td></tr>"
        for p in op.get("parameters", [])
    )
    return f"<table><tr><th>parameter</th><th>in</th><th></th></tr>{rows}</table>" if rows else ""


def _responses(op: dict[str, Any]) -> str:
    codes = ", ".join(
        f"<code>{escape(code)}</code> {escape(r.get('description', ''))}"
        for code, r in op.get("responses", {}).items()
    )
    return f"<p>Responses: {codes}</p>" if codes else ""


def render_docs(schema: dict[str, Any], json_path: str) -> str:
    """The whole docs page for ``schema`` (an OpenAPI document as a dict)."""
    info = schema.get("info", {})
    title = escape(info.get("title", "API"))
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}"
        f"</title>{_STYLE}</head><body><h1>{title} "
        f"<small>{escape(info.get('version', ''))}</small></h1>",
        f"<p>{escape(info.get('description') or '')}</p>",
        f"<p>Machine-readable document: <a href='{escape(json_path)}'>{escape(json_path)}</a></p>",
    ]
    for path, item in sorted(schema.get("paths", {}).items()):
        ops = [(m, op) for m, op in item.items() if isinstance(op, dict) and "responses" in op]
        if not ops:
            continue
        parts.append(f"<h2><code>{escape(path)}</code></h2>")
        for method, op in ops:
            parts.append(
                f"<div class='op'><span class='m {escape(method)}'>{escape(method.upper())}</span> "
                f"<b>{escape(op.get('summary') or '')}</b>"
                f"<p>{escape(op.get('description') or '')}</p>{_params(op)}{_responses(op)}</div>"
            )
    parts.append("</body></html>")
    return "".join(parts)


class OfflineDocsPlugin(OpenAPIRenderPlugin):
    """Serves :func:`render_docs` at the OpenAPI path (``/schema``)."""

    def __init__(self) -> None:
        super().__init__(path="/", favicon="")

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        """The docs page, linking the JSON document served beside it."""
        return render_docs(openapi_schema, "/schema/openapi.json").encode()
