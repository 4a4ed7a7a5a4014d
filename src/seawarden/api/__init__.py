"""seawarden's HTTP API: alerts for watch officers and allies, authenticated and audited.

Watch officers and allied operations centres read alerts, act on them and check what was
delivered to whom, over HTTP. Access is by bearer token with a role (:mod:`.tokens`,
:mod:`.auth`); what an ally may see is decided in :mod:`.principal`. Build the service
with :func:`create_app`; ``seawarden serve`` runs it under uvicorn.

The names below load on first use, so the CLI's token commands do not import FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from seawarden.api.app import OPENAPI_URL, create_app
    from seawarden.api.settings import ApiSettings

__all__ = ["OPENAPI_URL", "ApiSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name in ("OPENAPI_URL", "create_app"):
        from seawarden.api import app

        return getattr(app, name)
    if name == "ApiSettings":
        from seawarden.api.settings import ApiSettings

        return ApiSettings
    raise AttributeError(name)
