"""Token management for admins (the same operations as `seawarden token ...`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path

from seawarden.api import tokens
from seawarden.api.auth import require
from seawarden.api.deps import Conn
from seawarden.api.principal import Principal
from seawarden.api.schemas import NAME_PATTERN, ErrorBody, TokenCreate, TokenCreated, TokenInfo
from seawarden.errors import ConfigError

router = APIRouter(prefix="/tokens", tags=["tokens"])
Admin = Annotated[Principal, Depends(require("admin"))]
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "no valid token"},
    403: {"model": ErrorBody, "description": "admin only"},
    422: {"model": ErrorBody, "description": "invalid body"},
}


def info(rec: tokens.TokenRecord) -> TokenInfo:
    return TokenInfo(
        name=rec.name,
        role=rec.role,
        nation=rec.nation,
        areas=None if rec.areas is None else list(rec.areas),
        subscription_id=rec.subscription_id,
        created=rec.created.isoformat(),
        revoked=None if rec.revoked is None else rec.revoked.isoformat(),
    )


@router.get(
    "",
    summary="List tokens (never their values)",
    response_model=list[TokenInfo],
    responses=_ERRORS,
)
def list_tokens(_admin: Admin, conn: Conn) -> list[TokenInfo]:
    return [info(r) for r in tokens.all_tokens(conn)]


@router.post(
    "",
    summary="Create a token; its value is returned once",
    response_model=TokenCreated,
    status_code=201,
    responses=_ERRORS
    | {
        409: {"model": ErrorBody, "description": "name taken or bad attributes"},
        413: {"model": ErrorBody, "description": "body over the size limit (64 KiB)"},
    },
)
def create_token(body: TokenCreate, admin: Admin, conn: Conn) -> TokenCreated:
    try:
        secret, rec = tokens.create(
            conn,
            name=body.name,
            role=body.role,
            actor=admin.actor,
            nation=body.nation,
            areas=None if body.areas is None else tuple(body.areas),
            subscription_id=body.subscription_id,
        )
    except ConfigError as exc:
        raise HTTPException(409, str(exc)) from exc
    return TokenCreated(token=secret, info=info(rec))


@router.post(
    "/{name}/revoke",
    summary="Revoke a token (takes effect on the next request)",
    response_model=TokenInfo,
    responses=_ERRORS | {404: {"model": ErrorBody, "description": "no such token"}},
)
def revoke_token(
    name: Annotated[str, Path(pattern=NAME_PATTERN)], admin: Admin, conn: Conn
) -> TokenInfo:
    rec = tokens.revoke(conn, name, actor=admin.actor)
    if rec is None:
        raise HTTPException(404, f"no token {name}")
    return info(rec)
