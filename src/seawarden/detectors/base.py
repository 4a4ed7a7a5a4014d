"""The detector contract: declared parameters, framework-owned state, explainable events.

A detector answers one question about one vessel's behaviour ("is it dragging an anchor?").
It never keeps state of its own: the framework gives it the vessel's state ``S``, the new
report and a :class:`Context` (clock, areas, vessel facts, neighbours, learned normalcy,
land mask, radio coverage), and gets back the new state and any events. That is what lets
a replay, a live run and a partitioned worker give the same answers, and lets state be
saved for ``--resume``.

Events follow the lifecycle ``open → update* → close`` under one id
(``event_id(name, mmsi, start)``), and carry the detector version, the parameters used, a
``confidence`` in 0..1, human-readable ``reasons`` and the ``evidence`` (the reports that
triggered them). An event without its reasons is a bug.

Writing a detector: subclass :class:`Detector`, declare ``name``, ``version``,
``config_type`` (a frozen dataclass whose ``__post_init__`` validates and raises
``ConfigError``), ``state_types`` (the dataclasses used in its state, for the codec), and
implement ``initial_state`` and ``step``; override ``on_static`` / ``on_tick`` if needed.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from array import array
from collections import deque
from collections.abc import Callable, Mapping, MutableSequence, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, NamedTuple, Protocol, TypeVar

from seawarden.model import Event, EventPhase, PositionReport, StaticReport, event_id

if TYPE_CHECKING:
    from seawarden.areas.index import AreaIndex
    from seawarden.fleet.vessel import VesselState

C = TypeVar("C")
S = TypeVar("S")
T = TypeVar("T")

# -- what detectors may ask of the world ------------------------------------------------------


class Normalcy(Protocol):
    """What the learned model of normal traffic answers (``risk/normalcy.py``).

    Every method returns None where the model has seen too little traffic to say: detectors
    must then fall back to their fixed thresholds, never treat "unknown" as "abnormal".
    """

    def surprise(
        self,
        lat: float,
        lon: float,
        speed_kn: float | None,
        course_deg: float | None,
        ship_type: int | None,
    ) -> float | None:
        """How unusual this speed/course is here, 0 (typical) .. 1 (never seen)."""
        ...

    def stop_fraction(self, lat: float, lon: float) -> float | None:
        """Share of reports in this cell from vessels stopped (< 1 kn): anchorage/port proxy."""
        ...

    def expected_interval_s(self, lat: float, lon: float) -> float | None:
        """Typical interval between reports of one vessel here (coverage proxy)."""
        ...

    def typical_dwell_s(self, lat: float, lon: float) -> float | None:
        """Typical time a vessel spends in this cell."""
        ...


class LandMask(Protocol):
    def on_land(self, lat: float, lon: float) -> bool:
        """True if the point is on land further than the harbour buffer from the coast."""
        ...


class Coverage(Protocol):
    """Radio coverage learned from the traffic itself (``detectors/coverage.py``)."""

    def observe(self, report: PositionReport) -> None: ...

    def others_heard_near(self, lat: float, lon: float, since: datetime, exclude_mmsi: int) -> int:
        """How many other vessels were heard near (same/neighbouring cells) since ``since``."""
        ...


class Neighbour(NamedTuple):
    """Another vessel near a query point. A named tuple, not a frozen dataclass: a port
    query returns ~18 of them and a frozen dataclass's ``__init__`` costs several times a
    tuple's (issue 8, neighbour queries)."""

    mmsi: int
    report: PositionReport  # its latest position
    distance_m: float


@dataclass(slots=True, kw_only=True)
class Context:
    """What the framework tells a detector besides the vessel's own detector state."""

    now: datetime
    vessel: VesselState
    inside: tuple[str, ...] = ()
    areas: AreaIndex | None = None
    neighbours: Callable[[float, float, float], list[Neighbour]] = lambda lat, lon, r: []
    normalcy: Normalcy | None = None
    land: LandMask | None = None
    coverage: Coverage | None = None
    # set by the framework for monitored vessels: tighter timers
    monitored: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


# -- evidence ------------------------------------------------------------------------------


def evidence(report: PositionReport) -> dict[str, Any]:
    """A report as event evidence (JSON-ready)."""
    return {
        "time": report.time.isoformat(),
        "lat": round(report.lat, 6),
        "lon": round(report.lon, 6),
        "speed_kn": report.speed_kn,
        "course_deg": report.course_deg,
        "heading_deg": report.heading_deg,
        "nav_status": report.nav_status,
        "msg_type": report.msg_type,
        "source": report.source,
        "line_no": report.line_no,
    }


# -- the contract -------------------------------------------------------------------------------


class Detector(ABC, Generic[C, S]):
    """Base class of every detector; see the module docstring."""

    name: ClassVar[str]
    version: ClassVar[str]
    config_type: ClassVar[type[Any]]
    state_types: ClassVar[tuple[type[Any], ...]] = ()
    # True for a detector whose findings for one vessel depend on *other* vessels' state
    # machines (an encounter is owned by the lower MMSI of a pair and mirrored to the
    # partner). A partitioned worker runs such detectors for every vessel it reads, not only
    # the ones it owns, so the mirror reaches an owned partner (pipeline/partition.py).
    cross_vessel: ClassVar[bool] = False

    def __init__(self, config: C | None = None) -> None:
        self.config: C = config if config is not None else self.config_type()

    @abstractmethod
    def initial_state(self, mmsi: int) -> S: ...

    @abstractmethod
    def step(self, state: S, report: PositionReport, ctx: Context) -> tuple[S, list[Event]]:
        """Consume one position (in event-time order for this vessel)."""

    def on_static(self, state: S, report: StaticReport, ctx: Context) -> tuple[S, list[Event]]:
        """Consume a static/voyage report; most detectors ignore them."""
        return state, []

    def on_tick(self, state: S, now: datetime, ctx: Context) -> tuple[S, list[Event]]:
        """Called periodically in event time (e.g. to notice a vessel going silent)."""
        return state, []

    # -- helpers for subclasses ---------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)  # type: ignore[call-overload, no-any-return]

    def make_event(
        self,
        phase: EventPhase,
        mmsi: int,
        start: datetime,
        at: PositionReport | None,
        *,
        time: datetime | None = None,
        lat: float | None = None,
        lon: float | None = None,
        area_id: str | None = None,
        confidence: float,
        reasons: Sequence[str],
        evidence_reports: Sequence[PositionReport] = (),
        attrs: Mapping[str, Any] | None = None,
        discriminator: str = "",
    ) -> Event:
        """An event of this detector; ``start`` (situation onset) fixes its id."""
        if not reasons:
            raise ValueError(f"{self.name}: an event needs at least one reason")
        extra = (discriminator,) if discriminator else ()
        body: dict[str, Any] = {
            "confidence": round(max(0.0, min(1.0, confidence)), 3),
            "reasons": list(reasons),
            "started": start.isoformat(),
            "params": self.params(),
            "evidence": [evidence(r) for r in evidence_reports],
        }
        if attrs:
            body.update(attrs)
        return Event(
            id=event_id(self.name, mmsi, start, *extra),
            kind=self.name,
            phase=phase,
            mmsi=mmsi,
            time=time or (at.time if at is not None else start),
            lat=lat if lat is not None else (at.lat if at is not None else 0.0),
            lon=lon if lon is not None else (at.lon if at is not None else 0.0),
            area_id=area_id,
            producer_version=self.version,
            attrs=body,
        )

    # -- state codec (JSON-safe, for checkpoints) -----------------------------------------------
    def encode_state(self, state: S) -> Any:
        return encode(state)

    def decode_state(self, data: Any) -> S:
        types = {t.__name__: t for t in self.state_types}
        decoded: S = decode(data, types)
        return decoded


def push_bounded(items: MutableSequence[T], item: T, maxlen: int) -> None:
    """Append ``item``, dropping the oldest beyond ``maxlen`` — a ``deque(maxlen=…)`` for
    the few entries a per-vessel state keeps, without the deque's fixed ~0.6–1.1 KB of
    blocks (issue 8: memory per tracked vessel). The lists stay short, so the shift is a
    small memmove."""
    items.append(item)
    if len(items) > maxlen:
        del items[0]


def float_window() -> array[float]:
    """An empty window of floats for a per-vessel state: an ``array('d')`` holds each value
    in 8 bytes where a list holds a pointer to a 24-byte float object (issue 8: memory per
    tracked vessel). Values are the same doubles, so results are unchanged; the codec
    below saves it as ``{"$ad": [...]}``."""
    return array("d")


# -- a small tagged JSON codec for detector states ------------------------------------------


def encode(value: Any) -> Any:
    """Dataclasses, datetimes, deques, float arrays, tuples, lists, dicts and scalars → JSON
    values."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$dc": type(value).__name__, "f": fields}
    if isinstance(value, deque):
        return {"$dq": [encode(v) for v in value], "max": value.maxlen}
    if isinstance(value, array) and value.typecode == "d":
        return {"$ad": value.tolist()}
    if isinstance(value, tuple):
        return {"$tu": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return {"$set": sorted(encode(v) for v in value)}
    if isinstance(value, dict):
        return {"$map": [[encode(k), encode(v)] for k, v in value.items()]}
    raise TypeError(f"cannot encode detector state value of type {type(value).__name__}")


def decode(value: Any, types: Mapping[str, type[Any]]) -> Any:
    if isinstance(value, list):
        return [decode(v, types) for v in value]
    if not isinstance(value, dict):
        return value
    if "$dt" in value:
        return datetime.fromisoformat(value["$dt"])
    if "$dc" in value:
        cls = types.get(value["$dc"]) or _BUILTIN_STATE_TYPES.get(value["$dc"])
        if cls is None:
            raise TypeError(f"unknown state type {value['$dc']!r}; add it to state_types")
        return cls(**{k: decode(v, types) for k, v in value["f"].items()})
    if "$dq" in value:
        return deque((decode(v, types) for v in value["$dq"]), maxlen=value["max"])
    if "$ad" in value:
        values = value["$ad"]
        if not isinstance(values, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in values
        ):
            raise TypeError("malformed detector state: $ad holds numbers only")
        return array("d", (float(v) for v in values))
    if "$tu" in value:
        return tuple(decode(v, types) for v in value["$tu"])
    if "$set" in value:
        return {decode(v, types) for v in value["$set"]}
    if "$map" in value:
        return {decode(k, types): decode(v, types) for k, v in value["$map"]}
    raise TypeError(f"malformed detector state: {sorted(value)}")


_BUILTIN_STATE_TYPES: dict[str, type[Any]] = {"PositionReport": PositionReport}
