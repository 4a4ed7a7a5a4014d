"""The report endpoints: the alert's own authorisation (404 for allies it is not for), audit."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from seawarden.api import ApiSettings, create_app, db, tokens
from seawarden.report.pdf import find_chromium
from seawarden.store import audit
from tests.report.conftest import Replayed
from tests.report.test_report import parse

Served = tuple[TestClient, dict[str, dict[str, str]], Path]

TOKENS = (
    {"name": "admin", "role": "admin"},
    {"name": "analyst", "role": "analyst"},
    {"name": "fin-all", "role": "ally", "nation": "FIN", "areas": ("all",)},  # FIN is in JEF
    {"name": "usa-all", "role": "ally", "nation": "USA", "areas": ("all",)},  # not in JEF
    {"name": "fin-north-sea", "role": "ally", "nation": "FIN", "areas": ("north-sea-link",)},
)


@pytest.fixture(scope="module")
def served(replayed: Replayed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    store = tmp_path_factory.mktemp("api") / "w.db"
    shutil.copy(replayed.store, store)
    db.ensure_schema(store)
    headers: dict[str, dict[str, str]] = {}
    with db.connection(store) as conn:
        for spec in TOKENS:
            secret, _ = tokens.create(conn, actor="test", **spec)
            headers[str(spec["name"])] = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(ApiSettings(store=store)), raise_server_exceptions=False) as c:
        yield c, headers, store


def test_analyst_downloads_the_html_report(replayed: Replayed, served: Served) -> None:
    client, headers, store = served
    res = client.get(f"/api/alerts/{replayed.alert_id}/report.html", headers=headers["analyst"])
    assert res.status_code == 200, res.text
    assert res.headers["content-type"].startswith("text/html")
    assert res.headers["content-disposition"] == (
        f'attachment; filename="seawarden-evidence-{replayed.alert_id}.html"'
    )
    raw = set(parse(res.text).raw)
    assert raw
    lines = set(replayed.nmea.read_text().splitlines())
    assert all(part in lines for block in raw for part in block.split("\n"))
    with db.connection(store) as conn:
        logged = audit.entries(conn, target=f"alert:{replayed.alert_id}", action_prefix="report.")
    assert logged
    assert logged[-1].action == "report.download"
    assert logged[-1].actor == "token:analyst"
    assert logged[-1].detail["format"] == "html"
    assert len(str(logged[-1].detail["evidence_sha256"])) == 64


@pytest.mark.parametrize(
    ("who", "status"),
    [("admin", 200), ("fin-all", 200), ("usa-all", 404), ("fin-north-sea", 404)],
)
def test_allies_get_only_alerts_released_to_them_in_their_areas(
    replayed: Replayed,
    served: Served,
    who: str,
    status: int,
) -> None:
    client, headers, _ = served
    detail = client.get(f"/api/alerts/{replayed.alert_id}", headers=headers[who])
    assert detail.status_code == status  # the same answer as the alert itself
    for ext in ("html", "pdf"):
        res = client.get(f"/api/alerts/{replayed.alert_id}/report.{ext}", headers=headers[who])
        if status == 404:
            assert res.status_code == 404, (ext, res.text)
            assert res.headers["content-type"].startswith("application/json")
            assert "AIVDM" not in res.text
        else:
            assert res.status_code in (200, 503), (ext, res.text)


def test_unknown_alert_and_no_token(served: Served) -> None:
    client, headers, _ = served
    assert client.get("/api/alerts/nope/report.html", headers=headers["admin"]).status_code == 404
    assert client.get("/api/alerts/nope/report.html").status_code == 401


def test_pdf_answers_503_without_chromium(
    replayed: Replayed,
    served: Served,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    client, headers, _ = served
    monkeypatch.setenv("SEAWARDEN_CHROMIUM", str(tmp_path / "no-chromium-here"))
    res = client.get(f"/api/alerts/{replayed.alert_id}/report.pdf", headers=headers["admin"])
    assert res.status_code == 503
    assert "Chromium" in res.json()["message"]
    html = client.get(f"/api/alerts/{replayed.alert_id}/report.html", headers=headers["admin"])
    assert html.status_code == 200  # HTML always works


@pytest.mark.skipif(find_chromium() is None, reason="chromium not installed (Debian `chromium`)")
def test_pdf_download(replayed: Replayed, served: Served) -> None:
    client, headers, _ = served
    res = client.get(f"/api/alerts/{replayed.alert_id}/report.pdf", headers=headers["admin"])
    assert res.status_code == 200, res.text
    assert res.headers["content-type"] == "application/pdf"
    assert res.content.startswith(b"%PDF-")
    assert res.headers["content-disposition"].endswith(
        f'seawarden-evidence-{replayed.alert_id}.pdf"'
    )
