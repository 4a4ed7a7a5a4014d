"""The API over alerts the pipeline really wrote: simulated incidents over real Baltic traffic.

One replay per session (``seawarden simulate`` with the 2020-11-01 Baltic cargo background,
then ``seawarden replay --store``); the tests read its store through the API, so the
response models are checked against real ``Alert.to_dict()`` bodies, not only our own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from seawarden.alerts.releasability import releasable
from seawarden.api import ApiSettings, create_app, db, tokens
from seawarden.cli import app
from seawarden.store.sqlite import SQLiteStore
from tests.conftest import REPO, SHARED_DATA

BALTIC = SHARED_DATA / "tracks/baltic-cargo-2020/baltic_cargo_20201101.csv"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not BALTIC.is_file():
        pytest.skip(f"shared data missing: {BALTIC}")
    d = tmp_path_factory.mktemp("replayed")
    runner = CliRunner()
    sim = runner.invoke(
        app,
        ["simulate", "--background", str(BALTIC), "--out", str(d / "sim.nmea"),
         "--labels", str(d / "labels.jsonl"), "--seed", "7"],
    )  # fmt: skip
    assert sim.exit_code == 0, sim.output
    rep = runner.invoke(
        app,
        ["replay", str(d / "sim.nmea"), "--areas", str(REPO / "config/areas.geojson"),
         "--watchlist", str(REPO / "config/watchlist.csv"), "--store", str(d / "w.db"), "-q"],
    )  # fmt: skip
    assert rep.exit_code == 0, rep.output
    db.ensure_schema(d / "w.db")
    return d / "w.db"


@pytest.fixture(scope="module")
def stored(replayed: Path) -> dict[str, list[dict[str, Any]]]:
    s = SQLiteStore(replayed)
    by_id: dict[str, list[dict[str, Any]]] = {}
    for body in s.alerts():
        by_id.setdefault(body["id"], []).append(body)
    s.close()
    for revs in by_id.values():
        revs.sort(key=lambda b: b["revision"])
    assert len(by_id) >= 3, "the simulated incidents should raise several alerts"
    return by_id


@pytest.fixture(scope="module")
def api(replayed: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    secrets: dict[str, str] = {}
    with db.connection(replayed) as conn:
        for name, role, nation, areas in [
            ("analyst", "analyst", None, None),
            ("dnk", "ally", "DNK", ("nord-stream", "c-lion1")),
            ("usa", "ally", "USA", ("all",)),
        ]:
            secrets[name], _ = tokens.create(
                conn, name=name, role=role, actor="test", nation=nation, areas=areas
            )
    with TestClient(create_app(ApiSettings(store=replayed))) as client:
        yield client, {k: f"Bearer {v}" for k, v in secrets.items()}


def _list(client: TestClient, auth: str) -> list[dict[str, Any]]:
    r = client.get("/api/alerts", headers={"Authorization": auth}, params={"limit": 500})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_analyst_sees_every_pipeline_alert_at_its_latest_revision(
    api: tuple[TestClient, dict[str, str]], stored: dict[str, list[dict[str, Any]]]
) -> None:
    client, auth = api
    items = _list(client, auth["analyst"])
    assert {i["alert"]["id"] for i in items} == set(stored)
    for i in items:
        latest = stored[i["alert"]["id"]][-1]
        assert orjson.loads(orjson.dumps(i["alert"])) == latest
    one = next(iter(stored))
    detail = client.get(f"/api/alerts/{one}", headers={"Authorization": auth["analyst"]}).json()
    assert [r["revision"] for r in detail["revisions"]] == [r["revision"] for r in stored[one]]


def test_allies_see_what_their_nation_and_areas_allow(
    api: tuple[TestClient, dict[str, str]], stored: dict[str, list[dict[str, Any]]]
) -> None:
    client, auth = api
    mine = {"nord-stream", "c-lion1"}

    def about_mine(revs: list[dict[str, Any]]) -> bool:
        areas = {a for r in revs for a in r["area_ids"]}
        areas |= {r["next_crossing"]["area_id"] for r in revs if r["next_crossing"]}
        return bool(areas & mine)

    expected = {
        i for i, revs in stored.items()
        if releasable(revs[-1]["releasability"], frozenset({"DNK"})) and about_mine(revs)
    }  # fmt: skip
    assert {i["alert"]["id"] for i in _list(client, auth["dnk"])} == expected
    assert expected, "some simulated incident is on a Danish-watched corridor"
    usa_expected = {
        i for i, revs in stored.items() if releasable(revs[-1]["releasability"], frozenset({"USA"}))
    }
    assert {i["alert"]["id"] for i in _list(client, auth["usa"])} == usa_expected
    for alert_id in stored:
        r = client.get(f"/api/alerts/{alert_id}", headers={"Authorization": auth["dnk"]})
        assert r.status_code == (200 if alert_id in expected else 404)


def test_runs_show_the_replay_with_its_effective_config(
    api: tuple[TestClient, dict[str, str]], replayed: Path
) -> None:
    client, auth = api
    r = client.get("/api/runs", headers={"Authorization": auth["analyst"]})
    assert r.status_code == 200, r.text
    [run] = r.json()["items"]
    assert run["command"] == "replay"
    assert run["status"] == "complete", run
    assert run["finished"] is not None
    assert run["inputs"]
    assert run["inputs"][0].endswith("sim.nmea")
    assert run["config"]["areas"].endswith("areas.geojson")
    assert run["versions"]  # detector and software versions that produced the alerts
    assert run["stats"]["lines"] > 0
    assert client.get("/api/runs", headers={"Authorization": auth["dnk"]}).status_code == 403
