"""API fixtures: a store holding alerts with varied release markings, tokens for each role.

The alerts are real ``Alert`` records written through ``SQLiteStore.write_alerts`` (the
pipeline's own write path), on area ids from ``config/areas.geojson``. Vessels and
markings are chosen so each releasability rule has a case on each side of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from seawarden.alerts.model import Alert, NextCrossing, Reason
from seawarden.api import ApiSettings, create_app, db, tokens
from seawarden.store.sqlite import SQLiteStore
from tests.api import twostores

T0 = datetime(2024, 12, 25, 10, 0, tzinfo=UTC)
DNK_AREAS = ("baltic-pipe", "nord-stream")


def make_alert(alert_id: str, **overrides: Any) -> Alert:
    """An anchor-drag alert on the Eagle S pattern in the Gulf of Finland."""
    values: dict[str, Any] = {
        "id": alert_id,
        "revision": 1,
        "msg_type": "Alert",
        "mmsi": 518_998_000,
        "imo": 9329760,
        "name": "EAGLE S",
        "flag": "CK",
        "severity": "high",
        "score": 72.5,
        "event_time": T0,
        "lat": 59.95,
        "lon": 25.05,
        "area_ids": ("estlink-2",),
        "detectors": ("anchor_drag",),
        "reasons": (
            Reason(detector="anchor_drag", weight=40.0, text="anchor down at 6 kn for 40 min"),
        ),
        "next_crossing": NextCrossing(
            area_id="estlink-1", eta=T0 + timedelta(minutes=25), distance_m=5200, inside_now=False
        ),
        "watchlist": None,
        "monitored": True,
        "status": "Actual",
        "releasability": "REL JEF",
    }
    values.update(overrides)
    return Alert(**values)


def seed_alerts() -> list[Alert]:
    t = T0
    out = [
        # DNK's area but not releasable to DNK
        make_alert("a-gbrnor", releasability="REL GBR, NOR", area_ids=("baltic-pipe",),
                   next_crossing=None, event_time=t + timedelta(minutes=1)),
        # releasable (JEF) and in DNK's areas
        make_alert("a-jef-in", releasability="REL JEF", area_ids=("baltic-pipe",),
                   mmsi=219_000_001, next_crossing=None, event_time=t + timedelta(minutes=2)),
        # releasable but in nobody-DNK's area
        make_alert("a-jef-out", releasability="REL JEF", area_ids=("north-sea-link",),
                   next_crossing=None, event_time=t + timedelta(minutes=3)),
        # approaching a DNK area (next crossing) though not inside one yet
        make_alert("a-approach", releasability="REL NATO", area_ids=(),
                   next_crossing=NextCrossing(area_id="nord-stream", eta=t + timedelta(hours=1),
                                              distance_m=9000, inside_now=False),
                   event_time=t + timedelta(minutes=4), severity="medium", score=45.0),
    ]  # fmt: skip
    # three revisions: Alert, Update, Cancel (the Cancel left the area)
    base = make_alert("a-nato", releasability="REL NATO", area_ids=("nord-stream",),
                      next_crossing=None, mmsi=273_000_002, severity="critical", score=91.0,
                      event_time=t + timedelta(minutes=5))  # fmt: skip
    out += [
        base,
        replace(base, revision=2, msg_type="Update", event_time=t + timedelta(minutes=6)),
        replace(base, revision=3, msg_type="Cancel", area_ids=(), severity="low", score=10.0,
                event_time=t + timedelta(minutes=7)),
    ]  # fmt: skip
    # narrowed later: revision 1 REL JEF, revision 2 REL GBR only
    narrowed = make_alert("a-narrowed", area_ids=("baltic-pipe",), next_crossing=None,
                          event_time=t + timedelta(minutes=8))  # fmt: skip
    out += [
        narrowed,
        replace(narrowed, revision=2, msg_type="Update", releasability="REL GBR",
                event_time=t + timedelta(minutes=9)),
    ]  # fmt: skip
    # background alerts for paging and filters
    levels = ("info", "low", "medium", "high", "critical")
    for i in range(40):
        out.append(
            make_alert(
                f"bg-{i:03d}",
                mmsi=230_000_000 + i,
                severity=levels[i % 5],
                score=10.0 + i,
                event_time=t - timedelta(hours=1, minutes=i),
                area_ids=("gulf-of-finland-cables",),
                releasability="REL NATO" if i % 2 else "REL FIN, EST",
            )
        )
    return out


@dataclass(frozen=True)
class Seeded:
    store: Path
    tokens: dict[str, str]  # name -> secret

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


def build_store(path: Path, alerts: list[Alert]) -> None:
    s = SQLiteStore(path)
    s.write_alerts(alerts)
    s.close()
    db.ensure_schema(path)


def add_tokens(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    with db.connection(path) as conn:
        specs: list[dict[str, Any]] = [
            {"name": "ops-admin", "role": "admin"},
            {"name": "analyst-1", "role": "analyst"},
            {"name": "dnk-moc", "role": "ally", "nation": "DNK", "areas": DNK_AREAS},
            {"name": "gbr-all", "role": "ally", "nation": "GBR", "areas": ("all",)},
            {"name": "old-analyst", "role": "analyst"},
        ]
        for spec in specs:
            secret, _ = tokens.create(conn, actor="test", **spec)
            out[spec["name"]] = secret
        tokens.revoke(conn, "old-analyst", actor="test")
    return out


@pytest.fixture(scope="session")
def two_stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[twostores.Replayed]:
    """The Baltic replay in SQLite and in PostgreSQL (tests/api/twostores.py), made once per
    session (it takes about half a minute) for test_api_pg.py and test_report_api_pg.py."""
    with twostores.replay_two_stores(tmp_path_factory.mktemp("pg-api")) as replayed:
        yield replayed


@pytest.fixture(scope="session")
def two_store_api(two_stores: twostores.Replayed) -> Iterator[twostores.Api]:
    with twostores.serve_two_stores(two_stores) as api:
        yield api


@pytest.fixture
def seeded(tmp_path: Path) -> Seeded:
    path = tmp_path / "api.db"
    build_store(path, seed_alerts())
    return Seeded(store=path, tokens=add_tokens(path))


@pytest.fixture
def client(seeded: Seeded) -> Iterator[TestClient]:
    app = create_app(ApiSettings(store=seeded.store, max_page=25))
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
