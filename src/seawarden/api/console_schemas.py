"""Bodies of the console's resources: vessels, areas, watchlist, subscriptions, cancel."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from seawarden.api.schemas import NUL_MESSAGE, FreeText, _Strict, nul_path

RiskLevel = Literal["info", "low", "medium", "high", "critical"]


class NextCrossingOut(BaseModel):
    area_id: str
    eta: str
    distance_m: float
    inside_now: bool


class TrackPointOut(BaseModel):
    time: str
    lat: float
    lon: float


class Vessel(BaseModel):
    mmsi: int
    name: str | None
    imo: int | None
    callsign: str | None
    flag: str | None
    ship_type: int | None
    lat: float | None
    lon: float | None
    speed_kn: float | None
    course_deg: float | None
    heading_deg: int | None
    last_seen: str
    risk_level: RiskLevel
    risk_score: float
    monitored: bool
    watchlist: dict[str, Any] | None = Field(description="the watchlist match, or null")
    non_ais: bool = Field(
        default=False,
        description="a dark vessel seen only by radar/satellite: mmsi is a seawarden target id",
    )
    next_crossing: NextCrossingOut | None
    predicted_track: list[TrackPointOut]
    alert_id: str | None = Field(description="the vessel's open alert, or null")


class VesselPage(BaseModel):
    items: list[Vessel]


class IdentityChangeOut(BaseModel):
    time: str
    field: str
    old: str | None
    new: str | None
    source: str


class ContributionOut(BaseModel):
    detector: str
    weight: float
    text: str


class EventOut(BaseModel):
    """A stored event as in docs/formats.md."""

    model_config = ConfigDict(extra="allow")

    id: str
    kind: str
    phase: str
    mmsi: int
    time: str
    lat: float
    lon: float
    area_id: str | None
    producer_version: str
    attrs: dict[str, Any]


class AlertRef(BaseModel):
    id: str
    revision: int
    msg_type: str
    severity: str
    score: float
    event_time: str


class VesselDossier(Vessel):
    identity_history: list[IdentityChangeOut]
    contributions: list[ContributionOut]
    events: list[EventOut] = Field(description="newest first, at most 500")
    alerts: list[AlertRef] = Field(description="every revision, newest first")


class PositionOut(BaseModel):
    time: str
    lat: float
    lon: float
    speed_kn: float | None
    course_deg: float | None
    heading_deg: int | None
    nav_status: int | None


class TrackPage(BaseModel):
    items: list[PositionOut]
    truncated: bool = Field(False, description="more points matched than were returned")


# -- areas ------------------------------------------------------------------------------------


class AreaFeature(BaseModel):
    """A GeoJSON Feature as in config/areas.geojson (validated by seawarden.areas.load)."""

    model_config = ConfigDict(extra="allow")

    type: Literal["Feature"]
    geometry: dict[str, Any]
    properties: dict[str, Any]

    @model_validator(mode="after")
    def _no_nul(self) -> AreaFeature:
        where = nul_path(self.model_dump())
        if where is not None:
            raise ValueError(f"{where} {NUL_MESSAGE}")
        return self


class AreaCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[AreaFeature]


# -- watchlist ----------------------------------------------------------------------------------


class WatchlistItem(BaseModel):
    key: str
    imo: int | None
    mmsis: list[int]
    legacy_mmsis: list[int]
    name: str
    former_names: list[str]
    flag: str | None
    lists: list[str]
    reason: str
    source: str


class WatchlistPage(BaseModel):
    items: list[WatchlistItem]


class WatchlistPut(_Strict):
    mmsis: list[int] = Field(default_factory=list, max_length=20)
    legacy_mmsis: list[int] = Field(default_factory=list, max_length=20)
    name: FreeText = Field("", max_length=120)
    former_names: list[FreeText] = Field(default_factory=list, max_length=50)
    flag: str | None = Field(None, pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    reason: FreeText = Field("", max_length=2000)
    lists: list[FreeText] = Field(default_factory=lambda: ["local"], max_length=10)


class ImportResult(BaseModel):
    format: str
    accepted: int
    rejected: dict[str, int]
    repaired: dict[str, int]
    total: int = Field(description="entries in the watchlist after the import")


# -- subscriptions, cancel ----------------------------------------------------------------------


class ChannelOut(BaseModel):
    kind: str
    target: str = Field(description="scheme://host[:port] only (no path or query); email addresses")
    secret: str | None = Field(description="the secret's name, never its value")


class SubscriptionOut(BaseModel):
    id: str
    recipient: str | None
    nation: str | None
    audience: list[str]
    areas: list[str] | str | None
    min_severity: str | None
    statuses: list[str]
    watchlist_only: bool
    channels: list[ChannelOut]


class SubscriptionPage(BaseModel):
    items: list[SubscriptionOut]


class CancelBody(_Strict):
    reason: FreeText = Field(min_length=1, max_length=2000)
