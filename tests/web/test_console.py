"""The console is served by the API app: page, assets, headers, settings.

The page must load without a token (it shows the login prompt), from the package's own
files only, under a closed content security policy; the API behind it keeps its bearer
authentication.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from seawarden.api import ApiSettings, create_app
from seawarden.store.sqlite import SQLiteStore
from seawarden.web import (
    STATIC_DIR,
    ConsoleSettings,
    console_settings,
    csp_for,
    mount_console,
)
from seawarden.web.__init__ import CONTENT_TYPES


def _app(tmp_path: Path, settings: ConsoleSettings | None = None) -> FastAPI:
    store = tmp_path / "store.db"
    if not store.exists():
        SQLiteStore(store).close()  # an empty store, as `seawarden replay --store` makes
    app = create_app(ApiSettings(store=store))
    mount_console(app, settings or ConsoleSettings())
    return app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(_app(tmp_path)) as c:
        yield c


def _static_files() -> list[Path]:
    return sorted(p for p in STATIC_DIR.rglob("*") if p.is_file())


def test_root_serves_the_page_without_a_token(client: TestClient) -> None:
    for path in ("/", "/index.html"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert r.content == (STATIC_DIR / "index.html").read_bytes()
        assert 'data-testid="map"' in r.text
        assert 'data-testid="login-token"' in r.text


def test_head_is_answered_and_other_methods_are_not(client: TestClient) -> None:
    assert client.head("/").status_code == 200
    assert client.post("/").status_code == 405
    assert client.head("/static/app.css").status_code == 200


def test_console_headers(client: TestClient) -> None:
    r = client.get("/")
    csp = r.headers["content-security-policy"]
    assert csp.startswith("default-src 'self'")
    assert "script-src 'self'" in csp
    assert "style-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["referrer-policy"] == "no-referrer"


def test_api_still_needs_a_token(client: TestClient) -> None:
    r = client.get("/api/alerts")
    assert r.status_code == 401
    assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    # a path outside the console is the API app's (401 or 404 there), never a console file
    assert client.get("/static-not-really").status_code in (401, 404)
    assert client.get("/api/health").status_code == 200


@pytest.mark.parametrize("path", [p.relative_to(STATIC_DIR).as_posix() for p in _static_files()])
def test_every_asset_is_served_with_its_type(client: TestClient, path: str) -> None:
    r = client.get(f"/static/{path}")
    assert r.status_code == 200
    assert r.content == (STATIC_DIR / path).read_bytes()
    suffix = Path(path).suffix.lower()
    assert suffix in CONTENT_TYPES or Path(path).name == "LICENSE", path
    if suffix in CONTENT_TYPES:
        assert r.headers["content-type"] == CONTENT_TYPES[suffix]
    assert r.headers["content-security-policy"].startswith("default-src 'self'")


def test_module_scripts_are_javascript(client: TestClient) -> None:
    r = client.get("/static/js/main.js")
    assert r.headers["content-type"].startswith("text/javascript")
    r = client.get("/static/basemap/land.geojson")
    assert r.headers["content-type"] == "application/geo+json"


def test_no_escape_from_the_static_folder(client: TestClient) -> None:
    # ("/static/../x" is normalised by the client before it is sent, so only the encoded
    # form reaches the server and tests the static mount.)
    for path in (
        "/static/%2e%2e/__init__.py",
        "/static/%2E%2E/%2e%2e/web/__init__.py",
        "/static/nope.js",
    ):
        r = client.get(path)
        assert r.status_code in (404, 401), path
        assert b"mount_console" not in r.content


def test_config_without_tiles(client: TestClient) -> None:
    r = client.get("/console/config.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"tile_attribution": "", "tile_max_zoom": 18, "tile_url": None}
    assert "img-src 'self' data: blob:;" in r.headers["content-security-policy"]


def test_a_configured_tile_server_is_allowed_for_images_only(tmp_path: Path) -> None:
    settings = ConsoleSettings(
        tile_url="https://{s}.tiles.example.org/{z}/{x}/{y}.png", tile_attribution="© Example"
    )
    with TestClient(_app(tmp_path, settings)) as c:
        r = c.get("/")
        csp = r.headers["content-security-policy"]
        assert "img-src 'self' data: blob: https://*.tiles.example.org;" in csp
        assert "connect-src 'self'" in csp
        assert c.get("/console/config.json").json()["tile_url"] == settings.tile_url
    plain = ConsoleSettings(tile_url="https://tiles.example.org/{z}/{x}/{y}.png")
    assert "img-src 'self' data: blob: https://tiles.example.org;" in csp_for(plain)
    local = ConsoleSettings(tile_url="/tiles/{z}/{x}/{y}.png")
    assert "img-src 'self' data: blob:;" in csp_for(local)


@pytest.mark.parametrize(
    "bad",
    [
        "https://tiles.example.org/{z}/{x}.png",  # no {y}
        "ftp://tiles.example.org/{z}/{x}/{y}.png",
        "javascript:alert(1)//{z}/{x}/{y}",
        "//tiles.example.org/{z}/{x}/{y}.png",
        "https://evil.example;script-src */{z}/{x}/{y}",
    ],
)
def test_bad_tile_urls_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="tile_url"):
        ConsoleSettings(tile_url=bad)


def test_tile_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEAWARDEN_CONSOLE_TILE_URL", "/tiles/{z}/{x}/{y}.png")
    assert console_settings().tile_url == "/tiles/{z}/{x}/{y}.png"
    monkeypatch.setenv("SEAWARDEN_CONSOLE_TILE_URL", "")
    assert console_settings().tile_url is None


def test_references_in_the_page_exist() -> None:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    import re

    refs = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert len(refs) >= 6
    for ref in refs:
        assert (STATIC_DIR / ref.removeprefix("/static/")).is_file(), ref
    for js in (STATIC_DIR / "js").glob("*.js"):
        for target in re.findall(r"from '(\.{1,2}/[^']+)'", js.read_text(encoding="utf-8")):
            assert (js.parent / target).resolve().is_file(), f"{js.name} imports {target}"


def test_package_data_globs_cover_every_static_file() -> None:
    import fnmatch
    import tomllib

    root = Path(__file__).resolve().parents[2]
    config = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["seawarden"]
    package = root / "src" / "seawarden"
    for path in _static_files():
        rel = path.relative_to(package).as_posix()
        # setuptools globs: '*' does not cross '/'
        assert any(fnmatch.fnmatch(rel, g) and rel.count("/") == g.count("/") for g in globs), (
            f"{rel} is not package data"
        )


def test_basemap_is_valid_geojson() -> None:
    from shapely.geometry import shape

    path = STATIC_DIR / "basemap" / "land.geojson"
    assert path.stat().st_size < 1_500_000  # a browser parses it in well under a second
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["type"] == "FeatureCollection"
    assert len(data["features"]) > 500
    for feature in data["features"]:
        assert feature["type"] == "Feature"
        geom = shape(feature["geometry"])
        assert geom.geom_type in ("Polygon", "MultiPolygon")
        assert geom.is_valid
        minx, miny, maxx, maxy = geom.bounds
        assert -180 <= minx <= maxx <= 180
        assert -90 <= miny <= maxy <= 90
    # the Gulf of Finland's two coasts are there, at 1:10m detail
    sources = {f["properties"]["source"] for f in data["features"]}
    assert sources == {"ne_10m_land", "ne_50m_land"}


def test_basemap_rebuilds_byte_identical(tmp_path: Path) -> None:
    from seawarden.web.build_basemap import build

    out = tmp_path / "land.geojson"
    build(out)
    assert out.read_bytes() == (STATIC_DIR / "basemap" / "land.geojson").read_bytes()


def test_console_json_is_mounted_once_per_app(tmp_path: Path) -> None:
    app = _app(tmp_path)
    names = [m.cls.__name__ for m in app.user_middleware]  # type: ignore[attr-defined]
    assert names.count("ConsoleMiddleware") == 1
    assert names[0] == "ConsoleMiddleware"  # outermost: before the bearer authentication
