"""``seawarden deliver --once`` works through the whole outbox, each recipient's rows in order.

It used to pick one batch (500 rows) and return: an outbox of 600 rows kept 100 pending
after a run that said it did "one pass over every pending delivery". Now it goes pass after
pass until nothing more can be sent; a recipient that fails holds back only its own rows
(pausing as the running worker does), never another's, and none of its rows overtakes the
one that failed. On SQLite and on PostgreSQL, through the CLI, to real loopback receivers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from seawarden.alerts import outbox
from seawarden.alerts.outbox import OutboxSink
from seawarden.alerts.subscriptions import load_subscriptions
from seawarden.cli import app
from seawarden.store.postgres import PostgresStore
from seawarden.store.sqlite import SQLiteStore
from tests.alerts.factories import make_alert, revise
from tests.alerts.receivers import SECRET, HttpReceiver, Request, free_port, webhook_subscription
from tests.store import conftest as store_fixtures

pg_base_dsn = store_fixtures.pg_base_dsn
pg_dsn = store_fixtures.pg_dsn

SITUATIONS = 100  # x 3 revisions x 2 subscriptions = 600 rows: more than one batch (500)


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "w.db")
    else:
        yield request.getfixturevalue("pg_dsn")


def _fill(target: str, yaml: Path) -> list[tuple[str, int]]:
    """Queue SITUATIONS situations (Alert, Update, Cancel) for every subscription."""
    revs = []
    for i in range(SITUATIONS):
        a = make_alert(id=f"{i:04d}beef", mmsi=230_000_000 + i, t=i)
        u = revise(a, "Update", score=80.0)
        revs += [a, u, revise(u, "Cancel", severity="low", score=5.0)]
    store = PostgresStore(target) if target.startswith("postgresql") else SQLiteStore(target)
    try:
        OutboxSink(store, load_subscriptions(yaml)).write(revs)
    finally:
        store.close()
    return sorted((r.id, r.revision) for r in revs)  # the outbox's order (one queue time)


def _rows(target: str) -> list[dict[str, object]]:
    if target.startswith("postgresql"):
        import psycopg

        from seawarden.alerts import outbox_pg

        with psycopg.connect(target) as conn:
            return outbox_pg.deliveries(conn, limit=10_000)
    conn = sqlite3.connect(target)
    try:
        return outbox.deliveries(conn, limit=10_000)
    finally:
        conn.close()


def _sent(requests: list[Request]) -> list[tuple[str, int]]:
    out = []
    for r in requests:
        alert = orjson.loads(r.body)["alert"]
        out.append((alert["id"], alert["revision"]))
    return out


def _deliver_once(target: str, yaml: Path) -> str:
    runner = CliRunner(env={"SEAWARDEN_SECRET_TEST_HOOK": SECRET})
    res = runner.invoke(app, ["deliver", "--store", target, "--subscriptions", str(yaml), "--once"])
    assert res.exit_code == 0, (res.output, res.exception)
    return res.stderr


def test_once_sends_every_pending_row_each_recipient_in_order(target: str, tmp_path: Path) -> None:
    with HttpReceiver() as est, HttpReceiver() as dnk:
        yaml = tmp_path / "subs.yaml"
        yaml.write_text(
            "subscriptions:\n"
            + webhook_subscription("est", "EST", "EST", est.url)
            + webhook_subscription("dnk", "DNK", "DNK", dnk.url)
        )
        order = _fill(target, yaml)
        assert len(_rows(target)) == 2 * len(order) > 500
        err = _deliver_once(target, yaml)
        assert f"{2 * len(order)} delivered" in err, err
        for rx in (est, dnk):
            assert _sent(rx.requests) == order  # all of them, oldest first, none twice
    assert {r["status"] for r in _rows(target)} == {"delivered"}


def test_a_failing_recipient_holds_back_only_its_own_rows(target: str, tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}/alerts"  # connection refused
    with HttpReceiver() as est:
        yaml = tmp_path / "subs.yaml"
        yaml.write_text(
            "subscriptions:\n"
            + webhook_subscription("down", "DOWN", "DNK", down)
            + webhook_subscription("est", "EST", "EST", est.url)
        )
        order = _fill(target, yaml)
        err = _deliver_once(target, yaml)
        assert _sent(est.requests) == order  # every one, though "down"'s rows fill a batch
    rows = _rows(target)
    mine = [r for r in rows if r["subscription_id"] == "down"]
    assert {r["status"] for r in mine} == {"pending"}  # retried later, not given up
    first = min(mine, key=lambda r: (str(r["alert_id"]), int(str(r["revision"]))))
    # only the oldest was tried (maybe more than once, after short pauses): no later row of
    # the lane went out before it
    assert [r["delivery_id"] for r in mine if int(str(r["attempts"])) > 0] == [first["delivery_id"]]
    assert f"{len(order)} still pending" in err, err


def test_a_short_pause_lets_no_later_row_overtake_the_failed_one(
    target: str, tmp_path: Path
) -> None:
    # The third request fails with Retry-After: 0; the lane's pause is over at once, yet its
    # queued rows wait for the failed row, which the next pass sends first.
    def flaky(n: int, _req: Request) -> tuple[int, dict[str, str]]:
        return (503, {"Retry-After": "0"}) if n == 3 else (200, {})

    with HttpReceiver(behaviour=flaky) as est:
        yaml = tmp_path / "subs.yaml"
        yaml.write_text("subscriptions:\n" + webhook_subscription("est", "EST", "EST", est.url))
        order = _fill(target, yaml)
        _deliver_once(target, yaml)
        sent = _sent(est.requests)
    assert sent == order[:3] + order[2:]  # the third twice, then the rest in order
    assert {r["status"] for r in _rows(target)} == {"delivered"}
