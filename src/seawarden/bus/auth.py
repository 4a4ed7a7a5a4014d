"""Credentials and TLS for the bus connection, from the environment, never from the URL.

The bus carries every report and every alert, so in a deployment it is authenticated and
encrypted like any other dissemination path. nats-server offers, among others, users with
passwords or tokens and mutual TLS (a client certificate mapped to a user with
``verify_and_map``); each user gets publish/subscribe permissions per subject (see
docs/operations.md for a configuration giving ingest, workers and the dispatcher only what
they need). seawarden reads:

==============================  ===========================================================
``SEAWARDEN_BUS_USER``          user name (with a password file, or alone for mTLS maps)
``SEAWARDEN_BUS_PASSWORD_FILE`` file holding the password (first line)
``SEAWARDEN_BUS_TOKEN_FILE``    file holding an authorization token (first line)
``SEAWARDEN_BUS_CA``            CA bundle that signed the servers' certificates (``tls://``)
``SEAWARDEN_BUS_CERT``          this client's certificate (PEM), for mutual TLS
``SEAWARDEN_BUS_KEY``           its private key (PEM)
==============================  ===========================================================

Secrets live in files (a mounted secret, mode 0600), not in variables a process listing or
a crash report shows, and never in ``--bus``: a URL with ``user:password@`` is refused, as
a PostgreSQL DSN with a password is. TLS is used for ``tls://`` URLs and whenever a CA or
client certificate is given: the handshake comes first (the servers' ``tls`` block needs
``handshake_first: true``), before any credential is sent, and the server's certificate is
always verified.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from seawarden.errors import ConfigError


@dataclass(frozen=True, slots=True)
class BusAuth:
    user: str | None = None
    password_file: Path | None = None
    token_file: Path | None = None
    ca: Path | None = None
    cert: Path | None = None
    key: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> BusAuth:
        e = os.environ if env is None else env

        def path(name: str) -> Path | None:
            value = e.get(name, "").strip()
            return Path(value) if value else None

        return cls(
            user=e.get("SEAWARDEN_BUS_USER", "").strip() or None,
            password_file=path("SEAWARDEN_BUS_PASSWORD_FILE"),
            token_file=path("SEAWARDEN_BUS_TOKEN_FILE"),
            ca=path("SEAWARDEN_BUS_CA"),
            cert=path("SEAWARDEN_BUS_CERT"),
            key=path("SEAWARDEN_BUS_KEY"),
        )

    @property
    def wants_tls(self) -> bool:
        return self.ca is not None or self.cert is not None

    def connect_options(self, urls: list[str]) -> dict[str, Any]:
        """Keyword arguments for ``nats.connect``; ``ConfigError`` says what is wrong."""
        for u in urls:
            parts = urlsplit(u)
            if parts.password is not None or parts.username is not None:
                raise ConfigError(
                    "--bus must not carry credentials (they would show in process lists and "
                    "logs): set SEAWARDEN_BUS_USER and SEAWARDEN_BUS_PASSWORD_FILE instead"
                )
        if self.password_file is not None and self.token_file is not None:
            raise ConfigError("give SEAWARDEN_BUS_PASSWORD_FILE or SEAWARDEN_BUS_TOKEN_FILE")
        if self.password_file is not None and self.user is None:
            raise ConfigError("SEAWARDEN_BUS_PASSWORD_FILE needs SEAWARDEN_BUS_USER")
        if (self.cert is None) != (self.key is None):
            raise ConfigError("SEAWARDEN_BUS_CERT and SEAWARDEN_BUS_KEY go together")
        opts: dict[str, Any] = {}
        if self.password_file is not None:
            opts["user"] = self.user
            opts["password"] = _secret(self.password_file, "SEAWARDEN_BUS_PASSWORD_FILE")
        elif self.user is not None and self.token_file is None:
            opts["user"] = self.user
        if self.token_file is not None:
            opts["token"] = _secret(self.token_file, "SEAWARDEN_BUS_TOKEN_FILE")
        if self.wants_tls or any(u.startswith("tls://") for u in urls):
            opts["tls"] = self.tls_context()  # verified against the URL's host name
            # TLS before the server says a word: nats-py otherwise upgrades only when the
            # server's INFO asks for it, so a plaintext impostor would get the password.
            # The servers need `tls { handshake_first: true }` (nats-server ≥ 2.10.3).
            opts["tls_handshake_first"] = True
        return opts

    def tls_context(self) -> ssl.SSLContext:
        try:
            ctx = ssl.create_default_context(cafile=str(self.ca) if self.ca is not None else None)
            if self.cert is not None and self.key is not None:
                ctx.load_cert_chain(str(self.cert), str(self.key))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"bus TLS: cannot load the CA or client certificate: {exc}") from exc
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx


def _secret(path: Path, name: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read {path}: {exc.strerror}") from exc
    value = text.splitlines()[0].strip() if text.strip() else ""
    if not value:
        raise ConfigError(f"{name}: {path} is empty")
    return value
