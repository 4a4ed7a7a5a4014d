"""Secrets: webhook signing keys, SMTP and broker passwords — from outside the repository.

A key that is committed to git, readable by every user on the host, or left at a published
demo value lets anyone forge an alert to an ally or read the distribution. So a secret is
referred to by NAME in config (``secret: DNK_WEBHOOK``) and its value comes from

1. the environment: ``SEAWARDEN_SECRET_<NAME>`` (name upper-cased, ``-``/``.`` → ``_``), or
2. a secrets file named by ``SEAWARDEN_SECRETS_FILE``: ``NAME=value`` lines (``#`` comments)
   or a YAML mapping. The file is refused if it lies inside a git work tree or if group or
   other users may read it (``chmod 600``).

:data:`DEMO_SECRETS` are the published values that ``--demo`` uses; outside ``--demo``,
:func:`require` raises :class:`~seawarden.errors.ConfigError` naming the secret when one is
missing, empty, or equal to a demo/default value, and a signing key (webhook and CAP HMAC
keys, passed as ``signing``) shorter than :data:`MIN_SIGNING_KEY_BYTES`. Values are never
logged: error messages name secrets, never show them — nor anything from a secrets file
that could be a value pasted in the wrong place (a file's entries are named by number).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path

import yaml

from seawarden.errors import ConfigError

ENV_PREFIX = "SEAWARDEN_SECRET_"
FILE_ENV = "SEAWARDEN_SECRETS_FILE"

#: Published values for ``--demo`` only. A real deployment that still uses one is refused.
DEMO_SECRETS: dict[str, str] = {
    "DEMO_WEBHOOK": "demo-webhook-secret-not-for-production",
    "DEMO_SMTP": "demo-smtp-password",
    "DEMO_MQTT": "demo-mqtt-password",
}

#: Values nobody should deploy with (placeholders found in example configs).
_DEFAULTS = frozenset(
    {"changeme", "change-me", "secret", "password", "default", "example", "test", "xxx"}
)


#: The shortest HMAC signing key accepted outside ``--demo`` (UTF-8 bytes): 128 bits.
MIN_SIGNING_KEY_BYTES = 16


def _key(name: str) -> str:
    key = name.strip().upper().replace("-", "_").replace(".", "_")
    if not key or not all(c.isalnum() or c == "_" for c in key):
        raise ConfigError(f"secret name {name!r}: use letters, digits, '_' or '-'")
    return key


def _in_git_tree(path: Path) -> Path | None:
    for parent in [path.parent, *path.parent.parents]:
        if (parent / ".git").exists():
            return parent
    return None


def load_file(path: str | Path) -> dict[str, str]:
    """Read a secrets file (``NAME=value`` lines or YAML), after the safety checks."""
    p = Path(path).expanduser().resolve()
    if not p.is_file():
        raise ConfigError(f"{FILE_ENV}={path}: no such file")
    tree = _in_git_tree(p)
    if tree is not None:
        raise ConfigError(
            f"secrets file {p} is inside the git work tree {tree}: move it outside the "
            "repository (e.g. /etc/seawarden/secrets) so it can never be committed"
        )
    mode = p.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"secrets file {p} is readable by other users (mode {stat.filemode(mode)}): "
            f"run `chmod 600 {p}`"
        )
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"secrets file {p}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"secrets file {p}: not UTF-8 text") from None
    out: dict[str, str] = {}
    stripped = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if stripped and all("=" in ln and ":" not in ln.split("=", 1)[0] for ln in stripped):
        for n, line in enumerate(stripped, 1):
            name, _, value = line.partition("=")
            if not name.strip():
                raise ConfigError(f"secrets file {p}: entry {n} has no name")
            out[_file_key(p, n, name)] = value.strip().strip('"').strip("'")
        return out
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # The parser's message can quote the offending line, i.e. a secret: do not show it.
        mark = getattr(exc, "problem_mark", None)
        where = f" near line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"secrets file {p}: not NAME=value lines nor YAML{where}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"secrets file {p}: expected NAME=value lines or a YAML mapping")
    for n, (name, value) in enumerate(data.items(), 1):
        # Neither the name nor the value is shown: a value pasted as a key (``s3cr3t:``)
        # would otherwise be echoed to the terminal and the logs.
        key = _file_key(p, n, str(name))
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise ConfigError(
                f"secrets file {p}: entry {n} must be NAME: value with a string value "
                "(its name is not shown, in case a value was pasted in its place)"
            )
        out[key] = str(value)
    return out


def _file_key(p: Path, n: int, name: str) -> str:
    """A secrets file entry's name, or a ConfigError that does not repeat it."""
    try:
        return _key(name)
    except ConfigError:
        raise ConfigError(
            f"secrets file {p}: entry {n} has no valid NAME (letters, digits, '_' or '-'; "
            "not shown, in case a value was pasted in its place)"
        ) from None


def resolve(name: str, *, env: Mapping[str, str] | None = None) -> str:
    """The value of secret ``name``; ``ConfigError`` (naming it, never a value) if absent."""
    environ = os.environ if env is None else env
    key = _key(name)
    value = environ.get(ENV_PREFIX + key)
    if value is None and environ.get(FILE_ENV):
        value = load_file(environ[FILE_ENV]).get(key)
    if value is None:
        raise ConfigError(
            f"secret {name!r} is not set: export {ENV_PREFIX}{key}=... or add {key}=... to "
            f"the file named by {FILE_ENV}"
        )
    return value


def is_default(value: str) -> bool:
    """A demo or placeholder value that must not protect a real deployment."""
    return value in DEMO_SECRETS.values() or value.strip().lower() in _DEFAULTS


def require(
    names: Iterable[str],
    *,
    demo: bool = False,
    env: Mapping[str, str] | None = None,
    signing: Iterable[str] = (),
) -> dict[str, str]:
    """Resolve every named secret at start-up, so a bad deployment fails before it runs.

    With ``demo``, a missing secret that has a :data:`DEMO_SECRETS` value gets it. Without,
    a missing, empty or demo/default value is a ``ConfigError`` naming the secret, and so is
    a ``signing`` secret (an HMAC key; also required) shorter than
    :data:`MIN_SIGNING_KEY_BYTES`.
    """
    signing_keys = {_key(n) for n in signing}
    names = set(names) | set(signing)
    out: dict[str, str] = {}
    for name in sorted(set(names)):
        key = _key(name)
        try:
            value = resolve(name, env=env)
        except ConfigError:
            if demo and key in DEMO_SECRETS:
                out[name] = DEMO_SECRETS[key]
                continue
            raise
        if not demo and (not value or is_default(value)):
            raise ConfigError(
                f"secret {name!r} is empty or a demo/default value: set a real one "
                f"(e.g. `openssl rand -hex 32`), or run with --demo"
            )
        if not value:
            raise ConfigError(f"secret {name!r} is empty")
        if not demo and key in signing_keys and len(value.encode()) < MIN_SIGNING_KEY_BYTES:
            raise ConfigError(
                f"secret {name!r} is a signing key of {len(value.encode())} bytes; use at least "
                f"{MIN_SIGNING_KEY_BYTES} random bytes (e.g. `openssl rand -hex 32`)"
            )
        out[name] = value
    return out


__all__ = [
    "DEMO_SECRETS",
    "ENV_PREFIX",
    "FILE_ENV",
    "MIN_SIGNING_KEY_BYTES",
    "is_default",
    "load_file",
    "require",
    "resolve",
]
