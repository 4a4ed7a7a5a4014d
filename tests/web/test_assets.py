"""What the console ships: nothing from outside, no inline code, vendored files as recorded,
and the data-testid contract of docs/console.md kept by the code."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from seawarden.web import STATIC_DIR

ROOT = Path(__file__).resolve().parents[2]
VENDOR = STATIC_DIR / "vendor"
TEXT_SUFFIXES = {".html", ".js", ".css", ".svg"}
URL = re.compile(r"https?://[^\s\"'<>)]+")

# URLs in vendored code that load nothing: an XML namespace, and Leaflet's default
# attribution link (the console replaces that prefix with plain text).
HARMLESS = {"http://www.w3.org/2000/svg", "https://leafletjs.com"}


def _shipped(suffixes: set[str]) -> list[Path]:
    return sorted(p for p in STATIC_DIR.rglob("*") if p.is_file() and p.suffix in suffixes)


def _own() -> list[Path]:
    return [p for p in _shipped(TEXT_SUFFIXES) if VENDOR not in p.parents]


def _in_comment(line: str, start: int) -> bool:
    before = line[:start]
    stripped = line.lstrip()
    return (
        stripped.startswith(("*", "/*", "//", "<!--"))
        or "//" in before.replace("http://", "").replace("https://", "")
        or "/*" in before
    )


@pytest.mark.parametrize("path", _own(), ids=lambda p: p.relative_to(STATIC_DIR).as_posix())
def test_own_files_name_no_external_url(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [u for u in URL.findall(text) if u != "http://www.w3.org/2000/svg"]
    assert not found, f"{path.name} refers to {found}"


@pytest.mark.parametrize(
    "path",
    [p for p in _shipped(TEXT_SUFFIXES) if VENDOR in p.parents],
    ids=lambda p: p.relative_to(STATIC_DIR).as_posix(),
)
def test_vendored_files_load_nothing_from_outside(path: Path) -> None:
    for line in path.read_text(encoding="utf-8").splitlines():
        for m in URL.finditer(line):
            url = m.group(0).rstrip(".,;")
            if url in HARMLESS or _in_comment(line, m.start()):
                continue
            pytest.fail(f"{path.name}: {url} outside a comment")


def test_page_has_no_inline_script_or_style() -> None:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, tag
    assert re.search(r"<script\b[^>]*>[^<]*\S[^<]*</script>", html) is None  # empty bodies
    assert "<style" not in html
    assert re.search(r"\sstyle=", html) is None
    assert re.search(r"\son[a-z]+=", html) is None  # no inline event handlers


@pytest.mark.parametrize("path", sorted((STATIC_DIR / "js").glob("*.js")), ids=lambda p: p.name)
def test_own_scripts_build_the_page_as_text(path: Path) -> None:
    """Data is put in the page with textContent: no HTML strings, no eval, no style attribute."""
    code = path.read_text(encoding="utf-8")
    for bad in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                "new Function", "setAttribute('style'", 'setAttribute("style"'):  # fmt: skip
        assert bad not in code, f"{path.name} uses {bad}"


def _provenance(lib: str) -> tuple[str, dict[str, str]]:
    text = (VENDOR / lib / "PROVENANCE.md").read_text(encoding="utf-8")
    version = re.search(r"^- \*\*Version\*\*: (\S+)$", text, re.M)
    assert version is not None
    rows = dict(re.findall(r"^\| `([^`]+)` \| `[^`]+` \| `([0-9a-f]{64})` \|$", text, re.M))
    return version.group(1), rows


@pytest.mark.parametrize(
    ("lib", "main", "banner"),
    [
        ("leaflet", "leaflet.js", "Leaflet {v}, a JS library for interactive maps"),
        ("uplot", "uPlot.esm.js", "https://github.com/leeoniya/uPlot (v{v})"),
    ],
)
def test_vendored_files_match_their_provenance(lib: str, main: str, banner: str) -> None:
    version, rows = _provenance(lib)
    assert main in rows
    assert "LICENSE" in rows
    on_disk = {
        p.relative_to(VENDOR / lib).as_posix()
        for p in (VENDOR / lib).rglob("*")
        if p.is_file() and p.name != "PROVENANCE.md"
    }
    assert on_disk == set(rows), "every vendored file is recorded, and only those"
    for name, digest in rows.items():
        assert hashlib.sha256((VENDOR / lib / name).read_bytes()).hexdigest() == digest, name
    head = (VENDOR / lib / main).read_text(encoding="utf-8")[:600]
    assert banner.format(v=version) in head


def test_the_page_uses_the_vendored_builds() -> None:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    assert "/static/vendor/leaflet/leaflet.js" in html
    assert "/static/vendor/leaflet/leaflet.css" in html
    assert "/static/vendor/uplot/uPlot.min.css" in html
    plot = (STATIC_DIR / "js" / "plot.js").read_text(encoding="utf-8")
    assert "from '../vendor/uplot/uPlot.esm.js'" in plot


def _documented_testids() -> set[str]:
    doc = (ROOT / "docs" / "console.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", doc, re.M))


def _testids_in_code() -> set[str]:
    found: set[str] = set()
    found |= set(re.findall(r'data-testid="([a-z0-9-]+)"', (STATIC_DIR / "index.html").read_text()))
    for js in (STATIC_DIR / "js").glob("*.js"):
        code = js.read_text(encoding="utf-8")
        found |= set(re.findall(r"testid: '([a-z0-9-]+)'", code))
        found |= set(re.findall(r"dataset\.testid = '([a-z0-9-]+)'", code))
    return found


def _string_literals() -> set[str]:
    found = set(re.findall(r'data-testid="([a-z0-9-]+)"', (STATIC_DIR / "index.html").read_text()))
    for js in (STATIC_DIR / "js").glob("*.js"):
        found |= set(re.findall(r"'([a-z0-9-]+)'", js.read_text(encoding="utf-8")))
    return found


def test_every_documented_testid_is_in_the_code() -> None:
    # ids passed to helpers (button(..., 'alert-ack'), table('dossier-events', ...)) count too
    missing = _documented_testids() - _string_literals()
    assert not missing, f"documented in docs/console.md but not in the console: {missing}"


def test_every_testid_in_the_code_is_documented() -> None:
    undocumented = _testids_in_code() - _documented_testids()
    assert not undocumented, f"add to docs/console.md: {sorted(undocumented)}"
