"""``seawarden report ALERT_ID --store DB --out FILE.html|.pdf``: the evidence report offline.

For the analyst preparing an exhibit without the API: the same report the console
downloads (all revisions: the CLI reads the store directly, so whoever runs it already has
the whole store), written to a file; ``--digest`` prints only the evidence digest, to check
a report handed over earlier against the store. ``--store`` is the SQLite file or the
``postgresql://`` DSN the run wrote (the same report from either, for the same replay); on
PostgreSQL the report is read in one read-only snapshot, so a pipeline writing meanwhile
cannot tear it.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from seawarden.errors import StoreError
from seawarden.report.digest import evidence_digest
from seawarden.report.gather import Bundle, gather
from seawarden.report.html import render_html
from seawarden.report.pdf import html_to_pdf


def report(
    alert_id: Annotated[str, typer.Argument(help="the alert id (as in alerts.jsonl / the API)")],
    store: Annotated[
        str,
        typer.Option(help="the store the run wrote (--store): SQLite file or postgresql:// DSN"),
    ],
    out: Annotated[
        Path | None, typer.Option(help="FILE.html or FILE.pdf (PDF needs Chromium)")
    ] = None,
    digest: Annotated[
        bool, typer.Option("--digest", help="print the evidence SHA-256 only")
    ] = False,
) -> None:
    """Write the incident evidence report of one alert (HTML or PDF)."""
    pg = store.startswith(("postgresql://", "postgres://"))
    if not pg and not Path(store).is_file():
        raise typer.BadParameter(f"{store}: no such store")
    if out is None and not digest:
        raise typer.BadParameter("give --out FILE.html|FILE.pdf (or --digest)")
    if out is not None and out.suffix.lower() not in (".html", ".htm", ".pdf"):
        raise typer.BadParameter(f"{out}: the file name must end in .html or .pdf")
    bundle = _gather_pg(store, alert_id) if pg else _gather_sqlite(Path(store), alert_id)
    sha = evidence_digest(bundle)
    if digest or out is None:
        typer.echo(sha)
        return
    html = render_html(bundle, generated=datetime.now(UTC))
    if out.suffix.lower() == ".pdf":
        out.write_bytes(html_to_pdf(html))
    else:
        out.write_text(html, encoding="utf-8")
    matched = sum(1 for f in bundle.findings for m in f.matches if m.rows)
    total = sum(len(f.matches) for f in bundle.findings)
    typer.echo(
        f"wrote {out}: {len(bundle.revisions)} revisions, {len(bundle.findings)} findings,"
        f" {matched}/{total} evidence reports matched to raw messages; evidence SHA-256 {sha}",
        err=True,
    )


def _gather_sqlite(store: Path, alert_id: str) -> Bundle:
    try:
        conn = sqlite3.connect(store)
    except sqlite3.DatabaseError as exc:  # pragma: no cover - connect is lazy
        raise StoreError(f"{store}: cannot open ({exc})") from exc
    try:
        return gather(conn, alert_id)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{store}: not a readable seawarden store ({exc})") from exc
    finally:
        conn.close()


def _gather_pg(dsn: str, alert_id: str) -> Bundle:
    """Through a PostgresStore (its DSN checks, password refusal, migrations and redacted
    errors), in one REPEATABLE READ, READ ONLY transaction, rolled back after."""
    import psycopg

    from seawarden.store.postgres import PostgresStore  # a StoreError without psycopg

    store = PostgresStore(dsn)
    conn: psycopg.Connection[Any] = store.connection
    try:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        return gather(conn, alert_id)
    except psycopg.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StoreError(f"{store.name}: not a readable seawarden store ({first})") from exc
    finally:
        conn.rollback()
        store.close()


def register(app: typer.Typer) -> None:
    app.command("report")(report)
