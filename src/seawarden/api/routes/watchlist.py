"""The watchlist: read it, add or change a vessel, remove one, import a CSV (admin)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from seawarden.api import db, managed
from seawarden.api.auth import STAFF, require
from seawarden.api.console_schemas import ImportResult, WatchlistItem, WatchlistPage, WatchlistPut
from seawarden.api.deps import Conn, Settings
from seawarden.api.principal import Principal
from seawarden.api.routes.vessels import link_of
from seawarden.api.schemas import ErrorBody
from seawarden.errors import ConfigError
from seawarden.fleet.identity import imo_valid
from seawarden.fleet.watchlist import WatchlistEntry

router = APIRouter(prefix="/watchlist", tags=["watchlist"])
Admin = Annotated[Principal, Depends(require("admin"))]
_NAME_CHAR = r"[A-Z0-9\u0400-\u04FF]"
# A name key is a normalised name (normalise_name: words joined by single spaces).
KEY_PATTERN = (
    r"^([0-9]{7}|imo:[0-9]{7}|mmsi:[0-9]{1,9}"
    rf"|name:{_NAME_CHAR}|name:{_NAME_CHAR}[A-Z0-9\u0400-\u04FF ]{{0,118}}{_NAME_CHAR})$"
)
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no valid token"},
    403: {"model": ErrorBody, "description": "role may not do this"},
    422: {"model": ErrorBody, "description": "invalid body or parameters"},
}


def _key(text: str) -> str:
    return f"imo:{text}" if text.isdigit() else text


def _apply(request: Request, settings: Settings) -> None:
    link = link_of(request)
    if link is not None:
        link.reload_watchlist(settings.store)


@router.get("", summary="The watchlist", response_model=WatchlistPage, responses=_ERRORS)
def list_watchlist(_staff: Annotated[Principal, Depends(require(*STAFF))], conn: Conn) -> Any:
    return {"items": [managed.entry_to_dict(e) for e in managed.entries(conn)]}


@router.api_route("/import", methods=["PUT", "DELETE"], include_in_schema=False)
def import_other_methods(mode: Annotated[str | None, Query()] = None) -> None:
    """``/import`` is not an entry key: other methods get 405, not a key validation error."""
    raise HTTPException(405, "use POST to import a watchlist CSV")


@router.put(
    "/{key}",
    summary="Add or replace a watchlisted vessel by IMO number (admin)",
    response_model=WatchlistItem,
    responses=_ERRORS,
)
def put_entry(
    request: Request,
    key: Annotated[str, Path(pattern=r"^[0-9]{7}$", description="IMO number (7 digits)")],
    body: WatchlistPut,
    admin: Admin,
    conn: Conn,
    settings: Settings,
) -> Any:
    imo = key
    number = int(imo)
    if not imo_valid(number):
        raise HTTPException(422, f"IMO {imo} fails the IMO check digit")
    bad = [m for m in (*body.mmsis, *body.legacy_mmsis) if not 100_000_000 <= m <= 999_999_999]
    if bad:
        raise HTTPException(422, f"MMSI {bad[0]} is not a 9-digit number")
    entry = WatchlistEntry(
        imo=number,
        mmsis=tuple(dict.fromkeys((*body.mmsis, *body.legacy_mmsis))),
        legacy_mmsis=tuple(body.legacy_mmsis),
        name=body.name.strip().upper(),
        former_names=tuple(n.strip().upper() for n in body.former_names if n.strip()),
        flag=body.flag,
        source=f"api:{admin.name}",
        reason=body.reason,
        lists=tuple(sorted(set(body.lists))),
    )
    managed.put_entry(conn, entry, admin.actor)
    _apply(request, settings)
    return managed.entry_to_dict(entry)


@router.delete(
    "/{key}",
    summary="Remove a vessel from the watchlist: an IMO, or an entry key like mmsi:273…",
    status_code=204,
    response_class=Response,
    responses=_ERRORS | {404: {"model": ErrorBody, "description": "no such entry"}},
)
def delete_entry(
    request: Request,
    key: Annotated[str, Path(pattern=KEY_PATTERN)],
    admin: Admin,
    conn: Conn,
    settings: Settings,
) -> Response:
    if not managed.delete_entry(conn, _key(key), admin.actor):
        raise HTTPException(404, f"no watchlist entry {key}")
    _apply(request, settings)
    return Response(status_code=204)


@router.post(
    "/import",
    summary="Import a watchlist CSV (local, GUR or sanctions format) (admin)",
    response_model=ImportResult,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
    responses=_ERRORS | {413: {"model": ErrorBody, "description": "over 1 MiB"}},
)
async def import_watchlist(
    request: Request,
    admin: Admin,
    settings: Settings,
    mode: Annotated[Literal["merge", "replace"], Query()] = "merge",
) -> Any:
    raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HTTPException(422, "the CSV must be UTF-8 text") from None
    if "\x00" in text:
        raise HTTPException(422, "the CSV contains NUL bytes")

    def work() -> dict[str, Any]:
        try:
            fmt, got, rejected, repaired = managed.parse_csv(text, f"import-{admin.name}")
        except ConfigError as exc:
            raise HTTPException(422, str(exc)) from exc
        if mode == "replace" and not got:
            # Replacing with nothing would silently empty the watchlist: a file whose rows
            # were all rejected (or that has only a header) is a mistake, not a request.
            why = f"; rejected: {dict(rejected)}" if rejected else " (no data rows)"
            raise HTTPException(
                422, f"replace refused: the CSV has no accepted watchlist entries{why}"
            )
        detail = {"format": fmt, "accepted": len(got), "rejected": sum(rejected.values())}
        with db.connection(settings.store, busy_timeout_ms=settings.busy_timeout_ms) as conn:
            total = managed.import_entries(
                conn, got, replace=mode == "replace", actor=admin.actor, detail=detail
            )
        return {
            "format": fmt,
            "accepted": len(got),
            "rejected": dict(rejected),
            "repaired": dict(repaired),
            "total": total,
        }

    result = await run_in_threadpool(work)
    _apply(request, settings)
    return result
