"""Live push and the running pipeline, over real HTTP (uvicorn on 127.0.0.1:0).

The feed is a simulated EAGLE S-style anchor drag (``seawarden.sim``) replayed as a paced
live feed in the pipeline's own thread, exactly as ``seawarden serve --replay`` runs it.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from seawarden.api import ApiSettings, create_app, db, managed, tokens
from seawarden.api.link import PipelineLink
from seawarden.api.serve import ServeOptions, build_link, seed_managed
from seawarden.ingest.files import open_source
from seawarden.model import Rejection
from seawarden.sim import simulate
from seawarden.store.sqlite import SQLiteStore
from tests.conftest import REPO, SHARED_DATA

SOLENT = SHARED_DATA / "tracks/solent"
AREAS = REPO / "config/areas.geojson"


@pytest.fixture(scope="module")
def drag_feed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("feed")
    out = d / "drag.nmea"
    simulate(
        out,
        d / "labels.jsonl",
        scenarios=["anchor_drag_slowdown:start_h=0,pre_min=15"],
        background=None,
        seed=1,
    )
    return out


@dataclass
class Service:
    url: str
    secrets: dict[str, str]
    link: PipelineLink
    start: Callable[[], None]

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[name]}"}


@contextlib.contextmanager
def service(
    tmp: Path, feed: Path, speed: float, areas: Path | None = AREAS, **settings: Any
) -> Iterator[Service]:
    store_path = tmp / "live.db"
    store = SQLiteStore(store_path)
    db.ensure_schema(store_path)
    secrets: dict[str, str] = {}
    with db.connection(store_path) as conn:
        for name, role, nation in [("admin", "admin", None), ("gbr", "ally", "GBR"),
                                   ("usa", "ally", "USA")]:  # fmt: skip
            token_areas = None if role == "admin" else ("all",)
            secrets[name], _ = tokens.create(
                conn, name=name, role=role, actor="test", nation=nation, areas=token_areas
            )
    opts = ServeOptions(store=store_path, replay=[feed], speed=speed)
    seed_managed(store_path, areas, [REPO / "config/watchlist.csv"])
    link = build_link(opts, store, [])
    app = create_app(ApiSettings(store=store_path, **settings), link=link)
    sock = socket.socket()
    # small kernel buffers (inherited by accepted sockets), so a client that stops reading
    # blocks the server's writes after kilobytes, not megabytes
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2))
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield Service(
            url, secrets, link, lambda: link.start(lambda r, stop: r.run_paced([feed], speed, stop))
        )
    finally:
        link.hub.close_all()
        server.should_exit = True
        thread.join(10)
        link.stop(10)
        store.close()
        sock.close()


@dataclass
class Reader:
    """Reads one SSE stream in a thread and keeps its frames."""

    url: str
    headers: dict[str, str]
    frames: list[tuple[str, Any]] = field(default_factory=list)
    ended: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            with httpx2.stream("GET", self.url + "/api/stream", headers=self.headers,
                               timeout=httpx2.Timeout(10, read=30)) as r:  # fmt: skip
                kind = None
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: ") and kind is not None:
                        self.frames.append((kind, orjson.loads(line[6:])))
        except httpx2.HTTPError:
            pass
        finally:
            self.ended.set()

    def kinds(self, kind: str) -> list[Any]:
        return [d for k, d in list(self.frames) if k == kind]


def wait_for(cond: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)  # pacing the poll; the condition decides


def test_alert_frames_reach_staff_and_only_releasable_ones_reach_allies(
    tmp_path: Path, drag_feed: Path
) -> None:
    with service(tmp_path, drag_feed, 3000.0, heartbeat_s=0.5) as svc:
        staff = Reader(svc.url, svc.auth("admin"))
        gbr = Reader(svc.url, svc.auth("gbr"))
        usa = Reader(svc.url, svc.auth("usa"))
        for r in (staff, gbr, usa):
            wait_for(lambda r=r: bool(r.kinds("heartbeat")), 10, "the first heartbeat")
        svc.start()
        wait_for(lambda: not svc.link.running and svc.link.runner.records > 0, 60, "the feed")
        total = sum(svc.link.runner.alerts.values())
        assert total >= 1, "the drag must raise an alert"
        wait_for(lambda: len(staff.kinds("alert")) == total, 10, "every alert revision")
        beats = len(usa.kinds("heartbeat"))
        wait_for(lambda: len(usa.kinds("heartbeat")) > beats, 5, "a later heartbeat")
        assert staff.kinds("position")
        assert {a["id"] for a in gbr.kinds("alert")} == {a["id"] for a in staff.kinds("alert")}
        assert all(a["releasability"] == "REL JEF" for a in gbr.kinds("alert"))
        assert not gbr.kinds("position")
        assert not usa.kinds("alert")  # REL JEF does not release to the USA
        assert not usa.kinds("position")
        # the vessel list is the pipeline's memory, with its open alert
        v = httpx2.get(svc.url + "/api/vessels", headers=svc.auth("admin")).json()["items"]
        assert v[0]["risk_level"] in ("medium", "high", "critical")
        assert v[0]["alert_id"] == staff.kinds("alert")[-1]["id"] or v[0]["alert_id"] is None


def test_slow_client_is_dropped_while_a_fast_one_is_served(tmp_path: Path, drag_feed: Path) -> None:
    with service(
        tmp_path, drag_feed, 2000.0, stream_queue=64, position_interval_s=0.0, heartbeat_s=1.0
    ) as svc:
        fast = Reader(svc.url, svc.auth("admin"))
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        slow.connect(("127.0.0.1", int(svc.url.rsplit(":", 1)[1])))
        token = svc.auth("admin")["Authorization"]
        request = f"GET /api/stream HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n\r\n"
        slow.sendall(request.encode())
        hub = svc.link.hub
        wait_for(lambda: hub.client_count == 2, 10, "both clients")
        svc.start()
        wait_for(lambda: hub.dropped_clients >= 1, 60, "the slow client to be dropped")
        got = len(fast.frames)
        wait_for(lambda: len(fast.frames) > got, 20, "the fast client to keep receiving")
        assert not fast.ended.is_set()
        assert hub.client_count == 1
        # the slow socket was closed by the server: reading drains to EOF (bounded)
        slow.settimeout(5)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if not slow.recv(65536):
                    break
            except (ConnectionResetError, TimeoutError):
                break
        else:
            pytest.fail("the slow client's connection was not closed")
        slow.close()
        m = httpx2.get(svc.url + "/metrics", headers=svc.auth("admin")).text
        fams = {f.name: f for f in text_string_to_metric_families(m)}
        assert fams["seawarden_stream_dropped_clients"].samples[0].value >= 1
        assert fams["seawarden_records"].samples[0].value > 0


def test_new_area_changes_the_running_pipeline(tmp_path: Path) -> None:
    """PUT /api/areas: the live pipeline sees the new area on the next record (area.enter
    events for a real track that never touched the configured areas)."""
    track = SOLENT / "SolentAIS_20160112_130211.csv"
    if not track.is_file():
        pytest.skip(f"shared data missing: {track}")
    records = [item for _, item in open_source(track) if not isinstance(item, Rejection)]
    assert len(records) > 1000
    half = len(records) // 2
    with service(tmp_path, track, 1.0, areas=None) as svc:
        runner = svc.link.runner  # not started: commands run at once, records fed by hand
        for rec in records[:half]:
            runner.feed_record(rec)
        assert runner.events.get("area.enter", 0) == 0  # no areas yet
        runner.tick()  # commits the store, as the live ticker does every second
        box = {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [[
                [-1.45, 50.70], [-1.0, 50.70], [-1.0, 50.85], [-1.45, 50.85], [-1.45, 50.70]]]},
            "properties": {"name": "Solent test box", "kind": "zone"},
        }  # fmt: skip
        r = httpx2.put(svc.url + "/api/areas/solent-box", json=box, headers=svc.auth("admin"))
        assert r.status_code == 201, r.text
        for rec in records[half:]:
            runner.feed_record(rec)
        runner.finish()
        assert runner.events["area.enter"] > 0
        with db.connection(tmp_path / "live.db") as conn:
            ids = {a.id for a in managed.areas(conn)}
            n = conn.execute(
                "SELECT COUNT(*) FROM events WHERE kind = 'area.enter' AND area_id = 'solent-box'"
            ).fetchone()[0]
        assert "solent-box" in ids
        assert n > 0
