"""Fuse detector events and priors into one explainable risk score per vessel.

A watch officer cannot act on seven detectors' raw output; they need one number, a level and
the reasons behind it. Each open detector event contributes points (its configured weight ×
its confidence, specialised per finding type: a GNSS-interference jump weighs far less than a
cloned MMSI); closed events fade with a half-life, so a vessel that just stopped dragging an
anchor does not drop to "info" the next minute. Priors add to that: a sanctions listing, and
— multiplying behaviour — proximity to a cable or pipeline. Points combine like independent
probabilities (``100 × (1 − Π(1 − pᵢ/100))``), so two medium signals make a high one but
nothing exceeds 100, and every point in the total is traceable to a listed contribution.

Some events are not findings but *modifiers* (``attrs["modifies"]``): context that changes
how much a finding is believed without hiding it — an independent radar contact confirming
an AIS position (spoofing × 0.5), a storm that makes an anchor drag plausibly accidental
(anchor_drag × 0.9, and the alert says "likely accidental"). A modifier adds no points of its
own; the factor and its reason are written into the contribution it changes, so the score
stays traceable.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from seawarden.errors import ConfigError
from seawarden.fleet.vessel import VesselState
from seawarden.model import Event

Level = Literal["info", "low", "medium", "high", "critical"]
LEVELS: tuple[Level, ...] = ("info", "low", "medium", "high", "critical")

# Points at confidence 1. Keys are a detector name, or "detector.type" for a finding type
# (the event's attrs["type"]), which wins over the detector's own weight.
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "anchor_drag": 95.0,
    "loitering": 60.0,
    "ais_gap": 62.0,
    "spoofing": 70.0,
    "spoofing.gnss_interference": 12.0,
    "identity": 70.0,
    "identity.watchlist": 35.0,
    "identity.flag_mismatch": 30.0,
    "encounter": 55.0,
    "encounter.with_watchlisted": 80.0,
    "course_speed": 30.0,
    "approach": 22.0,
    # Non-AIS sensors fused with AIS (fusion/stage.py)
    "fusion.dark_target": 80.0,
    "fusion.dark_tracked": 72.0,
    "fusion.contradicted": 85.0,
    "fusion.link": 40.0,
    "fusion.unconfirmed": 25.0,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskConfig:
    """Weights and thresholds of the risk score (``config/risk.yaml``).

    * ``weights``: points per detector (or ``detector.type``) at confidence 1.
    * ``levels``: lower bounds of ``low``, ``medium``, ``high``, ``critical`` (0–100).
    * ``closed_half_life_s``: a closed event's points halve every this many seconds.
    * ``corridor_factor`` / ``near_factor`` / ``far_factor``: behaviour points are scaled by
      where the vessel is — inside a cable/pipeline corridor, within ``near_m`` of one, or
      elsewhere — except findings in ``location_independent``: identity (who a ship is does
      not depend on where it is) and detectors that already weigh the corridor themselves.
    * ``sanctions_points``: prior for a watchlist match on an official sanctions list.
    * ``same_evidence``: groups of sources that read the same facts (an AIS silence seen by
      the gap detector and by a radar still tracking the ship); only the strongest scores.
    """

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    levels: tuple[float, float, float, float] = (15.0, 40.0, 60.0, 80.0)
    closed_half_life_s: float = 1800.0
    corridor_factor: float = 1.0
    near_factor: float = 0.8
    far_factor: float = 0.55
    near_m: float = 15_000.0
    sanctions_points: float = 15.0
    # Sources that weigh the same facts: only the strongest of each group scores.
    same_evidence: tuple[tuple[str, ...], ...] = (("ais_gap", "fusion.dark_tracked"),)
    # Detectors that already weigh where the vessel is (or findings about who it is) are not
    # scaled again by location.
    location_independent: tuple[str, ...] = (
        "identity",
        "anchor_drag",
        "loitering",
        "ais_gap",
        "encounter.with_watchlisted",
        # the fusion stage raises a dark target only inside or heading to an area
        "fusion.dark_target",
    )

    def __post_init__(self) -> None:
        lo, me, hi, cr = self.levels
        if not 0 < lo < me < hi < cr <= 100:
            raise ConfigError(f"risk levels must rise within 0..100, got {self.levels}")
        for key, w in self.weights.items():
            if not 0 <= w <= 100:
                raise ConfigError(f"risk weight {key}={w} must be within 0..100")
        if self.closed_half_life_s <= 0 or self.near_m < 0:
            raise ConfigError("closed_half_life_s must be > 0 and near_m >= 0")
        for name in ("corridor_factor", "near_factor", "far_factor"):
            if not 0 <= getattr(self, name) <= 1.5:
                raise ConfigError(f"{name} must be within 0..1.5")

    def level(self, score: float) -> Level:
        lo, me, hi, cr = self.levels
        if score >= cr:
            return "critical"
        if score >= hi:
            return "high"
        if score >= me:
            return "medium"
        if score >= lo:
            return "low"
        return "info"

    def weight(self, kind: str, finding: str | None) -> float:
        if finding is not None:
            specific = self.weights.get(f"{kind}.{finding}")
            if specific is not None:
                return specific
        return self.weights.get(kind, 0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Contribution:
    """One reason in a score: which detector/prior, how many points, and why in words."""

    source: str
    points: float
    text: str
    event_id: str | None = None
    area_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Assessment:
    mmsi: int
    time: datetime
    score: float
    level: Level
    contributions: tuple[Contribution, ...]
    area_ids: tuple[str, ...]
    # context that changed how findings are read ("likely accidental: storm ..."), from
    # modifiers that applied to at least one contribution
    notes: tuple[str, ...] = ()


LISTING_ONLY = frozenset({"identity.watchlist", "approach"})
"""Sources that say who or where a listed ship is, not what it does."""

PriorSource = Callable[[VesselState, datetime], list[Contribution]]
"""Extra priors (``risk/priors.py``: registry particulars); called only for vessels that are
already assessed, so a prior alone never raises an alert."""


@dataclass(slots=True)
class _Active:
    event: Event
    closed_at: datetime | None = None
    # What assess() reads of the event, worked out once (issue 8: a vessel with findings is
    # re-scored on every report): the config it was made with, the source, the points
    # before fading and place, the reason text, whether the place scales it.
    parts: tuple[RiskConfig, str, float, str, bool] | None = field(
        default=None, compare=False, repr=False
    )

    def parts_for(self, cfg: RiskConfig) -> tuple[RiskConfig, str, float, str, bool]:
        parts = self.parts
        if parts is None or parts[0] is not cfg:
            ev = self.event
            finding = _finding(ev)
            source = ev.kind if finding is None else f"{ev.kind}.{finding}"
            points = cfg.weight(ev.kind, finding) * float(ev.attrs.get("confidence", 1.0))
            reasons = ev.attrs.get("reasons") or [ev.kind]
            text = "; ".join(str(r) for r in reasons)
            placed = ev.kind not in cfg.location_independent and (
                source not in cfg.location_independent
            )
            parts = self.parts = (cfg, source, points, text, placed)
        return parts


def is_modifier(ev: Event) -> bool:
    return bool(ev.attrs.get("modifies"))


class RiskEngine:
    """Keeps each vessel's contributing events and scores it on demand."""

    def __init__(
        self, config: RiskConfig | None = None, priors: Sequence[PriorSource] = ()
    ) -> None:
        self.config = config or RiskConfig()
        self.priors: list[PriorSource] = list(priors)
        self._active: dict[int, dict[str, _Active]] = {}
        self._modifiers: dict[int, dict[str, _Active]] = {}
        # A vessel whose findings are all still open (an identity finding, a spoofing or gap
        # episode) scores the same on every report until its findings, place or listing
        # change: nothing fades. The last such assessment, with what it was made from, is
        # reused (issue 8: such vessels are re-scored on most reports). Dropped whenever the
        # vessel's findings or modifiers change.
        self._steady: dict[int, tuple[RiskConfig, object, tuple[float, str], Assessment]] = {}

    def __contains__(self, mmsi: object) -> bool:
        return mmsi in self._active

    def vessels(self) -> list[int]:
        return list(self._active)

    def observe(self, events: Iterable[Event]) -> set[int]:
        """Take detector events; returns the MMSIs whose contributions changed."""
        touched: set[int] = set()
        for ev in events:
            if ev.kind.startswith(("area.", "identity.change", "watchlist.")):
                continue  # facts, not findings: the identity detector judges them
            ev = _held(ev)
            if is_modifier(ev):
                # Modifiers only matter for a vessel with findings; kept until they expire.
                mods = self._modifiers.setdefault(ev.mmsi, {})
                for k in [k for k, m in mods.items() if _lapsed(m, ev.time)]:
                    del mods[k]  # bounded: a vessel confirmed every 10 min keeps only live ones
                closed = ev.time if ev.phase in ("instant", "close") else None
                mods[f"{ev.kind}:{ev.id}"] = _Active(event=ev, closed_at=closed)
                self._steady.pop(ev.mmsi, None)
                if ev.mmsi in self._active:
                    touched.add(ev.mmsi)
                continue
            if self.config.weight(ev.kind, _finding(ev)) <= 0:
                continue
            per_vessel = self._active.setdefault(ev.mmsi, {})
            self._steady.pop(ev.mmsi, None)
            key = f"{ev.kind}:{ev.id}"
            if ev.phase == "instant":
                # a momentary finding counts from its time and fades like a closed one
                per_vessel[key] = _Active(event=ev, closed_at=ev.time)
            elif ev.phase == "close":
                entry = per_vessel.get(key)
                per_vessel[key] = _Active(event=ev if entry is None else _merge(entry.event, ev))
                per_vessel[key].closed_at = ev.time
            else:
                per_vessel[key] = _Active(event=ev)
            touched.add(ev.mmsi)
        return touched

    def assess(
        self, vessel: VesselState, now: datetime, *, corridor_distance_m: float | None
    ) -> Assessment:
        cfg = self.config
        steady = self._steady.get(vessel.mmsi)
        if steady is not None:
            s_cfg, s_watch, s_place, last = steady
            if (
                s_cfg is cfg
                and s_watch is vessel.watch
                and s_place == self._place_factor(corridor_distance_m)
            ):
                return replace(last, time=now)
        contributions: list[Contribution] = []
        per_vessel = self._active.get(vessel.mmsi, {})
        expired: list[str] = []
        place: tuple[float, str] | None = None
        for key, entry in per_vessel.items():
            ev = entry.event
            _, source, points, text, placed = entry.parts_for(cfg)
            fade = ""
            if entry.closed_at is not None:
                age = max((now - entry.closed_at).total_seconds(), 0.0)
                points *= 0.5 ** (age / cfg.closed_half_life_s)
                fade = f" (ended {age / 60:.0f} min ago)"
                if points < 1.0:
                    expired.append(key)
                    continue
            if placed:
                if place is None:
                    place = self._place_factor(corridor_distance_m)
                factor, where = place
                points *= factor
            else:
                where = ""
            contributions.append(
                Contribution(
                    source=source,
                    points=round(points, 1),
                    text=text + fade + where,
                    event_id=ev.id,
                    area_id=ev.area_id,
                )
            )
        for key in expired:
            del per_vessel[key]
        contributions, notes = self._apply_modifiers(vessel.mmsi, contributions, now)
        # Repeats of one kind of finding (eight speed changes of a ferry) are one reason, not
        # eight independent ones: keep the strongest per source and say how many there were.
        strongest: dict[str, Contribution] = {}
        counts: dict[str, int] = {}
        for c in contributions:
            counts[c.source] = counts.get(c.source, 0) + 1
            best = strongest.get(c.source)
            if best is None or c.points > best.points:
                strongest[c.source] = c
        contributions = [
            c
            if counts[c.source] == 1
            else Contribution(
                source=c.source,
                points=c.points,
                text=f"{c.text} (strongest of {counts[c.source]} such findings)",
                event_id=c.event_id,
                area_id=c.area_id,
            )
            for c in strongest.values()
        ]
        contributions = self._one_per_group(contributions)
        if not per_vessel:
            self._active.pop(vessel.mmsi, None)
        # Registry priors weigh behaviour, they are not a finding: a listing alone (the
        # watchlist, an approach of a listed ship) does not let them in.
        behaviour = any(c.points > 0 and c.source not in LISTING_ONLY for c in contributions)
        contributions.extend(self._priors(vessel, now, registry=behaviour))
        contributions.sort(key=lambda c: (-c.points, c.source, c.event_id or ""))
        remaining = 1.0
        for c in contributions:
            remaining *= 1.0 - min(max(c.points, 0.0), 100.0) / 100.0
        score = round(100.0 * (1.0 - remaining), 1)
        areas = tuple(sorted({c.area_id for c in contributions if c.area_id}))
        assessment = Assessment(
            mmsi=vessel.mmsi,
            time=now,
            score=score,
            level=cfg.level(score),
            contributions=tuple(contributions),
            area_ids=areas,
            notes=notes,
        )
        if (
            per_vessel
            and not self.priors
            and not self._modifiers.get(vessel.mmsi)
            and all(e.closed_at is None for e in per_vessel.values())
        ):
            at = self._place_factor(corridor_distance_m)
            self._steady[vessel.mmsi] = (cfg, vessel.watch, at, assessment)
        return assessment

    def _apply_modifiers(
        self, mmsi: int, contributions: list[Contribution], now: datetime
    ) -> tuple[list[Contribution], tuple[str, ...]]:
        mods = self._modifiers.get(mmsi)
        if not mods:
            return contributions, ()
        active: list[Event] = []
        for key in sorted(mods):
            entry = mods[key]
            ev = entry.event
            if _lapsed(entry, now):
                del mods[key]
                continue
            if ev.time <= now:
                active.append(ev)
        if not mods:
            del self._modifiers[mmsi]
        notes: list[str] = []
        out: list[Contribution] = []
        for c in contributions:
            # One modifier per kind of context, the strongest: five radar confirmations in
            # half an hour are one fact ("radar sees it where AIS says"), not 0.5⁵.
            chosen: dict[str, tuple[float, Event]] = {}
            for ev in active:
                target = str(ev.attrs["modifies"])
                if c.source != target and not c.source.startswith(target + "."):
                    continue
                factor = _factor(ev)
                best = chosen.get(ev.kind)
                if best is None or abs(math.log(factor)) > abs(math.log(best[0])):
                    chosen[ev.kind] = (factor, ev)
            for kind in sorted(chosen):
                factor, ev = chosen[kind]
                why = str(ev.attrs.get("explanation") or ev.kind)
                c = Contribution(
                    source=c.source,
                    points=round(c.points * factor, 1),
                    text=f"{c.text} (× {factor:g}: {why})",
                    event_id=c.event_id,
                    area_id=c.area_id,
                )
                note = ev.attrs.get("note")
                if note and str(note) not in notes:
                    notes.append(str(note))
            out.append(c)
        return out, tuple(notes)

    def _one_per_group(self, contributions: list[Contribution]) -> list[Contribution]:
        """Findings in one ``same_evidence`` group read the same facts (an AIS silence seen
        by the gap detector and by a radar that still tracks the ship): only the strongest
        counts, the others stay listed with 0 points, so nothing is counted twice."""
        out = list(contributions)
        for group in self.config.same_evidence:
            members = [i for i, c in enumerate(out) if c.source in group]
            if len(members) < 2:
                continue
            best = max(members, key=lambda i: (out[i].points, out[i].source))
            for i in members:
                if i != best:
                    c = out[i]
                    out[i] = Contribution(
                        source=c.source,
                        points=0.0,
                        text=f"{c.text} (same evidence as {out[best].source}: not counted twice)",
                        event_id=c.event_id,
                        area_id=c.area_id,
                    )
        return out

    def _place_factor(self, distance_m: float | None) -> tuple[float, str]:
        cfg = self.config
        if distance_m is None:
            return cfg.far_factor, ""
        if distance_m <= 0:
            return cfg.corridor_factor, ""
        if distance_m <= cfg.near_m:
            return cfg.near_factor, f" ({distance_m / 1000:.1f} km from a corridor)"
        return cfg.far_factor, ""

    def _priors(self, vessel: VesselState, now: datetime, *, registry: bool) -> list[Contribution]:
        out: list[Contribution] = []
        if registry:
            for source in self.priors:
                out.extend(source(vessel, now))
        match = vessel.watch
        if match is not None:
            official = sorted({"ofac", "uk", "eu"} & set(match.entry.lists))
            if official:
                out.append(
                    Contribution(
                        source="prior.sanctions",
                        points=round(self.config.sanctions_points * match.score, 1),
                        text=f"on sanctions lists: {', '.join(x.upper() for x in official)}",
                    )
                )
        return out

    def forget(self, alive: Iterable[int]) -> None:
        keep = set(alive)
        for mmsi in [m for m in self._active if m not in keep]:
            del self._active[mmsi]
        for mmsi in [m for m in self._modifiers if m not in keep]:
            del self._modifiers[mmsi]
        for mmsi in [m for m in self._steady if m not in keep]:
            del self._steady[mmsi]

    # -- checkpointing -------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        from seawarden.pipeline.sinks import event_to_dict

        def rows(table: dict[int, dict[str, _Active]]) -> dict[str, Any]:
            return {
                str(m): [
                    {"event": event_to_dict(a.event), "closed_at": _iso(a.closed_at), "key": k}
                    for k, a in acts.items()
                ]
                for m, acts in table.items()
            }

        out = rows(self._active)
        if self._modifiers:
            out["modifiers"] = rows(self._modifiers)
        return out

    def restore(self, snap: Mapping[str, Any]) -> None:
        def table(data: Mapping[str, Any]) -> dict[int, dict[str, _Active]]:
            out: dict[int, dict[str, _Active]] = {}
            for m, rows in data.items():
                acts: dict[str, _Active] = {}
                for row in rows:
                    ev = _event_from_dict(row["event"])
                    closed = row["closed_at"]
                    acts[row["key"]] = _Active(
                        event=ev, closed_at=datetime.fromisoformat(closed) if closed else None
                    )
                out[int(m)] = acts
            return out

        self._active = table({k: v for k, v in snap.items() if k != "modifiers"})
        self._modifiers = table(snap.get("modifiers", {}))
        self._steady = {}


MODIFIER_FACTOR_RANGE = (0.25, 1.5)
"""A modifier may at most quarter a finding's points (or raise them by half): context changes
how much a finding is believed, it never makes one vanish."""


def _factor(ev: Event) -> float:
    lo, hi = MODIFIER_FACTOR_RANGE
    try:
        f = float(ev.attrs.get("factor", 1.0))
    except (TypeError, ValueError):
        return 1.0
    return min(max(f, lo), hi) if math.isfinite(f) else 1.0


def _lapsed(entry: _Active, now: datetime) -> bool:
    valid_s = float(entry.event.attrs.get("valid_s", 0.0))
    return entry.closed_at is not None and (now - entry.closed_at).total_seconds() > valid_s


def _finding(ev: Event) -> str | None:
    value = ev.attrs.get("type")
    return str(value) if value is not None else None


# Most of an event's size is its evidence (the reports that triggered it) and the detector's
# parameters, which the store and the sinks keep; scoring reads neither, and a fading finding
# is held for hours (issue 8: memory per tracked vessel), so the engine keeps the rest.
_NOT_SCORED = frozenset({"evidence", "params"})


def _held(ev: Event) -> Event:
    attrs = ev.attrs
    if "evidence" not in attrs and "params" not in attrs:
        return ev
    return replace(ev, attrs={k: v for k, v in attrs.items() if k not in _NOT_SCORED})


def _merge(opened: Event, closed: Event) -> Event:
    # a close may carry less detail than the last update; keep the stronger confidence
    if float(closed.attrs.get("confidence", 0)) >= float(opened.attrs.get("confidence", 0)):
        return closed
    return Event(
        id=closed.id,
        kind=closed.kind,
        phase="close",
        mmsi=closed.mmsi,
        time=closed.time,
        lat=closed.lat,
        lon=closed.lon,
        area_id=closed.area_id or opened.area_id,
        producer_version=closed.producer_version,
        attrs={**opened.attrs, **{k: v for k, v in closed.attrs.items() if k != "confidence"}},
    )


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _event_from_dict(d: Mapping[str, Any]) -> Event:
    time = d["time"].replace("Z", "+00:00")
    return Event(
        id=d["id"],
        kind=d["kind"],
        phase=d["phase"],
        mmsi=int(d["mmsi"]),
        time=datetime.fromisoformat(time),
        lat=float(d["lat"]),
        lon=float(d["lon"]),
        area_id=d.get("area_id"),
        producer_version=d.get("producer_version", "1"),
        attrs=dict(d.get("attrs", {})),
    )


def combine(points: Iterable[float]) -> float:
    """The score formula on its own (used in docs and tests)."""
    return 100.0 * (1.0 - math.prod(1.0 - min(max(p, 0.0), 100.0) / 100.0 for p in points))
