"""The evidence report over the API on a PostgreSQL store is the report from SQLite.

The replay of tests/api/test_api_pg.py (simulated incidents over real Baltic traffic, written
once to a SQLite file and once to a PostgreSQL schema) is asked for every alert's report,
as an analyst and as the Danish ally, on both stores. The HTML must be the same, normalised
as tests/report/test_report_pg.py normalises it: the run ids and wall-clock run times, the
"Generated …" time and the evidence digest printed in it (it covers the run ids; each
download's digest is taken from its audit entry). An ally gets a report exactly where
``GET /api/alerts/{id}`` answers it, and a 404 otherwise, on PostgreSQL as on SQLite.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import pytest

from seawarden.api import db
from seawarden.report import gather
from seawarden.report.gather import Bundle, RunRow
from tests.api.test_api_pg import BACKENDS, Api, _audit, _stored
from tests.api.test_api_pg import api as api  # the session's one replay, two stores
from tests.api.test_api_pg import replayed as replayed

# under pytest-xdist on the same worker as its sibling module (SHARED_SCOPES, tests/conftest.py)
pytestmark = pytest.mark.slow


def _full_bundle(target: db.StoreTarget, alert_id: str) -> Bundle:
    if isinstance(target, str):
        import psycopg

        with psycopg.connect(target) as conn:
            return gather(conn, alert_id)
    lite = sqlite3.connect(target)
    try:
        return gather(lite, alert_id)
    finally:
        lite.close()


def _normalised(html: str, digest: str, runs: tuple[RunRow, ...]) -> str:
    html = html.replace(digest, "DIGEST")
    for r in runs:
        html = html.replace(r.run_id, "RUN").replace(r.started, "START")
        html = html.replace(r.finished or "\x00", "FINISH")
    return re.sub(r" Generated [^.<]*\.", " Generated …", html)


def _report(api: Api, backend: str, who: str, alert_id: str) -> tuple[int, str, str]:
    """Status, HTML and the evidence digest the download was audited with."""
    before = len(_audit(api, backend))
    r = api.call(backend, "GET", who, f"/api/alerts/{alert_id}/report.html")
    if r.status_code != 200:
        assert len(_audit(api, backend)) == before, "a refused report is not a download"
        return r.status_code, r.text, ""
    assert r.headers["content-type"].startswith("text/html")
    [entry] = _audit(api, backend)[before:]
    assert entry["action"] == "report.download"
    assert entry["actor"] == f"token:{who}"
    assert entry["detail"]["format"] == "html"
    return 200, r.text, str(entry["detail"]["evidence_sha256"])


def _runs(api: Api, alert_id: str) -> dict[str, tuple[RunRow, ...]]:
    return {b: _full_bundle(api.replayed.targets[b], alert_id).runs for b in BACKENDS}


def _with_findings(api: Api) -> list[str]:
    """Alert ids whose report cites detector findings (the report has something to compare)."""
    ids = sorted(_stored(api.replayed.targets["postgres"]))
    assert ids
    pg = api.replayed.targets["postgres"]
    return [i for i in ids if _full_bundle(pg, i).findings]


def test_the_reports_over_the_api_are_the_same_on_both_stores(api: Api) -> None:
    ids = _with_findings(api)
    assert ids, "the simulated incidents have detector findings"
    shown = matched = 0
    for alert_id in ids:
        runs = _runs(api, alert_id)
        got = {b: _report(api, b, "analyst", alert_id) for b in BACKENDS}
        assert got["postgres"][0] == got["sqlite"][0], (alert_id, got["postgres"][1])
        if got["postgres"][0] != 200:  # test_every_report_renders: a map bug in report/
            continue
        html = {}
        for b, (_, text, digest) in got.items():
            assert digest in text
            html[b] = _normalised(text, digest, runs[b])
        assert "RUN" in html["postgres"]
        assert "DIGEST" in html["postgres"]
        assert "Generated …" in html["postgres"]
        assert html["postgres"] == html["sqlite"], alert_id
        shown += 1
        full = _full_bundle(api.replayed.targets["postgres"], alert_id)
        matched += sum(1 for f in full.findings for m in f.matches if m.rows)
    assert shown >= len(ids) - 1, "reports compared"
    assert matched > 0, "raw messages retained on PostgreSQL back the findings"


def test_every_report_renders(api: Api) -> None:
    # one alert's map used to fail: a clipped, projected coastline self-intersected
    # (GEOSException, a 500 on either store); report/mapsvg.py repairs it now
    for alert_id in _with_findings(api):
        status, text, _ = _report(api, "sqlite", "analyst", alert_id)
        assert status == 200, (alert_id, text)


def test_an_ally_gets_a_report_only_where_it_may_read_the_alert(api: Api) -> None:
    stored = sorted(_stored(api.replayed.targets["postgres"]))
    seen: dict[int, int] = {200: 0, 404: 0}
    for alert_id in stored:
        for b in BACKENDS:
            may = api.call(b, "GET", "dnk", f"/api/alerts/{alert_id}").status_code
            status, text, _ = _report(api, b, "dnk", alert_id)
            assert status == may, (b, alert_id, text)
            seen[status] += 1
            if status == 404:  # the answer for an id that does not exist
                assert f"no alert {alert_id}" in text
        if may == 200:
            # the ally's report shows the revisions it may read; equal on both stores
            runs = _runs(api, alert_id)
            both = {b: _report(api, b, "dnk", alert_id) for b in BACKENDS}
            norm = {b: _normalised(both[b][1], both[b][2], runs[b]) for b in BACKENDS}
            assert norm["postgres"] == norm["sqlite"], alert_id
    assert seen[200], seen  # the replay has alerts of both kinds for Denmark
    assert seen[404], seen


def test_the_pdf_report_on_postgres(api: Api) -> None:
    import shutil

    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        pytest.skip("no Chromium to print the PDF")
    alert_id = next(
        i for i in _with_findings(api) if _report(api, "postgres", "analyst", i)[0] == 200
    )
    r = api.call("postgres", "GET", "analyst", f"/api/alerts/{alert_id}/report.pdf")
    assert r.status_code == 200, r.text
    assert r.content.startswith(b"%PDF-")
    entry: dict[str, Any] = _audit(api, "postgres")[-1]
    assert entry["action"] == "report.download"
    assert entry["detail"]["format"] == "pdf"
    r = api.call("postgres", "GET", "dnk", "/api/alerts/no-such-alert/report.pdf")
    assert r.status_code == 404, r.text
