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
from seawarden.bus.publish import BatchPublisher
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
        f'  ca_file: "{pki / "ca.pem"}"\n  verify: {"true" if verify else "false"}\n}}\n'
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
