"""Print the HTML evidence report to PDF with headless Chromium.

The PDF must be the same document as the HTML, so the browser prints it (print CSS in
``report/style.py``) instead of a second layout engine. Chromium is found through
``SEAWARDEN_CHROMIUM`` (a path or a command name) or on ``PATH`` (``chromium``,
``chromium-browser``, ``google-chrome``). It runs offline and without state: a fresh
temporary profile, no network fetches of its own (``--disable-background-networking``,
component updates and sync off), and the report's own CSP forbids it loading anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from seawarden.errors import SeawardenError

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
TIMEOUT_S = 120.0


class PdfUnavailableError(SeawardenError):
    """No Chromium to print with (the HTML report still works)."""


class PdfFailedError(SeawardenError):
    """Chromium ran but produced no PDF."""


def find_chromium() -> str | None:
    """The Chromium executable: ``SEAWARDEN_CHROMIUM`` or the first candidate on PATH."""
    configured = os.environ.get("SEAWARDEN_CHROMIUM")
    if configured:
        return shutil.which(configured) or (configured if Path(configured).is_file() else None)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def html_to_pdf(html: str, *, chromium: str | None = None, timeout_s: float = TIMEOUT_S) -> bytes:
    """The PDF of ``html``; raises :class:`PdfUnavailableError` without Chromium."""
    exe = chromium or find_chromium()
    if exe is None:
        raise PdfUnavailableError(
            "PDF needs Chromium: install it (Debian: apt-get install chromium) or set "
            "SEAWARDEN_CHROMIUM to its path; the HTML report works without it"
        )
    with tempfile.TemporaryDirectory(prefix="seawarden-pdf-") as tmp:
        page = Path(tmp) / "report.html"
        out = Path(tmp) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--no-pdf-header-footer",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False, cwd=tmp)
        except subprocess.TimeoutExpired as exc:
            raise PdfFailedError(f"chromium did not finish within {timeout_s:.0f} s") from exc
        except OSError as exc:
            raise PdfUnavailableError(f"cannot run chromium at {exe}: {exc}") from exc
        if not out.is_file() or out.stat().st_size == 0:
            tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise PdfFailedError(
                f"chromium exited {proc.returncode} without a PDF: {' | '.join(tail)}"
            )
        return out.read_bytes()
