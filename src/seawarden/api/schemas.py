"""Request and response bodies of the API (pydantic, documented in the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


NUL_MESSAGE = "must not contain the NUL character (U+0000)"


def nul_path(value: Any) -> str | None:
    """Where in a JSON value (keys included) a string holds NUL, as ``a.b[2]``; None if
    nowhere. PostgreSQL text and jsonb cannot hold U+0000, so the store would refuse it;
    refusing it at the edge gives the same 422 on either store. Iterative: a body nested
    as deep as the parser allows must not exhaust the stack here."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, v = stack.pop()
        if isinstance(v, str):
            if "\x00" in v:
                return path or "value"
        elif isinstance(v, dict):
            for k, item in reversed(v.items()):
                here = f"{path}.{k}" if path else str(k)
                if "\x00" in here:
                    return here.replace("\x00", "\\u0000")
                stack.append((here, item))
        elif isinstance(v, list | tuple):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(v))))
    return None


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError(NUL_MESSAGE)
    return value


# A free-text field of a request (a reason, a name): anything printable or not but NUL.
# The pattern documents the rule in the OpenAPI schema (clients and schemathesis read it);
# the validator checks it with a message that names the character.
NO_NUL_PATTERN = r"^[^\x00]*$"
FreeText = Annotated[
    str, AfterValidator(_no_nul), Field(json_schema_extra={"pattern": NO_NUL_PATTERN})
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorDetail(BaseModel):
    loc: list[str]
    msg: str


class ErrorBody(BaseModel):
    """Every error: a stable machine code and a message that says what to do."""

    error: str = Field(examples=["not_found"])
    message: str
    details: list[ErrorDetail] | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    store: Literal["ok", "unavailable"]


class Reason(BaseModel):
    detector: str
    weight: float
    text: str


class AlertRevision(BaseModel):
    """One revision of an alert, as the pipeline wrote it (``Alert.to_dict()``)."""

    model_config = ConfigDict(extra="allow")

    id: str
    revision: int
    msg_type: str
    mmsi: int
    severity: str
    score: float
    event_time: str
    lat: float
    lon: float
    area_ids: list[str]
    releasability: str
    status: str = "Actual"
    imo: int | None = None
    name: str | None = None
    flag: str | None = None
    detectors: list[str] = []
    reasons: list[Reason] = []
    next_crossing: dict[str, Any] | None = None
    watchlist: dict[str, Any] | None = None
    monitored: bool = False
    notes: list[str] = []  # context that changes how the findings read ("likely accidental")


class OperatorState(BaseModel):
    """What the watch floor has done with an alert (derived from its actions)."""

    acknowledged_by: str | None = None
    acknowledged_at: str | None = None
    assigned_to: str | None = None
    assigned_by: str | None = None
    assigned_at: str | None = None
    closed_by: str | None = None
    closed_at: str | None = None
    close_reason: str | None = None
    cancelled_by: str | None = None
    cancelled_at: str | None = None
    cancel_reason: str | None = None


class AlertAction(BaseModel):
    seq: int
    time: str
    actor: str
    action: Literal["ack", "assign", "close", "cancel"]
    detail: dict[str, Any]


class AlertItem(BaseModel):
    alert: AlertRevision = Field(description="the latest revision")
    revisions: int = Field(description="how many revisions the alert has")
    operator: OperatorState | None = Field(None, description="absent for allies")


class AlertPage(BaseModel):
    items: list[AlertItem]
    next_cursor: str | None = Field(
        None, description="pass as `cursor` for the next (older) page; null at the end"
    )


class AlertDetail(BaseModel):
    id: str
    revisions: list[AlertRevision]
    operator: OperatorState | None = Field(None, description="absent for allies")
    actions: list[AlertAction] | None = Field(None, description="absent for allies")


class AssignBody(_Strict):
    to: str = Field(pattern=NAME_PATTERN, description="operator or team the alert goes to")


class CloseBody(_Strict):
    reason: FreeText = Field(min_length=1, max_length=2000)


class AuditEntryOut(BaseModel):
    seq: int
    time: str
    actor: str
    action: str
    target: str
    detail: dict[str, Any]


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    next_after: int | None = Field(None, description="pass as `after` for the next page")


DeliveryStatus = Literal["pending", "delivered", "dead"]


class Delivery(BaseModel):
    delivery_id: str
    alert_id: str | None
    revision: int | None
    subscription_id: str | None
    channel: str | None
    status: str
    attempts: int | None
    next_attempt: str | None
    last_error: str | None
    created: str | None
    delivered: str | None
    payload_bytes: int | None = Field(None, description="size of the payload (never returned)")


class DeliveryPage(BaseModel):
    items: list[Delivery]
    next_cursor: str | None = None


class TokenInfo(BaseModel):
    name: str
    role: Literal["admin", "analyst", "ally"]
    nation: str | None
    areas: list[str] | None = Field(description="null: all areas")
    subscription_id: str | None
    created: str
    revoked: str | None


class TokenCreate(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    role: Literal["admin", "analyst", "ally"]
    nation: str | None = Field(None, pattern=r"^[A-Z]{3}$")
    areas: list[FreeText] | None = Field(None, max_length=200)
    subscription_id: str | None = Field(None, pattern=ID_PATTERN)


class TokenCreated(BaseModel):
    token: str = Field(description="shown once; the store keeps only its SHA-256")
    info: TokenInfo


class Stats(BaseModel):
    auth_failures: dict[str, int]


class Run(BaseModel):
    """One pipeline run as the store recorded it: inputs, effective config, versions, totals."""

    run_id: str
    started: str
    finished: str | None
    command: str
    status: str
    inputs: list[str]
    config: dict[str, Any]
    versions: dict[str, str]
    stats: dict[str, Any] | None


class RunPage(BaseModel):
    items: list[Run]


class Me(BaseModel):
    """Who the token is: what the console shows in its header and which controls it offers."""

    name: str
    role: Literal["admin", "analyst", "ally"]
    nation: str | None
    areas: list[str] | None  # None = all areas
