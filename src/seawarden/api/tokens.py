"""API tokens: who may call the seawarden API, in which role, for which nation and areas.

A watch floor issues a token per person or per ally system (``seawarden token create``); the
token is shown once and the store keeps only its SHA-256 digest. Tokens are 32 random bytes
(256 bits) from :mod:`secrets`, so no guessing or dictionary attack can reach them and a
fast hash suffices: slow password hashes (argon2, scrypt) exist to protect *low-entropy*
secrets, and here they would only add milliseconds to every request. The digest is looked
up by value (an index seek, no secret-dependent comparison loop) and then compared again
with :func:`hmac.compare_digest`.

The ``tokens`` table lives in the store beside the alerts and the audit log (the SQLite
file, or the PostgreSQL schema: migration 0004); every create and revoke is audited in
the same transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import orjson

from seawarden.api import db
from seawarden.errors import ConfigError
from seawarden.store import audit

Role = Literal["admin", "analyst", "ally"]
ROLES: tuple[Role, ...] = ("admin", "analyst", "ally")

PREFIX = "sw_"
# The demo token is public by design (printed in the docs and at `serve --demo` start).
# It is accepted only by a --demo service bound to loopback; a normal service refuses to
# start while an unrevoked token with this digest exists, and rejects it on every request.
DEMO_ADMIN_NAME = "demo-admin"
DEMO_ADMIN_TOKEN = "sw_demo_admin_0000_this_token_is_public_never_use_it"

TOKEN_RE = re.compile(r"^sw_[A-Za-z0-9_-]{32,100}$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
AREA_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
NATION_RE = re.compile(r"^[A-Z]{3}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    name TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    nation TEXT,
    areas TEXT,
    subscription_id TEXT,
    created TEXT NOT NULL,
    revoked TEXT
);
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenRecord:
    """One row of the ``tokens`` table (never the token itself)."""

    name: str
    role: Role
    nation: str | None
    areas: tuple[str, ...] | None  # None: all areas (analyst/admin, or ally with `all`)
    subscription_id: str | None
    created: datetime
    revoked: datetime | None
    token_hash: str


def digest(token: str) -> str:
    """Hex SHA-256 of a presented token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


DEMO_ADMIN_HASH = digest(DEMO_ADMIN_TOKEN)


def new_token() -> str:
    """A fresh token: ``sw_`` + 32 random bytes, URL-safe base64 (43 characters)."""
    return PREFIX + secrets.token_urlsafe(32)


def ensure_schema(conn: sqlite3.Connection) -> None:
    """SQLite only: on PostgreSQL the table comes with the store's migrations (0004)."""
    conn.executescript(SCHEMA)
    audit.ensure_schema(conn)


def _row(r: sqlite3.Row | tuple[object, ...]) -> TokenRecord:
    name, token_hash, role, nation, areas, sub, created, revoked = r
    return TokenRecord(
        name=str(name),
        token_hash=str(token_hash),
        role=_role(str(role)),
        nation=None if nation is None else str(nation),
        areas=None if areas is None else tuple(orjson.loads(str(areas))),
        subscription_id=None if sub is None else str(sub),
        created=datetime.fromisoformat(str(created)),
        revoked=None if revoked is None else datetime.fromisoformat(str(revoked)),
    )


def _role(text: str) -> Role:
    for r in ROLES:
        if r == text:
            return r
    raise ConfigError(f"unknown role {text!r}; use one of {', '.join(ROLES)}")


_COLUMNS = "name, token_hash, role, nation, areas, subscription_id, created, revoked"


def validate(
    *,
    name: str,
    role: str,
    nation: str | None,
    areas: tuple[str, ...] | None,
    subscription_id: str | None,
) -> tuple[Role, str | None, tuple[str, ...] | None]:
    """Check a token's attributes; returns the role, normalised nation and areas."""
    if not NAME_RE.match(name):
        raise ConfigError(
            f"token name {name!r}: use 1-64 letters, digits, '.', '_' or '-' (e.g. 'dnk-moc')"
        )
    checked = _role(role)
    nat = nation.strip().upper() if nation else None
    if nat is not None and not NATION_RE.match(nat):
        raise ConfigError(f"--nation {nation!r}: give an ISO 3166-1 alpha-3 code, e.g. DNK")
    if checked != "ally":
        if areas is not None or subscription_id is not None:
            raise ConfigError("--areas / --subscription apply to ally tokens only")
        return checked, nat, None
    if nat is None:
        raise ConfigError("an ally token needs --nation (e.g. --nation DNK)")
    if areas is None and subscription_id is None:
        raise ConfigError(
            "an ally token needs --areas a,b (or --areas all) or --subscription ID: "
            "an ally sees only alerts for its areas"
        )
    if areas is not None and subscription_id is not None:
        raise ConfigError("give --areas or --subscription, not both")
    if areas is not None:
        for a in areas:
            if not AREA_RE.match(a):
                raise ConfigError(f"area id {a!r} is not a valid area identifier")
    if subscription_id is not None and not AREA_RE.match(subscription_id):
        raise ConfigError(f"subscription id {subscription_id!r} is not a valid identifier")
    return checked, nat, areas


def create(
    conn: db.StoreConnection,
    *,
    name: str,
    role: str,
    actor: str,
    nation: str | None = None,
    areas: tuple[str, ...] | None = None,
    subscription_id: str | None = None,
    token: str | None = None,
) -> tuple[str, TokenRecord]:
    """Create a token, audit it in the same transaction, return ``(token, record)``.

    ``token`` is for the demo only (the well-known demo token); normally a new random one
    is drawn. Raises :class:`ConfigError` for bad attributes or a name already used.
    """
    checked, nat, area_list = validate(
        name=name, role=role, nation=nation, areas=areas, subscription_id=subscription_id
    )
    secret = token or new_token()
    if not TOKEN_RE.match(secret):
        raise ConfigError("token does not have the sw_... form")
    now = datetime.now(UTC)
    record = TokenRecord(
        name=name,
        role=checked,
        nation=nat,
        areas=None if area_list is None or "all" in area_list else tuple(area_list),
        subscription_id=subscription_id,
        created=now,
        revoked=None,
        token_hash=digest(secret),
    )
    try:
        db.begin(conn)
        conn.execute(
            f"INSERT INTO tokens ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
            (
                record.name,
                record.token_hash,
                record.role,
                record.nation,
                None if record.areas is None else orjson.dumps(list(record.areas)).decode(),
                record.subscription_id,
                now.isoformat(),
            ),
        )
        audit.record(
            conn,
            actor=actor,
            action="token.create",
            target=f"token:{name}",
            detail={
                "role": record.role,
                "nation": record.nation,
                "areas": None if record.areas is None else list(record.areas),
                "subscription": record.subscription_id,
            },
            time=now,
        )
        conn.execute("COMMIT")
    except sqlite3.IntegrityError as exc:
        conn.execute("ROLLBACK")
        raise ConfigError(
            f"a token named {name!r} already exists (names are never reused)"
        ) from exc
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return secret, record


def revoke(conn: db.StoreConnection, name: str, *, actor: str) -> TokenRecord | None:
    """Revoke a token by name (audited); ``None`` if no such token, idempotent otherwise."""
    now = datetime.now(UTC)
    try:
        db.begin(conn)
        cur = conn.execute(
            "UPDATE tokens SET revoked = ? WHERE name = ? AND revoked IS NULL",
            (now.isoformat(), name),
        )
        if cur.rowcount:
            audit.record(conn, actor=actor, action="token.revoke", target=f"token:{name}", time=now)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return get(conn, name)


def get(conn: db.StoreConnection, name: str) -> TokenRecord | None:
    r = conn.execute(f"SELECT {_COLUMNS} FROM tokens WHERE name = ?", (name,)).fetchone()
    return None if r is None else _row(r)


def all_tokens(conn: db.StoreConnection) -> list[TokenRecord]:
    return [_row(r) for r in conn.execute(f"SELECT {_COLUMNS} FROM tokens ORDER BY created, name")]


def lookup(conn: db.StoreConnection, presented: str) -> TokenRecord | None:
    """The unrevoked token whose digest matches ``presented``, or ``None``."""
    if not TOKEN_RE.match(presented):
        return None
    want = digest(presented)
    r = conn.execute(f"SELECT {_COLUMNS} FROM tokens WHERE token_hash = ?", (want,)).fetchone()
    if r is None:
        return None
    rec = _row(r)
    if not hmac.compare_digest(rec.token_hash, want) or rec.revoked is not None:
        return None
    return rec


def has_live_admin(conn: db.StoreConnection, *, exclude_demo: bool = True) -> bool:
    sql = "SELECT 1 FROM tokens WHERE role = 'admin' AND revoked IS NULL"
    args: tuple[str, ...] = ()
    if exclude_demo:
        sql, args = sql + " AND token_hash != ?", (DEMO_ADMIN_HASH,)
    return conn.execute(sql + " LIMIT 1", args).fetchone() is not None


def live_demo_tokens(conn: db.StoreConnection) -> list[str]:
    """Names of unrevoked tokens whose digest is the public demo token's."""
    rows = conn.execute(
        "SELECT name FROM tokens WHERE token_hash = ? AND revoked IS NULL", (DEMO_ADMIN_HASH,)
    )
    return [str(r[0]) for r in rows]


__all__ = [
    "DEMO_ADMIN_HASH",
    "DEMO_ADMIN_NAME",
    "DEMO_ADMIN_TOKEN",
    "ROLES",
    "Role",
    "TokenRecord",
    "all_tokens",
    "create",
    "digest",
    "ensure_schema",
    "get",
    "has_live_admin",
    "live_demo_tokens",
    "lookup",
    "new_token",
    "revoke",
]
