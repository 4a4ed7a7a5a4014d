"""Request-scoped dependencies: the settings and a store connection."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

from seawarden.api import db
from seawarden.api.settings import ApiSettings


def settings_of(request: Request) -> ApiSettings:
    settings = request.app.state.settings
    if not isinstance(settings, ApiSettings):
        raise RuntimeError("app.state.settings is not ApiSettings; build the app with create_app")
    return settings


def store_connection(request: Request) -> Iterator[db.StoreConnection]:
    settings = settings_of(request)
    with db.connection(settings.store, busy_timeout_ms=settings.busy_timeout_ms) as conn:
        yield conn


Conn = Annotated[db.StoreConnection, Depends(store_connection)]
Settings = Annotated[ApiSettings, Depends(settings_of)]
