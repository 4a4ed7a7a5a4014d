"""``seawarden token ...`` and ``seawarden serve``: issue API tokens and run the API.

The service refuses to start with a default secret: outside ``--demo`` it needs at least
one admin token of its own and no live copy of the public demo token; ``--demo`` creates
that demo token (printed at start) and is allowed on a loopback address only.
"""

from __future__ import annotations

import getpass
import ipaddress
import logging
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from seawarden.api import tokens
from seawarden.api.db import StoreTarget
from seawarden.api.settings import SubscriptionLike
from seawarden.cli_sources import FusionOpt, RegistryOpt, SensorsOpt, WeatherOpt, source_settings
from seawarden.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from seawarden.api.serve import ServeOptions
    from seawarden.pipeline.live import LiveRunner

console = Console(stderr=True)
log = logging.getLogger("seawarden.api")
token_app = typer.Typer(no_args_is_help=True, help="Issue, list and revoke API tokens.")
DEFAULT_SUBSCRIPTIONS = Path("config/subscriptions.yaml")

StoreOpt = Annotated[
    str,
    typer.Option(
        "--store", help="the API's store: a SQLite file, or a postgresql://user@host/db DSN"
    ),
]


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def _prepare_store(text: str | Path, *, create: bool) -> StoreTarget:
    """The store ``--store`` names, made ready for the API (created first if ``create``)."""
    from seawarden.api import db
    from seawarden.store import open_store

    target = db.store_target(text)
    if not db.exists(target):
        if not create:
            raise StoreError(f"{db.display_name(target)}: no such store")
        open_store(target).close()  # a new, empty store with the pipeline's schema
    db.ensure_schema(target)
    return target


def load_subscriptions(path: Path | None) -> Mapping[str, SubscriptionLike] | None:
    """Subscriptions by id from ``path`` (or the default file if present); None if none."""
    chosen = path or (DEFAULT_SUBSCRIPTIONS if DEFAULT_SUBSCRIPTIONS.is_file() else None)
    if chosen is None:
        return None
    try:
        from seawarden.alerts.subscriptions import load_subscriptions as load
    except ImportError as exc:
        raise ConfigError(
            "this seawarden has no subscriptions support (seawarden.alerts.subscriptions)"
        ) from exc
    return {str(s.id): s for s in load(chosen)}


@token_app.command("create")
def token_create(
    store: StoreOpt,
    name: Annotated[str, typer.Option(help="unique name, e.g. dnk-moc or j.smith")],
    role: Annotated[str, typer.Option(help="admin | analyst | ally")],
    nation: Annotated[str | None, typer.Option(help="ally's nation, ISO alpha-3 (DNK)")] = None,
    areas: Annotated[
        str | None, typer.Option(help="ally's area ids, comma-separated, or 'all'")
    ] = None,
    subscription: Annotated[
        str | None, typer.Option(help="bind an ally to a subscription's areas")
    ] = None,
    subscriptions: Annotated[
        Path | None, typer.Option(help="subscriptions file to check --subscription against")
    ] = None,
) -> None:
    """Create a token and print it once (stdout); the store keeps only its SHA-256."""
    from seawarden.api import db

    area_list = None if areas is None else tuple(a.strip() for a in areas.split(",") if a.strip())
    if subscription is not None:
        subs = load_subscriptions(subscriptions)
        if subs is None:
            console.print(f"[yellow]no subscriptions file: {subscription!r} is not checked[/]")
        elif subscription not in subs:
            raise ConfigError(f"no subscription {subscription!r}; known: {', '.join(sorted(subs))}")
        else:
            sub_nation = getattr(subs[subscription], "nation", None)
            if nation is None:
                nation = sub_nation
            elif sub_nation is not None and nation.upper() != str(sub_nation).upper():
                raise ConfigError(
                    f"--nation {nation} differs from subscription {subscription}'s {sub_nation}"
                )
    target = _prepare_store(store, create=True)
    with db.connection(target) as conn:
        secret, rec = tokens.create(
            conn,
            name=name,
            role=role,
            actor=_actor(),
            nation=nation,
            areas=area_list,
            subscription_id=subscription,
        )
    console.print(
        f"created token [bold]{rec.name}[/] ({rec.role}"
        + (f", {rec.nation}" if rec.nation else "")
        + "); it is shown once, keep it in a secrets store:"
    )
    typer.echo(secret)


@token_app.command("list")
def token_list(store: StoreOpt) -> None:
    """List tokens: name, role, nation, areas, created, revoked (never the token)."""
    from seawarden.api import db

    target = _prepare_store(store, create=False)
    with db.connection(target) as conn:
        rows = tokens.all_tokens(conn)
    table = Table(title="API tokens", title_justify="left")
    for col in ("name", "role", "nation", "areas", "created", "revoked"):
        table.add_column(col)
    for r in rows:
        where = f"subscription {r.subscription_id}" if r.subscription_id else None
        area_text = where or ("all" if r.areas is None else ",".join(r.areas))
        table.add_row(
            r.name,
            r.role,
            r.nation or "",
            area_text if r.role == "ally" else "",
            r.created.isoformat(timespec="seconds"),
            "" if r.revoked is None else r.revoked.isoformat(timespec="seconds"),
        )
    Console(width=None if sys.stdout.isatty() else 200).print(table)


@token_app.command("revoke")
def token_revoke(
    store: StoreOpt, name: Annotated[str, typer.Argument(help="the token's name")]
) -> None:
    """Revoke a token; requests with it fail from the next one on."""
    from seawarden.api import db

    target = _prepare_store(store, create=False)
    with db.connection(target) as conn:
        rec = tokens.revoke(conn, name, actor=_actor())
    if rec is None:
        raise ConfigError(f"no token named {name!r}; see `seawarden token list`")
    console.print(f"token {name} revoked at {rec.revoked}")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def preflight(target: StoreTarget, *, demo: bool) -> None:
    """Refuse default secrets outside --demo; create the demo token in --demo."""
    from seawarden.api import db

    store = db.display_name(target)  # what messages show (never a DSN's password)
    with db.connection(target) as conn:
        if demo:
            if tokens.live_demo_tokens(conn):
                return
            if conn.execute(
                "SELECT 1 FROM tokens WHERE token_hash = ?", (tokens.DEMO_ADMIN_HASH,)
            ).fetchone():
                raise ConfigError(
                    f"{store}: the demo token was revoked in this store; use a new --store"
                )
            tokens.create(
                conn,
                name=tokens.DEMO_ADMIN_NAME,
                role="admin",
                actor="system:demo",
                token=tokens.DEMO_ADMIN_TOKEN,
            )
            return
        demo_live = tokens.live_demo_tokens(conn)
        if demo_live:
            raise ConfigError(
                f"{store} holds the public demo token ({', '.join(demo_live)}): a service "
                "outside --demo will not start with it. Revoke it: "
                f"`seawarden token revoke --store {store} {demo_live[0]}`"
            )
        if not tokens.has_live_admin(conn):
            raise ConfigError(
                f"{store} has no admin token: create one with "
                f"`seawarden token create --store {store} --name ops-admin --role admin`"
            )


def serve(
    store: StoreOpt,
    host: Annotated[str, typer.Option(help="address to bind (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0: any free port)")] = 8800,
    subscriptions: Annotated[
        Path | None,
        typer.Option(help="subscriptions (YAML): ally token bindings and alert delivery"),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option(
            help="loopback only: the public demo admin token, and (without a feed option) "
            "bundled real traffic with scenario vessels replayed live"
        ),
    ] = False,
    areas: Annotated[
        Path | None, typer.Option(help="areas (GeoJSON) to seed the store's areas with")
    ] = None,
    watchlist: Annotated[
        list[Path] | None, typer.Option(help="watchlist CSV to seed the store's (repeatable)")
    ] = None,
    tcp: Annotated[str | None, typer.Option(help="HOST:PORT of an NMEA TCP server")] = None,
    udp: Annotated[str | None, typer.Option(help="[HOST]:PORT to listen on for NMEA/UDP")] = None,
    replay: Annotated[
        list[Path] | None, typer.Option(help="recorded file(s) replayed as a live feed")
    ] = None,
    speed: Annotated[float, typer.Option(help="replay pace over real time")] = 60.0,
    sensors: SensorsOpt = None,
    weather: WeatherOpt = None,
    registry: RegistryOpt = None,
    fusion: FusionOpt = None,
) -> None:
    """Run the pipeline on a feed, the delivery worker, the HTTP API and the console."""
    from seawarden.api.serve import ServeOptions
    from seawarden.pipeline.settings import env_settings

    start_service(
        ServeOptions(
            store=store,
            host=host,
            port=port,
            demo=demo,
            areas=areas,
            watchlists=list(watchlist or []),
            subscriptions=subscriptions,
            tcp=tcp,
            udp=udp,
            replay=list(replay or []),
            speed=speed,
            sources=source_settings(
                env_settings(), sensors=sensors, weather=weather, registry=registry, fusion=fusion
            ),
        )
    )


def start_service(opts: ServeOptions) -> LiveRunner | None:
    """Checks shared by ``serve`` and ``run --demo``, then run the service."""
    from seawarden.api import ApiSettings
    from seawarden.api.db import display_name
    from seawarden.api.serve import run as run_service

    if opts.demo and not is_loopback(opts.host):
        raise ConfigError(f"--demo uses a public token and binds to loopback only, not {opts.host}")
    if not 0 <= opts.port <= 65535:
        raise typer.BadParameter("--port must be 0-65535")
    if sum(bool(x) for x in (opts.tcp, opts.udp, opts.replay)) > 1:
        raise typer.BadParameter("give at most one of --tcp, --udp, --replay")
    if opts.speed <= 0:
        raise typer.BadParameter("--speed must be > 0")
    feed = bool(opts.tcp or opts.udp or opts.replay or opts.demo)
    opts.store = _prepare_store(opts.store, create=feed)
    preflight(opts.store, demo=opts.demo)
    subs = load_subscriptions(opts.subscriptions) or {}
    settings = ApiSettings(store=opts.store, demo=opts.demo, subscriptions=subs)
    if opts.demo:
        console.print(
            f"[bold yellow]DEMO[/]: admin token (public, loopback only): {tokens.DEMO_ADMIN_TOKEN}"
        )
    if not is_loopback(opts.host):
        console.print(
            f"[yellow]listening on {opts.host}: put TLS in front (reverse proxy); tokens are "
            "bearer secrets[/]"
        )
    console.print(
        f"seawarden: console /, API /api, metrics /metrics (store {display_name(opts.store)});"
        " Ctrl-C stops."
    )
    return run_service(opts, app_settings=settings)


def register(app: typer.Typer) -> None:
    """Add ``token`` and ``serve`` to the ``seawarden`` command."""
    app.add_typer(token_app, name="token")
    app.command("serve")(serve)
