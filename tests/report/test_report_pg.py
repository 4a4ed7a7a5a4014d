"""The incident evidence report from a PostgreSQL store is the report from SQLite.

The same real replays the SQLite report tests use (the simulated anchor drag over real
Baltic AIS, conftest.py; the Solent dark ship tracked by the simulated Calshot radar,
test_fusion_evidence.py) are written to a PostgreSQL store too, and the reports compared.
Normalised, because they must differ between two runs: the run ids (random per run) and
the runs' wall-clock start/finish times; in the HTML also the "Generated …" time and the
evidence digest printed in it (it covers the run ids). Nothing
else: revisions, vessel, identity history, findings, every matched raw message (bytes,
stations, lines, digests), the track and the runs' configuration digests must be equal, and
so the evidence digest.
"""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from seawarden.cli import app
from seawarden.errors import StoreError
from seawarden.pipeline.replay import Replay
from seawarden.pipeline.settings import RunConfig
from seawarden.report import evidence_digest, gather, render_html
from seawarden.report.digest import evidence_document
from seawarden.report.gather import Bundle, ReportError
from seawarden.store.evidence import ContactRow
from seawarden.store.postgres import PostgresStore
from tests.factories import T0
from tests.report.conftest import Replayed, config
from tests.report.conftest import replayed as replayed  # the session fixture (one replay)
from tests.report.test_fusion_evidence import DarkRun
from tests.report.test_fusion_evidence import config as fusion_config
from tests.report.test_fusion_evidence import dark as dark  # the module fixture
from tests.store.conftest import pg_base_dsn as pg_base_dsn  # the PostgreSQL fixtures
from tests.store.conftest import pg_dsn as pg_dsn


def replay_pg(dsn: str, feed: Path, cfg: RunConfig) -> None:
    store = PostgresStore(dsn)
    try:
        Replay([feed], cfg, store=store).run()
    finally:
        store.close()


def gather_sqlite(db: Path, alert_id: str) -> Bundle:
    conn = sqlite3.connect(db)
    try:
        return gather(conn, alert_id)
    finally:
        conn.close()


def gather_pg(dsn: str, alert_id: str) -> Bundle:
    store = PostgresStore(dsn)
    try:
        return gather(store.connection, alert_id)
    finally:
        store.close()


def normalised(pg: Bundle, lite: Bundle) -> Bundle:
    """``pg`` with ``lite``'s runs, once the runs agree in all but id and wall-clock times."""
    assert len(pg.runs) == len(lite.runs) == 1
    for a, b in zip(pg.runs, lite.runs, strict=True):
        assert a.run_id != b.run_id
        same = dataclasses.replace(a, run_id=b.run_id, started=b.started, finished=b.finished)
        assert same == b
    return dataclasses.replace(pg, runs=lite.runs)


def assert_same_report(pg: Bundle, lite: Bundle) -> None:
    assert pg.findings, "the alert has findings"
    assert pg.evidence_table
    assert pg.contact_table
    pg = normalised(pg, lite)
    assert evidence_document(pg) == evidence_document(lite)
    assert evidence_digest(pg) == evidence_digest(lite)
    assert pg == lite  # everything, incl. what only the HTML shows (areas, window)
    assert render_html(pg, generated=T0) == render_html(lite, generated=T0)


@pytest.fixture(scope="module")
def drag_pg(replayed: Replayed, pg_base_dsn: str) -> Any:
    """The anchor-drag replay, written to a PostgreSQL schema of this module's own."""
    yield from _schema_with(pg_base_dsn, lambda dsn: replay_pg(dsn, replayed.nmea, config()))


def _schema_with(base: str, fill: Any) -> Any:
    import uuid

    import psycopg

    from tests.store.conftest import with_schema

    schema = f"r_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        dsn = with_schema(base, schema)
        fill(dsn)
        yield dsn
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def test_the_anchor_drag_report_on_postgres_is_the_sqlite_report(
    replayed: Replayed, drag_pg: str
) -> None:
    lite = gather_sqlite(replayed.store, replayed.alert_id)
    pg = gather_pg(drag_pg, replayed.alert_id)
    matched = [m for f in pg.findings for m in f.matches]
    assert len(matched) >= 20
    assert all(m.exact for m in matched)  # each cited line retained on PostgreSQL
    assert_same_report(pg, lite)


def test_the_fusion_report_on_postgres_shows_the_same_radar_lines(
    dark: DarkRun, pg_base_dsn: str
) -> None:
    for dsn in _schema_with(pg_base_dsn, lambda d: replay_pg(d, dark.feed, fusion_config())):
        lite = gather_sqlite(dark.store, dark.alert_id)
        pg = gather_pg(dsn, dark.alert_id)
        contacts = [
            r for f in pg.findings for m in f.matches for r in m.rows if isinstance(r, ContactRow)
        ]
        assert len(contacts) >= 10  # the TTM sentences behind dark_tracked
        assert_same_report(pg, lite)


def _normalise_html(html: str, b: Bundle) -> str:
    # the digest covers the run ids; the normalised bundles' digests are compared apart
    html = html.replace(evidence_digest(b), "DIGEST")
    for r in b.runs:
        html = html.replace(r.run_id, "RUN").replace(r.started, "START")
        html = html.replace(r.finished or "\x00", "FINISH")
    return re.sub(r" Generated [^.<]*\.", " Generated …", html)


def test_the_cli_writes_the_same_report_from_a_dsn(
    replayed: Replayed, drag_pg: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    out_pg, out_lite = tmp_path / "pg.html", tmp_path / "lite.html"
    res = runner.invoke(
        app, ["report", replayed.alert_id, "--store", drag_pg, "--out", str(out_pg)]
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app, ["report", replayed.alert_id, "--store", str(replayed.store), "--out", str(out_lite)]
    )
    assert res.exit_code == 0, res.output
    pg, lite = (
        gather_pg(drag_pg, replayed.alert_id),
        gather_sqlite(replayed.store, replayed.alert_id),
    )
    html_pg = _normalise_html(out_pg.read_text(encoding="utf-8"), pg)
    html_lite = _normalise_html(out_lite.read_text(encoding="utf-8"), lite)
    assert "RUN" in html_pg
    assert "DIGEST" in html_pg
    assert "Generated …" in html_pg
    assert html_pg == html_lite
    res = runner.invoke(app, ["report", replayed.alert_id, "--store", drag_pg, "--digest"])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == evidence_digest(pg)
    assert evidence_digest(normalised(pg, lite)) == evidence_digest(lite)


def test_the_cli_on_postgres_fails_cleanly(drag_pg: str, pg_base_dsn: str) -> None:
    """Errors are SeawardenErrors (main() prints them as "error: …"), the DSN's password
    never in them."""
    runner = CliRunner()
    res = runner.invoke(app, ["report", "no-such-alert", "--store", drag_pg, "--digest"])
    assert res.exit_code != 0
    assert isinstance(res.exception, ReportError)
    assert "no alert no-such-alert" in str(res.exception)
    bad = re.sub(r"://([^@/]*@)?", "://seawarden:s3cret@", pg_base_dsn, count=1)
    res = runner.invoke(app, ["report", "x", "--store", bad, "--digest"])
    assert isinstance(res.exception, StoreError)
    assert "PGPASSWORD" in str(res.exception)
    assert "s3cret" not in str(res.exception)
    res = runner.invoke(app, ["report", "x", "--store", "postgresql://127.0.0.1:1/x", "--digest"])
    assert isinstance(res.exception, StoreError)
