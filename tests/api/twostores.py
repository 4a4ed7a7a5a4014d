"""One replay, two stores: the data the PostgreSQL-vs-SQLite API comparisons ask about.

A replay of simulated incidents over real Baltic traffic (``seawarden simulate`` on the
2020-11-01 cargo background, then ``seawarden replay --store``, once into a SQLite file and
once into a PostgreSQL schema of its own, both with a subscription whose e-mail channel
cannot be reached, so the outbox fills and its rows die), and an ``Api`` asking both.

It costs about half a minute, so it is made once per test session (per xdist worker) by
the ``two_stores`` / ``two_store_api`` fixtures in tests/api/conftest.py and shared by
tests/api/test_api_pg.py and tests/api/test_report_api_pg.py. Those tests may add audit
entries and put a dead delivery back (the same on both stores); none of them changes
alerts, vessels or positions, and none depends on another's writes.

PostgreSQL comes from ``.venv/seawarden-test-pg.dsn`` or ``SEAWARDEN_TEST_PG_DSN``, as in
tests/store/conftest.py; without one these tests skip (in CI they fail).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx2
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from seawarden.alerts.subscriptions import load_subscriptions
from seawarden.api import ApiSettings, create_app, db, tokens
from seawarden.api.db import StoreTarget
from seawarden.cli import app
from tests.conftest import REPO, SHARED_DATA

BALTIC = SHARED_DATA / "tracks/baltic-cargo-2020/baltic_cargo_20201101.csv"
DSN_FILE = REPO / ".venv" / "seawarden-test-pg.dsn"
BACKENDS = ("sqlite", "postgres")
DNK_AREAS = ("nord-stream", "c-lion1")
# One subscription for everything releasable to Denmark; its e-mail channel points at a
# closed loopback port and gives up after one attempt, so deliveries end as dead letters.
SUBSCRIPTIONS = """\
subscriptions:
  - id: dnk-all
    recipient: "Denmark - test"
    nation: DNK
    cleared_for: "REL DNK"
    areas: all
    min_severity: info
    channels:
      - kind: email
        target: "duty@example.invalid"
        options: {smtp_host: 127.0.0.1, smtp_port: 9, from: seawarden@localhost,
                  max_attempts: 1, timeout_s: 2}
"""
runner = CliRunner()


# -- PostgreSQL: a schema per module (or per test) ------------------------------------------------


def base_dsn(*, module_level: bool = False) -> str:
    """The test server's DSN, checked to answer with PostGIS; skips (fails in CI) without it.
    ``module_level``: called at import time of a test module (test_schemathesis_pg.py)."""
    try:
        import psycopg
    except ImportError:
        pytest.skip(
            "psycopg is not installed: pip install -e '.[dev]'", allow_module_level=module_level
        )
    dsn = os.environ.get("SEAWARDEN_TEST_PG_DSN") or (
        DSN_FILE.read_text().strip() if DSN_FILE.is_file() else ""
    )
    why = ""
    if not dsn:
        why = f"no PostgreSQL for the API tests: run `make postgres` (writes {DSN_FILE})"
    else:
        try:
            with psycopg.connect(dsn, connect_timeout=5) as conn:
                conn.execute("SELECT postgis_version()")
        except psycopg.Error as exc:
            why = f"PostgreSQL at {dsn} does not answer with PostGIS: {exc}"
    if why:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL API tests: {why}", pytrace=False)
        pytest.skip(why, allow_module_level=module_level)
    return dsn


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """A DSN whose tables land in a fresh schema (``search_path=<schema>,public``; PostGIS
    stays in ``public``), dropped afterwards."""
    import psycopg

    base = base_dsn()
    schema = f"t_api_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    opt = quote(f"-c search_path={schema},public", safe="")
    try:
        yield f"{base}{'&' if '?' in base else '?'}options={opt}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def cli(*args: str) -> str:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, (r.stdout, r.stderr, r.exception)
    return r.stdout


# -- one replay, two stores -----------------------------------------------------------------------


@dataclass(frozen=True)
class Replayed:
    targets: dict[str, StoreTarget]
    secrets: dict[str, dict[str, str]]  # backend -> token name -> secret
    subscriptions: Path
    nmea: Path


TOKENS: list[dict[str, Any]] = [
    {"name": "ops-admin", "role": "admin"},
    {"name": "analyst", "role": "analyst"},
    {"name": "dnk", "role": "ally", "nation": "DNK", "areas": DNK_AREAS},
    {"name": "usa", "role": "ally", "nation": "USA", "areas": ("all",)},
]


def add_tokens(target: StoreTarget) -> dict[str, str]:
    out = {}
    with db.connection(target) as conn:
        for spec in TOKENS:
            out[spec["name"]], _ = tokens.create(conn, actor="test", **spec)
    return out


@contextlib.contextmanager
def replay_two_stores(d: Path) -> Iterator[Replayed]:
    """The replay in ``d`` (a SQLite file) and in a fresh PostgreSQL schema, dropped after."""
    if not BALTIC.is_file():
        pytest.skip(f"shared data missing: {BALTIC}")
    subs = d / "subs.yaml"
    subs.write_text(SUBSCRIPTIONS)
    cli("simulate", "--background", str(BALTIC), "--out", str(d / "sim.nmea"),
        "--labels", str(d / "labels.jsonl"), "--seed", "7")  # fmt: skip
    with pg_schema() as dsn:
        targets: dict[str, StoreTarget] = {"sqlite": d / "w.db", "postgres": dsn}
        for target in targets.values():
            cli("replay", str(d / "sim.nmea"), "--areas", str(REPO / "config/areas.geojson"),
                "--watchlist", str(REPO / "config/watchlist.csv"), "--store", str(target),
                "--subscriptions", str(subs), "-q")  # fmt: skip
            db.ensure_schema(target)
            # at least the oldest delivery of the lane dies (its first attempt fails); how many
            # more the replay's own worker got to depends on timing, so statuses may differ
            cli("deliver", "--store", str(target), "--subscriptions", str(subs), "--once")
        secrets = {b: add_tokens(t) for b, t in targets.items()}
        yield Replayed(targets=targets, secrets=secrets, subscriptions=subs, nmea=d / "sim.nmea")


class Api:
    """One TestClient per store; ``get(name, url)`` asks both and returns both answers."""

    def __init__(self, replayed: Replayed, clients: dict[str, TestClient]) -> None:
        self.replayed = replayed
        self.clients = clients

    def auth(self, backend: str, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.replayed.secrets[backend][name]}"}

    def call(self, backend: str, method: str, who: str, url: str, **kw: Any) -> httpx2.Response:
        r: httpx2.Response = self.clients[backend].request(
            method, url, headers=self.auth(backend, who), **kw
        )
        return r

    def get(self, who: str, url: str, **params: Any) -> dict[str, Any]:
        """The JSON answers of both stores; asserts both answered 200."""
        out = {}
        for b in BACKENDS:
            r = self.call(b, "GET", who, url, params=params)
            assert r.status_code == 200, (b, url, r.text)
            out[b] = r.json()
        return out

    def same(self, who: str, url: str, **params: Any) -> Any:
        both = self.get(who, url, **params)
        assert both["postgres"] == both["sqlite"], url
        return both["postgres"]


@contextlib.contextmanager
def serve_two_stores(replayed: Replayed) -> Iterator[Api]:
    """One TestClient per store of ``replayed``, closed (and idle connections too) after."""
    subs = {s.id: s for s in load_subscriptions(replayed.subscriptions)}
    clients = {}
    for b, target in replayed.targets.items():
        app_ = create_app(ApiSettings(store=target, max_page=25, subscriptions=subs))
        clients[b] = TestClient(app_, raise_server_exceptions=False).__enter__()
    try:
        yield Api(replayed, clients)
    finally:
        for c in clients.values():
            c.__exit__(None, None, None)
        db.close_idle()  # before the schema is dropped
