"""The incident evidence report: what a coast guard hands to prosecutors about one alert.

``build_html(conn, alert_id)`` gathers the alert, its findings, the raw messages retained
for them (``store/evidence.py``), the track and the provenance from a store (``conn``: a
SQLite store file's connection or a PostgresStore's), and renders one self-contained HTML
document; :mod:`seawarden.report.pdf` prints it with headless Chromium.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from seawarden.report.digest import evidence_digest
from seawarden.report.gather import Bundle, ReportError, gather
from seawarden.report.html import render_html

if TYPE_CHECKING:
    from seawarden.report.gather import Conn

__all__ = ["Bundle", "ReportError", "build_html", "evidence_digest", "gather", "render_html"]


def build_html(
    conn: Conn,
    alert_id: str,
    revisions: Sequence[Mapping[str, Any]] | None = None,
    *,
    generated: datetime | None = None,
) -> str:
    """The HTML report of ``alert_id`` (``revisions``: those the reader may see)."""
    return render_html(gather(conn, alert_id, revisions), generated=generated)
