"""The operator console: the watch officer's screen, served by the API process.

A watch officer needs one screen that answers, at a glance, *which vessels are near our
cables and pipelines, which of them worry us and why, and what has been done about it*. The
console is a static single page (HTML, CSS and ES modules, no build step) that reads
everything from the API under ``/api`` with the operator's bearer token, and draws its map
from a basemap shipped in the package — an ops room may have no Internet at all.

:func:`mount_console` puts it in front of the API app:

- ``/`` (and ``/index.html``) — the page;
- ``/static/…`` — its assets (package data in ``seawarden/web/static``), including the
  vendored Leaflet and uPlot (see their ``PROVENANCE.md``) and the Natural Earth basemap;
- ``/console/config.json`` — the few settings the page needs (an optional tile URL).

These paths carry no data, so they are answered before the API's bearer authentication (the
page must load to show its login prompt). They get their own security headers: a content
security policy of ``default-src 'self'`` (plus the configured tile server's origin for
images, if any), no framing, no referrer, ``nosniff``.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI
from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["STATIC_DIR", "ConsoleSettings", "console_settings", "csp_for", "mount_console"]

STATIC_DIR = Path(__file__).parent / "static"
CONFIG_PATH = "/console/config.json"
CONSOLE_PATHS = frozenset({"/", "/index.html", CONFIG_PATH})

CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".geojson": "application/geo+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".md": "text/plain; charset=utf-8",
}


class ConsoleSettings(BaseSettings):
    """Console settings (environment ``SEAWARDEN_CONSOLE_*``).

    ``tile_url`` — an XYZ tile template for online deployments, e.g.
    ``https://tiles.example.org/{z}/{x}/{y}.png``, or a same-origin path such as
    ``/tiles/{z}/{x}/{y}.png``. Unset (the default): the console draws only its bundled
    Natural Earth basemap and requests nothing from anywhere else.
    """

    model_config = SettingsConfigDict(env_prefix="SEAWARDEN_CONSOLE_", extra="ignore")

    tile_url: str | None = None
    tile_attribution: str = ""
    tile_max_zoom: int = 18

    @field_validator("tile_url")
    @classmethod
    def _check_tile_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        for key in ("{z}", "{x}", "{y}"):
            if key not in value:
                raise ValueError(f"tile_url must contain {key}, e.g. /tiles/{{z}}/{{x}}/{{y}}.png")
        if value.startswith("/") and not value.startswith("//"):
            return value
        parts = urlsplit(value.replace("{s}", "a"))  # {s}: Leaflet's subdomain placeholder
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError("tile_url must be an http(s) URL or a path starting with /")
        if any(c in parts.netloc for c in " ;,'\"{}"):
            raise ValueError("tile_url has an invalid host")
        return value


def console_settings() -> ConsoleSettings:
    """Build the console settings from the environment (never at import)."""
    return ConsoleSettings()


def _tile_origin(settings: ConsoleSettings) -> str | None:
    if settings.tile_url is None or settings.tile_url.startswith("/"):
        return None
    parts = urlsplit(settings.tile_url.replace("{s}", "a"))
    host = parts.netloc
    if "{s}" in settings.tile_url.split("/")[2]:
        host = "*." + host.split(".", 1)[1]  # {s}.tile.example.org: any subdomain
    return f"{parts.scheme}://{host}"


def csp_for(settings: ConsoleSettings) -> str:
    """The content security policy of the console's pages."""
    origin = _tile_origin(settings)
    img = "'self' data: blob:" + (f" {origin}" if origin else "")
    return (
        "default-src 'self'; "
        f"img-src {img}; "
        "script-src 'self'; style-src 'self'; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _config_body(settings: ConsoleSettings) -> bytes:
    return json.dumps(
        {
            "tile_url": settings.tile_url,
            "tile_attribution": settings.tile_attribution,
            "tile_max_zoom": settings.tile_max_zoom,
        },
        sort_keys=True,
    ).encode()


class ConsoleMiddleware:
    """Answer the console's own paths; hand every other request to the API app."""

    def __init__(self, app: ASGIApp, *, settings: ConsoleSettings) -> None:
        self.app = app
        self.csp = csp_for(settings)
        config = _config_body(settings)

        async def index(_request: Request) -> Response:
            return FileResponse(STATIC_DIR / "index.html")

        async def config_json(_request: Request) -> Response:
            return Response(config, media_type="application/json")

        self.console = Starlette(
            routes=[
                Route("/", index, methods=["GET", "HEAD"]),
                Route("/index.html", index, methods=["GET", "HEAD"]),
                Route(CONFIG_PATH, config_json, methods=["GET", "HEAD"]),
                Mount("/static", StaticFiles(directory=STATIC_DIR, follow_symlink=False)),
            ]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not (path in CONSOLE_PATHS or path.startswith("/static/")):
            await self.app(scope, receive, send)
            return
        suffix = Path(path).suffix.lower() if path.startswith("/static/") else ".html"
        if path == CONFIG_PATH:
            suffix = ".json"

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if int(message["status"]) < 300 and suffix in CONTENT_TYPES:
                    headers["Content-Type"] = CONTENT_TYPES[suffix]
                headers["Content-Security-Policy"] = self.csp
                headers["X-Content-Type-Options"] = "nosniff"
                headers["X-Frame-Options"] = "DENY"
                headers["Referrer-Policy"] = "no-referrer"
                headers["Cross-Origin-Resource-Policy"] = "same-origin"
                headers["Cache-Control"] = "no-cache"
            await send(message)

        await self.console(scope, receive, with_headers)


def mount_console(app: FastAPI, settings: ConsoleSettings | None = None) -> None:
    """Serve the console at ``/`` and its assets under ``/static/`` in front of ``app``.

    Call it once, after the API's own middleware is added (``create_app`` does that), before
    the app starts serving.
    """
    app.add_middleware(ConsoleMiddleware, settings=settings or console_settings())
