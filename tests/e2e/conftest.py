"""End-to-end fixtures: a real `seawarden serve` replaying an anchor drag, and Debian's chromium.

The scenario is the EAGLE S-style anchor drag (``anchor_drag_slowdown``, see
docs/scenarios.md) laid over real Baltic AIS (DMA, 1 Nov 2020, shifted in time only),
starting at the epoch so the alert comes ~65 min of event time into the file; the file is cut
at ``KEEP_S`` of event time and replayed at ``SPEED``, so the alert is published about
``3900 / SPEED`` s after the server starts, while the console is already open.

Browser: Debian's ``chromium`` (``make browser`` installs it as root) driven by Playwright with
``executable_path``; Playwright's own browser download does not work here. Without the
browser the tests skip, except in CI (``CI`` set), where they fail.

Artifacts (screenshots, downloaded reports, the server log) go to ``tests/e2e/artifacts/``
(git-ignored; ``SEAWARDEN_E2E_ARTIFACTS`` overrides); the path is printed at the end of the
run, and a failing test gets a ``FAILED-<test>.png`` screenshot and the server's output.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
import pytest
from pyais import NMEAMessage
from pyais.exceptions import InvalidNMEAMessageException

from seawarden.sim import simulate
from tests.conftest import REPO, SHARED_DATA

CHROMIUM = Path(os.environ.get("SEAWARDEN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(os.environ.get("SEAWARDEN_E2E_ARTIFACTS", Path(__file__).parent / "artifacts"))
BALTIC = SHARED_DATA / "tracks/baltic-cargo-2020/baltic_cargo_20201101.csv"
SCENARIO = "anchor_drag_slowdown:start_h=0"  # onset 1 h into the file, alert ~5 min later
KEEP_S = 3 * 3600  # event time kept from the file's start: 2 h of the drag after onset
SPEED = float(os.environ.get("SEAWARDEN_E2E_SPEED", "150"))  # alert ~26 s after start
START_TIMEOUT_S = 60.0  # serve: until "listening on ..."
ALERT_TIMEOUT_S = 90.0 + 3900 / SPEED  # until the API shows the anchor-drag alert
UI_TIMEOUT_MS = 15_000  # default for Playwright's waits and expect()
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
TAG_TIME = re.compile(r"(?:^|[\\,])c:(\d+)")
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")

TOKENS = {  # name -> token create arguments
    "e2e-admin": ["--role", "admin"],
    "e2e-ally-dnk": ["--role", "ally", "--nation", "DNK", "--areas", "all"],  # JEF: releasable
    "e2e-ally-usa": ["--role", "ally", "--nation", "USA", "--areas", "all"],  # not in REL JEF
}


def require_browser() -> None:
    """Skip (or, in CI, fail) at once when Debian's chromium is not installed."""
    if CHROMIUM.is_file():
        return
    reason = (
        f"{CHROMIUM} is missing: run `make browser` as root "
        "(apt-get install --no-install-recommends chromium)"
    )
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the end-to-end tests: {reason}")
    pytest.skip(reason)


# -- the scenario input ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    nmea: Path
    mmsi: int
    name: str
    corridor_ids: tuple[str, ...]
    onset_unix: int
    # mmsi -> [(tag-block c: time, "!AIVDM,...")], every input sentence by the vessel it reports
    sentences: dict[int, list[tuple[int, str]]] = field(repr=False)


def _sentences_by_mmsi(lines: list[str]) -> dict[int, list[tuple[int, str]]]:
    """Map every input sentence to the MMSI it reports (multi-part messages assembled)."""
    out: dict[int, list[tuple[int, str]]] = {}
    parts: list[tuple[int, str, NMEAMessage]] = []
    for line in lines:
        tag, _, sentence = line.rpartition("\\")
        match = TAG_TIME.search(tag)
        if not sentence.startswith("!") or match is None:
            continue
        try:
            msg = NMEAMessage(sentence.encode())
        except InvalidNMEAMessageException:
            continue
        if msg.frag_num == 1:
            parts = []
        parts.append((int(match.group(1)), sentence, msg))
        if msg.frag_num < msg.frag_cnt:
            continue  # wait for the other fragments
        if len(parts) != msg.frag_cnt:
            parts = []  # an orphan fragment: not this check's business
            continue
        whole = (
            parts[0][2]
            if len(parts) == 1
            else NMEAMessage.assemble_from_iterable([p[2] for p in parts])
        )
        try:
            mmsi = int(whole.decode().mmsi)
        except Exception:  # pyais raises several kinds for undecodable payloads
            parts = []
            continue
        out.setdefault(mmsi, []).extend((t, s) for t, s, _ in parts)
        parts = []
    return out


@pytest.fixture(scope="package")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    require_browser()  # before the work below, which is useless without a browser
    tmp = tmp_path_factory.mktemp("e2e-scenario")
    full, labels = tmp / "full.nmea", tmp / "labels.jsonl"
    (label,) = simulate(full, labels, scenarios=[SCENARIO], background=BALTIC, seed=11)
    lines = full.read_text().splitlines()
    t0 = int(TAG_TIME.search(lines[0]).group(1))  # type: ignore[union-attr]
    kept = [ln for ln in lines if int(TAG_TIME.search(ln).group(1)) <= t0 + KEEP_S]  # type: ignore[union-attr]
    nmea = tmp / "anchor_drag_baltic.nmea"
    nmea.write_text("\n".join(kept) + "\n")
    return Scenario(
        nmea=nmea,
        mmsi=label.mmsi,
        name=label.name,
        corridor_ids=label.corridor_ids,
        onset_unix=int(label.onset.timestamp()),
        sentences=_sentences_by_mmsi(kept),
    )


@pytest.fixture(scope="package", autouse=True)
def _fresh_artifacts() -> None:
    """Start each run with an empty artifacts folder (old failure screenshots mislead)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.iterdir():
        if old.is_file() and old.suffix in (".png", ".html", ".pdf", ".log"):
            old.unlink()


# -- the server -----------------------------------------------------------------------------


@dataclass(slots=True)
class Server:
    url: str
    tokens: dict[str, str]
    proc: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    started_monotonic: float = 0.0

    def tail(self, n: int = 200) -> str:
        return "".join(self.output[-n:])

    def api(self, token_name: str = "e2e-admin") -> httpx2.Client:
        return httpx2.Client(
            base_url=self.url,
            timeout=10,
            headers={"Authorization": f"Bearer {self.tokens[token_name]}"},
        )


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from seawarden.cli import main; main()", *args]


def _create_token(store: Path, name: str, extra: list[str]) -> str:
    r = subprocess.run(
        _cli("token", "create", "--store", str(store), "--name", name, *extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    if r.returncode != 0:
        pytest.fail(f"seawarden token create {name} failed ({r.returncode}):\n{r.stderr}")
    return r.stdout.strip().splitlines()[-1]


@contextlib.contextmanager
def start_server(serve_args: list[str], tmp: Path, log_name: str = "serve") -> Iterator[Server]:
    """`seawarden serve` on a fresh store under ``tmp`` with the test tokens, until exit."""
    store = tmp / "e2e.db"
    secrets = {name: _create_token(store, name, extra) for name, extra in TOKENS.items()}
    cmd = _cli("serve", "--store", str(store), "--port", "0", *serve_args)
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=tmp,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"},
    )
    srv = Server(url="", tokens=secrets, proc=proc, started_monotonic=time.monotonic())
    ready = threading.Event()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / f"{log_name}.log"

    def pump() -> None:  # keeps the pipe drained for the whole session
        assert proc.stdout is not None
        with log_path.open("w") as log:
            for line in proc.stdout:
                srv.output.append(line)
                log.write(line)
                log.flush()
                match = LISTENING.search(line)
                if match and not ready.is_set():
                    srv.url = match.group(1)
                    ready.set()
        ready.set()  # the process ended: wake the waiter

    reader = threading.Thread(target=pump, name="serve-output", daemon=True)
    reader.start()
    try:
        if not ready.wait(START_TIMEOUT_S) or not srv.url:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(5)
            rc = proc.poll()
            why = f"exited with code {rc}" if rc is not None else f"within {START_TIMEOUT_S:.0f} s"
            pytest.fail(
                f"`seawarden {' '.join(cmd[3:])}` printed no 'listening on "
                f"http://127.0.0.1:PORT' ({why}); its output:\n{srv.tail()}"
            )
        yield srv
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        reader.join(10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture(scope="package")
def server(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    args = [
        "--replay", str(scenario.nmea), "--speed", str(SPEED),
        "--areas", str(REPO / "config/areas.geojson"),
        "--watchlist", str(REPO / "config/watchlist.csv"),
    ]  # fmt: skip
    with start_server(args, tmp_path_factory.mktemp("e2e-server")) as srv:
        yield srv


@dataclass(frozen=True, slots=True, kw_only=True)
class Published:
    alert: dict[str, Any]  # the latest revision as GET /api/alerts returns it
    seen_monotonic: float  # when the test first saw it through the API

    @property
    def id(self) -> str:
        return str(self.alert["id"])


def poll_anchor_drag_alert(server: Server, scenario: Scenario) -> dict[str, Any] | None:
    with server.api() as http:
        r = http.get("/api/alerts", params={"mmsi": scenario.mmsi})
    r.raise_for_status()
    for item in r.json()["items"]:
        if "anchor_drag" in item["alert"].get("detectors", []):
            return dict(item["alert"])
    return None


def wait_for_anchor_drag_alert(server: Server, scenario: Scenario) -> Published:
    deadline = time.monotonic() + ALERT_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"seawarden serve exited ({server.proc.returncode}):\n{server.tail()}")
        alert = poll_anchor_drag_alert(server, scenario)
        if alert is not None:
            return Published(alert=alert, seen_monotonic=time.monotonic())
        time.sleep(0.2)  # polling interval, not a correctness wait
    pytest.fail(
        f"no anchor_drag alert for MMSI {scenario.mmsi} in GET /api/alerts within "
        f"{ALERT_TIMEOUT_S:.0f} s of replay at {SPEED}x; server output:\n{server.tail()}"
    )


@pytest.fixture(scope="package")
def published(server: Server, scenario: Scenario) -> Published:
    """The anchor-drag alert, once the server has published it (bounded wait)."""
    return wait_for_anchor_drag_alert(server, scenario)


# -- the browser ----------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@dataclass(slots=True)
class Recorded:
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


@pytest.fixture
def recorded() -> Recorded:
    return Recorded()


@pytest.fixture
def new_page(
    browser: Any, recorded: Recorded, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Any]]:
    """Pages in fresh contexts (own storage); every request and console error is recorded."""
    contexts: list[Any] = []

    def make() -> Any:
        ctx = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
        ctx.set_default_timeout(UI_TIMEOUT_MS)
        ctx.on("request", lambda r: recorded.requests.append(r.url))
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("websocket", lambda ws: recorded.requests.append(ws.url))
        page.on(
            "console",
            lambda m: recorded.console_errors.append(m.text) if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: recorded.console_errors.append(f"pageerror: {e}"))
        return page

    yield make
    failed = getattr(request.node, "rep_call", None)
    for i, ctx in enumerate(contexts):
        if failed is not None and failed.failed:
            for j, page in enumerate(ctx.pages):
                path = ARTIFACTS / f"FAILED-{request.node.name}-{i}{j}.png"
                try:
                    page.screenshot(path=str(path), full_page=True)
                    print(f"failure screenshot: {path}")
                except Exception as exc:  # the page may be gone; the test's error matters more
                    print(f"no failure screenshot ({exc})")
        ctx.close()


@pytest.fixture
def page(new_page: Callable[[], Any]) -> Any:
    return new_page()


def shot(target: Any, name: str) -> tuple[Path, bytes]:
    """Screenshot a page or locator into the artifacts folder; return the path and the PNG."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    data: bytes = target.screenshot(path=str(path))
    print(f"screenshot: {path}")
    return path, data


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.hostname in LOOPBACK_HOSTS or (parts.hostname or "").startswith("127.")


# -- reporting ------------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    if rep.failed:
        srv = getattr(item, "funcargs", {}).get("server")
        if isinstance(srv, Server):
            rep.sections.append(("seawarden serve output (last 200 lines)", srv.tail()))
        rec = getattr(item, "funcargs", {}).get("recorded")
        if isinstance(rec, Recorded) and rec.console_errors:
            rep.sections.append(("browser console errors", "\n".join(rec.console_errors)))
    return rep


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if ARTIFACTS.is_dir() and any(ARTIFACTS.iterdir()):
        terminalreporter.write_line(f"e2e artifacts (screenshots, reports, serve.log): {ARTIFACTS}")
