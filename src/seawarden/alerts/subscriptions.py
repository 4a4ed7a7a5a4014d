"""Subscriptions: which allied operations centre receives which alert, and how.

Ten JEF nations and NATO each want warnings for the corridors they protect, above the level
they act on, and only what they may read. A :class:`Subscription` records that: the
recipient, the *audience* its channels reach (``cleared_for: "REL DNK"``), its areas, the
minimum severity, whether it wants only watchlisted vessels, which CAP statuses it takes
(an exercise cell takes ``Exercise``) and its delivery channels. They are loaded from YAML
(``config/subscriptions.yaml``; fields in ``docs/dissemination.md``) and validated on load:
every problem is a :class:`~seawarden.errors.ConfigError` naming the file, the subscription
and the fix. Channels name their secrets (``secret: SEAWARDEN_DNK_WEBHOOK_KEY``) and never
hold them; the value is resolved at run time from the environment or the secrets file.

>>> sub = subscription_from_dict({"id": "dnk-moc", "recipient": "Denmark MOC", "nation": "DNK",
...     "cleared_for": "REL DNK", "areas": "all", "min_severity": "medium"})
>>> sorted(sub.audience), sub.areas, sub.statuses
(['DNK'], None, frozenset({'Actual'}))
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from seawarden.alerts.model import STATUSES, Alert
from seawarden.alerts.releasability import is_nation, label_of, parse_label, releasable
from seawarden.errors import ConfigError
from seawarden.risk.score import LEVELS

ChannelKind = Literal["webhook", "cap_http", "mqtt", "email", "console"]
CHANNEL_KINDS: tuple[str, ...] = get_args(ChannelKind)

MAX_FILE_BYTES = 1 << 20  # a subscriptions file is a few kB; refuse anything absurd
MAX_SUBSCRIPTIONS = 1000
MAX_CHANNELS = 16
MAX_URL = 2048

_ID = re.compile(r"^[a-z0-9-]{1,64}$")
_NATION = re.compile(r"^[A-Z]{3}$")
_SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,127}$")
_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*$"
)
_HOST = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})*$"
)
_MQTT_TOPIC = re.compile(r"^[^#+\s\x00]{1,512}$")
_SECRETISH = re.compile(r"(secret|password|passwd|token|api[_-]?key|credential)", re.I)


def _byte_count(v: str) -> str | None:
    return None if v.isdigit() and 0 < int(v) <= 64 << 20 else "must be bytes, 1..67108864"


def _seconds(v: str) -> str | None:
    try:
        x = float(v)
    except ValueError:
        return "must be a number of seconds"
    return None if 0 < x <= 600 else "must be > 0 and <= 600 seconds"


def _attempts(v: str) -> str | None:
    return None if v.isdigit() and 1 <= int(v) <= 1000 else "must be an integer 1..1000"


def _port(v: str) -> str | None:
    return None if v.isdigit() and 0 < int(v) < 65536 else "must be a port 1..65535"


def _choice(*allowed: str) -> Any:
    def check(v: str) -> str | None:
        return None if v in allowed else f"must be one of {', '.join(allowed)}"

    return check


def _short_text(v: str) -> str | None:
    ok = 0 < len(v) <= 200 and v.isprintable() and not any(c.isspace() for c in v)
    return None if ok else "must be 1..200 printable characters without spaces"


def _host(v: str) -> str | None:
    return None if _HOST.match(v) else "must be a host name or address"


def _address(v: str) -> str | None:
    return None if _EMAIL.match(v) else "must be one e-mail address"


def _subject_prefix(v: str) -> str | None:
    ok = 0 < len(v) <= 60 and v.isprintable()
    return None if ok else "must be 1..60 printable characters (no line breaks)"


def _proxy(v: str) -> str | None:
    try:
        _check_url(v, "proxy", ("http", "https"), "http://proxy.example:3128")
    except ValueError as exc:
        return str(exc)
    return None


# Options each channel kind accepts, with a check returning the problem or None. The channel
# implementations (alerts/channels) read them through ``channels.option``, which refuses a
# name missing here: extend this table when a channel grows one, and the table in
# docs/dissemination.md (Channels) with it.
# ``format`` picks the payload the outbox builds: seawarden's JSON envelope (default) or CAP.
_COMMON: dict[str, Any] = {
    "max_bytes": _byte_count,
    "timeout_s": _seconds,  # one attempt's bound (dispatch)
    "max_attempts": _attempts,  # before the delivery becomes a dead letter (dispatch)
}
_FORMAT: dict[str, Any] = {"format": _choice("json", "cap_json", "cap_xml")}
_HTTP: dict[str, Any] = {"proxy": _proxy}  # explicit only: the environment is ignored
CHANNEL_OPTIONS: dict[str, dict[str, Any]] = {
    "webhook": {**_COMMON, **_FORMAT, **_HTTP},
    "cap_http": {**_COMMON, **_HTTP},
    "mqtt": {**_COMMON, **_FORMAT, "username": _short_text, "client_id": _short_text},
    "email": {
        **_COMMON,
        # e-mail renders the seawarden envelope (json) or attaches CAP XML; bare CAP JSON
        # has no envelope to render, so it is refused here rather than dying at delivery
        "format": _choice("json", "cap_xml"),
        "smtp_host": _host,
        "smtp_port": _port,
        "tls": _choice("none", "starttls", "ssl"),
        "username": _short_text,
        "from": _address,
        "subject_prefix": _subject_prefix,
    },
    "console": {**_COMMON},
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Channel:
    """One way of delivering to a recipient.

    ``target``: a URL for ``webhook`` and ``cap_http`` (http/https only, no credentials),
    ``mqtt://host:port/topic`` (or ``mqtts://``) for ``mqtt``, ``"a@b.c, d@e.f"`` for
    ``email``, ``""`` for ``console``. ``secret`` is the NAME of a secret, never its value.
    ``options``: per-kind extras (:data:`CHANNEL_OPTIONS`), as strings.
    """

    kind: ChannelKind
    target: str
    secret: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscription:
    """Who receives what: see :func:`matches` for the rule."""

    id: str
    recipient: str
    nation: str | None
    audience: frozenset[str]
    areas: frozenset[str] | None
    min_severity: str
    watchlist_only: bool = False
    statuses: frozenset[str] = frozenset({"Actual"})
    channels: tuple[Channel, ...] = ()


# -- validation at the edge (pydantic) ---------------------------------------------------------
def _check_url(url: str, what: str, schemes: tuple[str, ...], example: str) -> Any:
    """Split ``url`` or raise ValueError; never echoes a URL that may hold a credential."""
    if len(url) > MAX_URL:
        raise ValueError(f"{what} is longer than {MAX_URL} characters")
    if not url.isprintable() or any(c.isspace() for c in url):
        raise ValueError(f"{what} contains spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ValueError(f"{what} is not a valid URL (check the host and port)") from None
    if parts.scheme not in schemes:
        scheme = f"{parts.scheme}:" if parts.scheme else "a bare path"
        raise ValueError(
            f"{what} must be a {' or '.join(s + '://' for s in schemes)} URL like {example}, "
            f"not {scheme}"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            f"{what} contains credentials (user:password@); remove them and name the secret "
            "in `secret:` instead"
        )
    host = parts.hostname or ""
    if not host:
        raise ValueError(f"{what} has no host")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOST.match(host):
            raise ValueError(f"{what}: {host!r} is not a valid host name") from None
    return parts


class _ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    kind: ChannelKind
    target: str = ""
    secret: str | None = None
    options: dict[str, str | int | float | bool] = {}

    @field_validator("secret")
    @classmethod
    def _secret_is_a_name(cls, v: str | None) -> str | None:
        if v is not None and not _SECRET_NAME.match(v):
            # Never repeat the value: it may be the secret itself.
            raise ValueError(
                "must be the NAME of a secret (like SEAWARDEN_DNK_WEBHOOK_KEY: capitals, "
                "digits, '_'), not its value; put the value in the environment or the secrets "
                "file"
            )
        return v

    @model_validator(mode="after")
    def _per_kind(self) -> _ChannelIn:
        kind, target = self.kind, self.target
        if kind in ("webhook", "cap_http"):
            _check_url(target, f"{kind} target", ("http", "https"), "https://host/path")
        elif kind == "mqtt":
            example = "mqtt://127.0.0.1:1883/seawarden/alerts/dnk"
            parts = _check_url(target, "mqtt target", ("mqtt", "mqtts"), example)
            topic = parts.path.lstrip("/")
            if not _MQTT_TOPIC.match(topic) or "#" in target or "?" in target:
                raise ValueError(
                    "mqtt target needs a topic without wildcards (+, #), e.g. "
                    "mqtt://127.0.0.1:1883/seawarden/alerts/dnk"
                )
        elif kind == "email":
            addrs = [a.strip() for a in target.split(",")]
            bad = [a for a in addrs if not _EMAIL.match(a)]
            if not target.strip() or bad:
                raise ValueError(
                    f"email target must be addresses separated by commas; bad: {bad[:3]}"
                )
        elif kind == "console" and target:
            raise ValueError("console target must be empty")
        allowed = CHANNEL_OPTIONS[kind]
        for key, value in self.options.items():
            if key not in allowed:
                hint = " (secrets belong in `secret:` as a NAME)" if _SECRETISH.search(key) else ""
                raise ValueError(
                    f"unknown {kind} option {key!r}{hint}; allowed: {sorted(allowed) or 'none'}"
                )
            problem = allowed[key](_opt_str(value))
            if problem:
                raise ValueError(f"{kind} option {key}: {problem}")
        return self


def _opt_str(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    id: str
    recipient: str
    nation: str | None = None
    cleared_for: str
    areas: str | list[str]
    min_severity: str
    watchlist_only: bool = False
    statuses: list[str] = ["Actual"]
    channels: list[_ChannelIn] = []

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("must be 1..64 of a-z, 0-9 and '-' (e.g. dnk-moc)")
        return v

    @field_validator("recipient")
    @classmethod
    def _recipient(cls, v: str) -> str:
        if not v.strip() or len(v) > 200 or not v.isprintable():
            raise ValueError("must be a name of 1..200 printable characters")
        return v

    @field_validator("nation")
    @classmethod
    def _nation(cls, v: str | None) -> str | None:
        if v is not None and not (_NATION.match(v) and is_nation(v)):
            raise ValueError("must be an ISO 3166-1 alpha-3 nation code (DNK, GBR, ...) or null")
        return v

    @field_validator("cleared_for")
    @classmethod
    def _marking(cls, v: str) -> str:
        try:
            parse_label(v)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return v

    @field_validator("areas")
    @classmethod
    def _areas(cls, v: str | list[str]) -> str | list[str]:
        if isinstance(v, str):
            if v != "all":
                raise ValueError("must be 'all' or a list of area ids")
        elif not v:
            raise ValueError("is empty: write `areas: all` or list at least one area id")
        elif len(v) > 10_000:
            raise ValueError("lists too many areas")
        return v

    @field_validator("min_severity")
    @classmethod
    def _severity(cls, v: str) -> str:
        if v not in LEVELS:
            raise ValueError(f"must be one of {', '.join(LEVELS)}")
        return v

    @field_validator("statuses")
    @classmethod
    def _statuses(cls, v: list[str]) -> list[str]:
        bad = [s for s in v if s not in STATUSES]
        if not v or bad:
            raise ValueError(f"must be a non-empty list of {', '.join(STATUSES)}")
        return v

    @field_validator("channels")
    @classmethod
    def _channels(cls, v: list[_ChannelIn]) -> list[_ChannelIn]:
        if len(v) > MAX_CHANNELS:
            raise ValueError(f"at most {MAX_CHANNELS} channels per subscription")
        return v


def _format_errors(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_input=False, include_url=False)[:5]:
        loc = ".".join(str(x) for x in err["loc"]) or "(top)"
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def _label(raw: Mapping[Any, Any], index: int) -> str:
    sid = raw.get("id")
    if isinstance(sid, str) and _ID.match(sid):
        return f"subscription {sid!r}"
    return f"subscription #{index + 1}"


def subscription_from_dict(
    raw: Any,
    *,
    source: str = "<subscription>",
    index: int = 0,
    known_areas: Collection[str] | None = None,
) -> Subscription:
    """One validated :class:`Subscription` from its YAML/JSON mapping (also for the API)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(
            f"{source}: subscription #{index + 1} must be a mapping with id, recipient, "
            f"cleared_for, areas, min_severity; got {type(raw).__name__}"
        )
    where = f"{source}: {_label(raw, index)}"
    try:
        model = _SubscriptionIn.model_validate(dict(raw))
    except ValidationError as exc:
        raise ConfigError(f"{where}: {_format_errors(exc)}") from None
    audience = parse_label(model.cleared_for)
    if model.nation is not None and model.nation not in audience:
        raise ConfigError(
            f"{where}: nation {model.nation} is not in its audience "
            f"({label_of(audience)}); clear it for e.g. 'REL {model.nation}'"
        )
    areas = None if isinstance(model.areas, str) else frozenset(model.areas)
    if areas is not None and known_areas is not None:
        unknown = sorted(areas - set(known_areas))
        if unknown:
            hints = [
                f"{a!r} (did you mean {close[0]!r}?)"
                if (close := difflib.get_close_matches(a, list(known_areas), n=1))
                else repr(a)
                for a in unknown[:5]
            ]
            raise ConfigError(
                f"{where}: unknown area ids {', '.join(hints)}; use ids from the area file "
                "or `areas: all`"
            )
    channels = tuple(
        Channel(
            kind=c.kind,
            target=c.target,
            secret=c.secret,
            options={k: _opt_str(v) for k, v in c.options.items()},
        )
        for c in model.channels
    )
    return Subscription(
        id=model.id,
        recipient=model.recipient,
        nation=model.nation,
        audience=audience,
        areas=areas,
        min_severity=model.min_severity,
        watchlist_only=model.watchlist_only,
        statuses=frozenset(model.statuses),
        channels=channels,
    )


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (a silent override in a security config)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise ConfigError(f"line {key_node.start_mark.line + 1}: unhashable key") from None
        if key in out:
            raise ConfigError(
                f"line {key_node.start_mark.line + 1}: duplicate key {str(key)[:40]!r}"
            )
        out[key] = loader.construct_object(value_node, deep=True)
    return out


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path) -> Any:
    where = str(path)
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(
            f"{where}: cannot read subscriptions ({exc.strerror}); check the path"
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{where}: larger than {MAX_FILE_BYTES} bytes; is this the right file?")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not UTF-8 text") from None
    try:
        # Aliases could expand a small file into an enormous tree; a config has no need of them.
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent):
                raise ConfigError(f"{where}: YAML aliases (*name) are not allowed; write it out")
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{where}: not valid YAML{line}; check indentation and quoting") from None


def load_subscriptions(
    path: str | Path, *, known_areas: Collection[str] | None = None
) -> list[Subscription]:
    """Read and validate a subscriptions file (``subscriptions:`` list); raise ConfigError.

    ``known_areas``: the area ids of the running configuration; unknown ids are then errors.
    """
    p = Path(path)
    doc = _read_yaml(p)
    if not isinstance(doc, dict) or set(doc) - {"subscriptions"}:
        got = sorted(map(str, doc))[:5] if isinstance(doc, dict) else type(doc).__name__
        raise ConfigError(
            f"{p}: expected a mapping with one key `subscriptions:` (a list); got {got}"
        )
    items = doc.get("subscriptions")
    if not isinstance(items, list):
        raise ConfigError(f"{p}: `subscriptions:` must be a list of subscriptions")
    if len(items) > MAX_SUBSCRIPTIONS:
        raise ConfigError(f"{p}: more than {MAX_SUBSCRIPTIONS} subscriptions")
    out: list[Subscription] = []
    seen: set[str] = set()
    for i, raw in enumerate(items):
        sub = subscription_from_dict(raw, source=str(p), index=i, known_areas=known_areas)
        if sub.id in seen:
            raise ConfigError(f"{p}: subscription {sub.id!r} appears twice; give each a unique id")
        seen.add(sub.id)
        out.append(sub)
    return out


# -- matching ----------------------------------------------------------------------------------
def _audience_text(audience: frozenset[str]) -> str:
    return label_of(audience).removeprefix("REL ") if audience else "(empty)"


def explain_match(sub: Subscription, alert: Alert) -> str | None:
    """``None`` if ``alert`` goes to ``sub``, else why not (for logs, audit and the console).

    Checked in this order: releasability, CAP status, severity, areas, watchlist.
    """
    try:
        ok = releasable(alert.releasability, sub.audience)
    except ConfigError as exc:  # a malformed marking never releases anything
        return f"not releasable: invalid marking ({exc})"
    if not ok:
        return (
            f"not releasable: {alert.releasability} does not cover audience "
            f"{_audience_text(sub.audience)}"
        )
    if alert.status not in sub.statuses:
        return f"status {alert.status} not taken (takes {', '.join(sorted(sub.statuses))})"
    if alert.severity not in LEVELS:
        return f"unknown severity {alert.severity!r}"
    if LEVELS.index(alert.severity) < LEVELS.index(sub.min_severity):
        return f"severity {alert.severity} below minimum {sub.min_severity}"
    if sub.areas is not None and not sub.areas.intersection(alert.area_ids):
        where = ", ".join(alert.area_ids) or "no area"
        return f"areas {where} outside subscription areas"
    if sub.watchlist_only and not alert.watchlist:
        return "vessel not on the watchlist (subscription is watchlist-only)"
    return None


def matches(sub: Subscription, alert: Alert) -> bool:
    """Does ``alert`` (a first revision) go to ``sub``?

    True iff the alert is releasable to the subscription's whole audience
    (``audience ⊆ release set``), its CAP status is one the subscription takes, its severity is
    at least ``min_severity``, it involves one of the subscription's areas (or the
    subscription takes all areas) and, for a watchlist-only subscription, the vessel is
    watchlisted.

    Follow-up revisions (Update, Cancel) of an alert a subscriber already received go to it
    regardless of severity and area — so a subscriber learns when a situation eases or moves
    away — which the outbox implements by remembering deliveries. Releasability (and status)
    still apply to every revision: a revision whose marking narrowed is not sent.
    """
    return explain_match(sub, alert) is None


__all__ = [
    "CHANNEL_KINDS",
    "CHANNEL_OPTIONS",
    "Channel",
    "ChannelKind",
    "Subscription",
    "explain_match",
    "load_subscriptions",
    "matches",
    "subscription_from_dict",
]
