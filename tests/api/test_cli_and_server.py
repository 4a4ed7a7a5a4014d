"""`seawarden token ...` and `seawarden serve` end to end, over real loopback HTTP."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
import uvicorn
from typer.testing import CliRunner

from seawarden.api import ApiSettings, create_app, tokens
from seawarden.api.cli_commands import preflight
from seawarden.cli import app
from seawarden.errors import ConfigError
from tests.api.conftest import Seeded, build_store, seed_alerts
from tests.api.serving import read_line, seawarden_server  # noqa: F401 - read_line re-exported
from tests.conftest import REPO

runner = CliRunner()


def cli(*args: str) -> tuple[int, str, str, BaseException | None]:
    r = runner.invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr, r.exception


def test_token_create_prints_once_and_stores_the_digest(tmp_path: Path) -> None:
    store = tmp_path / "t.db"
    code, out, err, _ = cli(
        "token", "create", "--store", str(store), "--name", "ops", "--role", "admin"
    )
    assert code == 0, err
    secret = out.strip()
    assert tokens.TOKEN_RE.match(secret)
    assert "shown once" in err
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("t.db*"))
    assert secret.encode() not in raw
    assert tokens.digest(secret).encode() in raw
    code, out, _, _ = cli(
        "token", "create", "--store", str(store), "--name", "dnk-moc", "--role", "ally",
        "--nation", "dnk", "--areas", "baltic-pipe,nord-stream",
    )  # fmt: skip
    assert code == 0
    code, out, _, _ = cli("token", "list", "--store", str(store))
    assert "dnk-moc" in out
    assert "DNK" in out
    assert "baltic-pipe,nord-stream" in out
    assert secret not in out
    code, _, err, _ = cli("token", "revoke", "--store", str(store), "dnk-moc")
    assert code == 0, err
    conn = sqlite3.connect(store)
    audit = conn.execute("SELECT actor, action, target FROM audit ORDER BY seq").fetchall()
    conn.close()
    assert [a[1:] for a in audit] == [
        ("token.create", "token:ops"),
        ("token.create", "token:dnk-moc"),
        ("token.revoke", "token:dnk-moc"),
    ]
    assert all(a[0].startswith("cli:") for a in audit)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--role", "ally", "--nation", "DNK"], "needs --areas"),
        (["--role", "ally", "--areas", "all"], "needs --nation"),
        (["--role", "ally", "--nation", "DK", "--areas", "all"], "alpha-3"),
        (["--role", "analyst", "--areas", "x"], "ally tokens only"),
        (["--role", "root"], "unknown role"),
    ],
)
def test_token_create_refuses_bad_attributes(
    tmp_path: Path, extra: list[str], message: str
) -> None:
    code, _, _, exc = cli(
        "token", "create", "--store", str(tmp_path / "t.db"), "--name", "x", *extra
    )
    assert code != 0
    assert isinstance(exc, ConfigError)
    assert message in str(exc)


def test_duplicate_name_is_refused(tmp_path: Path) -> None:
    args = ["token", "create", "--store", str(tmp_path / "t.db"), "--name", "x", "--role", "admin"]
    assert cli(*args)[0] == 0
    code, _, _, exc = cli(*args)
    assert code != 0
    assert "already exists" in str(exc)


def test_subscription_binding_takes_nation_and_areas_from_the_file(
    tmp_path: Path, seeded: Seeded
) -> None:
    sub_file = tmp_path / "subs.yaml"
    sub_file.write_text(
        "subscriptions:\n"
        "  - id: dnk-moc\n"
        "    recipient: Denmark JOC\n"
        "    nation: DNK\n"
        '    cleared_for: "REL DNK"\n'
        "    areas: [baltic-pipe]\n"
        "    min_severity: medium\n"
        "    channels:\n"
        "      - kind: webhook\n"
        '        target: "http://127.0.0.1:8801/dnk"\n'
        "        secret: SEAWARDEN_DNK_WEBHOOK_KEY\n"
    )
    code, out, err, exc = cli(
        "token", "create", "--store", str(seeded.store), "--name", "dnk-sub", "--role", "ally",
        "--subscription", "dnk-moc", "--subscriptions", str(sub_file),
    )  # fmt: skip
    assert code == 0, (err, exc)
    from fastapi.testclient import TestClient

    from seawarden.api.cli_commands import load_subscriptions

    subs = load_subscriptions(sub_file)
    assert subs is not None
    headers = {"Authorization": f"Bearer {out.strip()}"}
    with TestClient(create_app(ApiSettings(store=seeded.store, subscriptions=subs))) as c:
        got = [i["alert"]["id"] for i in c.get("/api/alerts", headers=headers).json()["items"]]
    assert got == ["a-jef-in"]  # baltic-pipe only: not the nord-stream alerts
    # a service that does not know the subscription shows the token nothing
    with TestClient(create_app(ApiSettings(store=seeded.store))) as c:
        assert c.get("/api/alerts", headers=headers).json()["items"] == []


# -- the default-secret rule -----------------------------------------------------------------
def test_serve_refuses_without_an_admin_token(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    build_store(store, seed_alerts())
    with pytest.raises(ConfigError, match="no admin token"):
        preflight(store, demo=False)
    code, _, _, exc = cli("serve", "--store", str(store))
    assert code != 0
    assert isinstance(exc, ConfigError)


def test_serve_refuses_while_the_demo_token_is_live(seeded: Seeded) -> None:
    preflight(seeded.store, demo=False)  # a real admin token: fine
    preflight(seeded.store, demo=True)  # creates the demo token
    with pytest.raises(ConfigError, match="public demo token"):
        preflight(seeded.store, demo=False)
    assert cli("token", "revoke", "--store", str(seeded.store), tokens.DEMO_ADMIN_NAME)[0] == 0
    preflight(seeded.store, demo=False)
    with pytest.raises(ConfigError, match="revoked"):
        preflight(seeded.store, demo=True)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "example.org"])
def test_demo_is_loopback_only(tmp_path: Path, host: str) -> None:
    code, _, _, exc = cli("serve", "--store", str(tmp_path / "d.db"), "--demo", "--host", host)
    assert code != 0
    assert "loopback only" in str(exc)


# -- real HTTP ------------------------------------------------------------------------------
@pytest.fixture
def live_server(seeded: Seeded) -> Iterator[str]:
    """The app under a real uvicorn on 127.0.0.1, port chosen by the OS."""
    config = uvicorn.Config(
        create_app(ApiSettings(store=seeded.store)),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        server_header=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_real_http_round_trip(live_server: str, seeded: Seeded) -> None:
    with httpx2.Client(base_url=live_server, timeout=5) as http:
        health = http.get("/api/health")
        assert health.status_code == 200
        assert "server" not in health.headers
        assert http.get("/api/alerts").status_code == 401
        ally = http.get("/api/alerts", headers=seeded.auth("dnk-moc")).json()
        assert sorted(i["alert"]["id"] for i in ally["items"]) == [
            "a-approach",
            "a-jef-in",
            "a-nato",
        ]
        assert http.get("/api/alerts/a-gbrnor", headers=seeded.auth("dnk-moc")).status_code == 404
        ack = http.post("/api/alerts/a-gbrnor/ack", headers=seeded.auth("analyst-1"))
        assert ack.status_code == 200
        big = http.post(
            "/api/alerts/a-gbrnor/close",
            headers=seeded.auth("analyst-1") | {"content-type": "application/json"},
            content=b'{"reason": "' + b"x" * 100_000 + b'"}',
        )
        assert big.status_code == 413
        spec = http.get("/api/openapi.json", headers=seeded.auth("dnk-moc")).json()
        assert "/api/alerts/{alert_id}/ack" in spec["paths"]


def test_serve_api_only_subprocess(tmp_path: Path) -> None:
    """`seawarden serve --demo --replay FILE --port 0`: prints the demo token and
    `listening on URL` (stdout), serves the API and the pipeline's vessels, stops on SIGINT."""
    store = tmp_path / "demo.db"
    sample = REPO / "tests/data/dma_aisdk_sample.csv"
    with seawarden_server(
        "serve", "--store", store, "--demo", "--port", "0", "--replay", sample,
        "--speed", "100000",
    ) as served:  # fmt: skip
        headers = {"Authorization": f"Bearer {tokens.DEMO_ADMIN_TOKEN}"}
        with httpx2.Client(base_url=served.url, timeout=5) as http:
            # the sample's made-up IMOs may already have raised identity alerts: a list
            listed = http.get("/api/alerts", headers=headers)
            assert listed.status_code == 200
            assert isinstance(listed.json()["items"], list)
            assert http.get("/api/tokens", headers=headers).json()[0]["name"] == "demo-admin"
            assert http.get("/metrics", headers=headers).status_code == 200
            assert http.get("/openapi.json", headers=headers).json()["paths"]
            deadline = time.monotonic() + 20
            mmsis: set[int] = set()
            while 219012345 not in mmsis and time.monotonic() < deadline:
                items = http.get("/api/vessels", headers=headers).json()["items"]
                mmsis = {v["mmsi"] for v in items}
                time.sleep(0.1)  # pacing the poll only
            assert 219012345 in mmsis  # NORDIC TRADER, from the replayed sample
    assert tokens.DEMO_ADMIN_TOKEN in served.stderr.replace("\n", "")
    assert served.returncode == 0, served.stderr
