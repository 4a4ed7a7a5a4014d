"""The bus connection is authenticated and encrypted when the server asks for it.

Real ``nats-server`` processes with password users, and with TLS (a throw-away CA, server
and client certificates made here with ``cryptography``): the right credentials publish, a
missing password, a wrong CA or a missing client certificate are clear errors, and
credentials in ``--bus`` are refused before anything connects.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from seawarden.bus.auth import BusAuth
from seawarden.bus.publish import BatchPublisher, server_urls
from seawarden.bus.server import NatsServer
from seawarden.errors import ConfigError, SourceError

USERS = """
authorization {
  users = [
    {user: ingest, password: "%s"}
  ]
}
"""


def _publish(url: str, n: int = 50) -> int:
    with BatchPublisher(url, batch=10, retry_s=2.0) as pub:
        for i in range(n):
            pub.add(f"sw.reports.0.t{i % 3}", b"[]", f"auth-test:{i}")
    return pub.published


@pytest.mark.parametrize(
    "url", ["nats://h:notaport", "nats://h:99999", "nats://[::1", "h:4222:1", "http://h:1", ","]
)
def test_a_malformed_bus_url_is_a_clear_error(url: str) -> None:
    with pytest.raises(ConfigError, match="--bus"):
        server_urls(url)


def test_credentials_in_the_url_are_refused() -> None:
    for url in ("nats://ingest:pw@127.0.0.1:4222", "nats://token@127.0.0.1:4222"):
        with pytest.raises(ConfigError, match="must not carry credentials"):
            BusAuth().connect_options([url])
    done = subprocess.run(
        [sys.executable, "-c", "from seawarden.cli import main; main()", "bus-dispatch",
         "--bus", "nats://ingest:pw@127.0.0.1:1", "--store", "x.db", "--subscriptions", "x"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "pw" not in done.stdout + done.stderr.replace("PASSWORD", "")


def test_a_password_user_publishes_and_nobody_else_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "correct horse battery staple"
    with NatsServer(config=USERS % secret) as srv:
        with pytest.raises(SourceError, match=r"(?i)authorization"):
            _publish(srv.url)
        pw = tmp_path / "bus-password"
        pw.write_text("wrong\n")
        monkeypatch.setenv("SEAWARDEN_BUS_USER", "ingest")
        monkeypatch.setenv("SEAWARDEN_BUS_PASSWORD_FILE", str(pw))
        with pytest.raises(SourceError, match=r"(?i)authorization"):
            _publish(srv.url)
        pw.write_text(secret + "\n")
        assert _publish(srv.url) == 50
        pw.write_text("")
        with pytest.raises(ConfigError, match="is empty"):
            _publish(srv.url)


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    b = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer[0].subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        b = b.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return b.sign(issuer[1] if issuer else key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    path.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    ca_key = _key()
    ca = _cert("seawarden test CA", ca_key, None, ca=True)
    _write(d / "ca", ca, ca_key)
    for name, server in (("server", True), ("client", False)):
        k = _key()
        _write(d / name, _cert(name, k, (ca, ca_key), server=server), k)
    other_key = _key()
    _write(d / "other-ca", _cert("another CA", other_key, None, ca=True), other_key)
    return d


def _tls_conf(pki: Path, *, verify: bool) -> str:
    return (
        "tls {\n"
        f'  cert_file: "{pki / "server.pem"}"\n  key_file: "{pki / "server.key"}"\n'
        f'  ca_file: "{pki / "ca.pem"}"\n  verify: {"true" if verify else "false"}\n'
        "  handshake_first: true\n}\n"
    )


def test_tls_verifies_the_server(pki: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with NatsServer(config=_tls_conf(pki, verify=False)) as srv:
        url = srv.url.replace("nats://", "tls://")
        monkeypatch.setenv("SEAWARDEN_BUS_CA", str(pki / "other-ca.pem"))
        with pytest.raises(SourceError, match=r"(?i)certificate"):
            _publish(url)  # a server this CA did not sign is not trusted
        monkeypatch.setenv("SEAWARDEN_BUS_CA", str(pki / "ca.pem"))
        assert _publish(url) == 50


def test_mutual_tls_needs_the_client_certificate(
    pki: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with NatsServer(config=_tls_conf(pki, verify=True)) as srv:
        url = srv.url.replace("nats://", "tls://")
        monkeypatch.setenv("SEAWARDEN_BUS_CA", str(pki / "ca.pem"))
        with pytest.raises(SourceError):
            _publish(url)  # no client certificate: the server closes the handshake
        monkeypatch.setenv("SEAWARDEN_BUS_CERT", str(pki / "client.pem"))
        with pytest.raises(ConfigError, match="go together"):
            _publish(url)
        monkeypatch.setenv("SEAWARDEN_BUS_KEY", str(pki / "client.key"))
        assert _publish(url) == 50


# The per-role users of docs/operations.md ("NATS cluster"), without TLS: each may publish
# only its own subjects and only the JetStream API calls it makes (no stream deletes or
# purges; only the dispatcher reads alerts).
_STREAMS = ", ".join(
    f'"$JS.API.STREAM.{op}.SEAWARDEN_{s}"'
    for op in ("CREATE", "UPDATE", "INFO")
    for s in ("REPORTS", "ALERTS")
)


def _consume(stream: str, *ops: str) -> str:
    """``"CREATE"`` → ``$JS.API.CONSUMER.CREATE.<stream>``; ``"INFO>"`` → ``….INFO.<stream>.>``."""
    return ", ".join(
        f'"$JS.API.CONSUMER.{op.rstrip(">")}.{stream}{".>" if op.endswith(">") else ""}"'
        for op in ops
    )


# exactly the lists of docs/operations.md
_WORKER_OPS = ("CREATE", "CREATE>", "INFO>", "MSG.NEXT>", "DELETE>")
_DISPATCH_OPS = ("CREATE", "CREATE>", "DURABLE.CREATE>", "INFO>", "MSG.NEXT>")


ROLES = f"""
authorization {{
  users = [
    {{ user: ingest, password: "%(pw)s", permissions: {{
        publish: [ "sw.reports.>", "sw.control.>", "$JS.API.INFO", {_STREAMS},
                   "$JS.API.STREAM.MSG.GET.SEAWARDEN_REPORTS" ],
        subscribe: "_INBOX.>" }} }}
    {{ user: worker, password: "%(pw)s", permissions: {{
        publish: [ "sw.alerts.>", "$JS.API.INFO", {_STREAMS},
                   {_consume("SEAWARDEN_REPORTS", *_WORKER_OPS)} ],
        subscribe: "_INBOX.>" }} }}
    {{ user: dispatch, password: "%(pw)s", permissions: {{
        publish: [ "$JS.API.INFO", {_STREAMS}, {_consume("SEAWARDEN_ALERTS", *_DISPATCH_OPS)},
                   "$JS.ACK.SEAWARDEN_ALERTS.>" ],
        subscribe: "_INBOX.>" }} }}
  ]
}}
"""


@pytest.mark.slow
def test_the_documented_role_permissions_carry_a_whole_run(
    tmp_path: Path, scenario_nmea: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ingest, a worker and bus-dispatch, each as its own user with only its subjects,
    take the scenario from the files to the outbox."""
    import os
    import sqlite3

    from seawarden.bus.ingest import ingest
    from tests.bus.test_kill import SUBSCRIPTIONS, _cli, _config, _pipeline_args

    pw = tmp_path / "pw"
    pw.write_text("role secret\n")
    subs = tmp_path / "subscriptions.yaml"
    subs.write_text(SUBSCRIPTIONS)
    with NatsServer(config=ROLES % {"pw": "role secret"}) as srv:
        monkeypatch.setenv("SEAWARDEN_BUS_PASSWORD_FILE", str(pw))
        monkeypatch.setenv("SEAWARDEN_BUS_USER", "ingest")
        run = ingest([scenario_nmea], _config(), srv.url, partitions=1)
        assert run.released > 20_000

        def as_user(user: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
            env = {**os.environ, "SEAWARDEN_BUS_USER": user, "SEAWARDEN_LOG_LEVEL": "WARNING"}
            return subprocess.run(
                _cli(*args), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
            )

        worker = as_user(
            "worker", "worker", "--bus", srv.url, "--partitions", "*/1",
            "--store", tmp_path / "w.db", "--exit-on-eos", *_pipeline_args(),
        )  # fmt: skip
        assert worker.returncode == 0, worker.stderr[-3000:]
        published = orjson_line(worker.stdout)["alerts_published"]
        assert published >= 10
        dispatch = as_user(
            "dispatch", "bus-dispatch", "--bus", srv.url, "--store", tmp_path / "d.db",
            "--subscriptions", subs, "--idle-exit-s", "2",
        )  # fmt: skip
        assert dispatch.returncode == 0, dispatch.stderr[-3000:]
        # the ingest user may not take the alerts (no $JS.ACK, no alert subjects)
        refused = as_user(
            "ingest", "bus-dispatch", "--bus", srv.url, "--store", tmp_path / "x.db",
            "--subscriptions", subs, "--idle-exit-s", "2", "--reconnect-attempts", "1",
        )  # fmt: skip
    with sqlite3.connect(tmp_path / "d.db") as conn:
        (n,) = conn.execute("SELECT count(*) FROM alerts").fetchone()
    assert n == published
    # the ingest user may not create a consumer on the alerts: a clear error, nothing read
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr
    assert "error:" in refused.stderr, refused.stderr[-2000:]
    if (tmp_path / "x.db").exists():
        with sqlite3.connect(tmp_path / "x.db") as conn:
            assert conn.execute("SELECT count(*) FROM alerts").fetchone() == (0,)


def orjson_line(stdout: str) -> dict[str, object]:
    import orjson

    return dict(orjson.loads([ln for ln in stdout.splitlines() if ln.startswith("{")][-1]))


def test_a_plaintext_impostor_never_gets_the_password(
    pki: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listener that speaks NATS without TLS (a rogue or misconfigured server) must see
    no credentials: with TLS asked for, the handshake comes before anything is sent."""
    import socket
    import threading

    got: list[bytes] = []
    srv = socket.create_server(("127.0.0.1", 0))
    port = srv.getsockname()[1]

    def impostor() -> None:
        srv.settimeout(20)
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(3)
                conn.sendall(b'INFO {"server_id":"x","version":"2.10.0","auth_required":true}\r\n')
                try:
                    while chunk := conn.recv(4096):
                        got.append(chunk)
                except OSError:
                    pass

    threading.Thread(target=impostor, daemon=True).start()
    pw = tmp_path / "pw"
    pw.write_text("S3cret-Pa55\n")
    monkeypatch.setenv("SEAWARDEN_BUS_USER", "ingest")
    monkeypatch.setenv("SEAWARDEN_BUS_PASSWORD_FILE", str(pw))
    monkeypatch.setenv("SEAWARDEN_BUS_CA", str(pki / "ca.pem"))
    try:
        with pytest.raises(SourceError):
            _publish(f"tls://127.0.0.1:{port}")
    finally:
        srv.close()
    assert b"S3cret" not in b"".join(got)
    assert b"CONNECT" not in b"".join(got)
