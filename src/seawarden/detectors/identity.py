"""Identity anomalies: who a vessel claims to be, and whether the claim holds together.

Shadow-fleet tankers and the ships behind the Baltic cable incidents hide behind their
identity long before they behave oddly: EAGLE S (IMO 9329760) sailed under the Cook
Islands MID 518 after three earlier names; FITBURG is flagged St Vincent (MID 375); many
sanctioned tankers "disappear" by reappearing under a new MMSI, flag and name with the same
IMO number (Windward, Kpler and S&P shadow-fleet reporting; the GUR list records former
names and legacy MMSIs). This detector turns the facts the fleet already established
(:mod:`seawarden.fleet.identity`, :mod:`seawarden.fleet.watchlist`) into findings:

* ``invalid_mmsi`` / ``placeholder_mmsi`` / ``unallocated_mid`` — the MMSI fits no
  ITU-R M.585 format, is a factory default (``123456789``, ``MID000000``), or uses a MID
  no administration holds. Only ship-format and broken MMSIs are judged: AtoN, SAR
  aircraft, coast stations, SART and craft-associated stations are other kinds of station.
* ``bad_imo`` — a static report states an IMO number that fails the check digit
  (IMO Res. A.1117(30)) or is a known transponder default (``1234567``).
* ``flag_mismatch`` — the MID's flag differs from the flag a watchlist entry records for
  this vessel: a recent reflag, or a false flag.
* ``identity_churn`` — name/callsign/IMO/flag changes on one MMSI, or one IMO turning up on
  a new MMSI. One rename is ordinary (sales, charters) and stays below 0.3; several in a
  window, or an MMSI swap on the same IMO, is the shadow-fleet pattern (≥ 0.6).
* ``watchlist`` — the vessel matched a watchlist entry (confidence = match score).

Identity findings are facts, not episodes: each is opened once per vessel (``discriminator``
= finding type, start = when first noticed), updated only if its substance changes, and
closed only if it stops being true (a watchlist match lost, churn aged out of its window).
A consumer treats an open identity finding as holding while the vessel is tracked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Final

from rapidfuzz import fuzz

from seawarden.detectors.base import Context, Detector
from seawarden.errors import ConfigError
from seawarden.fleet.identity import PLACEHOLDER_IMOS, MmsiKind, imo_valid
from seawarden.fleet.vessel import VesselState
from seawarden.fleet.watchlist import WatchlistEntry, normalise_name
from seawarden.model import Event, EventPhase, PositionReport, StaticReport

__all__ = ["Finding", "IdentityConfig", "IdentityDetector", "IdentityState"]

# Fields whose change counts towards churn ("ship_type" flips with cargo category: ignored).
_CHURN_FIELDS: Final = frozenset({"name", "callsign", "imo", "flag", "mmsi"})
_BAD_MMSI: Final = {
    MmsiKind.INVALID: "invalid_mmsi",
    MmsiKind.PLACEHOLDER: "placeholder_mmsi",
    MmsiKind.UNALLOCATED_MID: "unallocated_mid",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class IdentityConfig:
    """Parameters of the identity detector.

    * ``invalid_mmsi_confidence`` (0.6), ``placeholder_mmsi_confidence`` (0.7),
      ``unallocated_mid_confidence`` (0.65): a ship that cannot be identified by its MMSI.
    * ``bad_imo_confidence`` (0.6): an IMO failing its check digit or a default value.
    * ``flag_mismatch_confidence`` (0.45): MID flag differs from the watchlist entry's flag.
    * ``churn_window_s`` (7 days, the fleet's IMO memory): changes older than this no
      longer count.
    * ``churn_min_changes`` (3): re-identification episodes (changes heard at one time
      count once) at which churn reaches ``churn_confidence`` (0.6); below it each episode
      adds ``rename_confidence`` (0.15), so one benign rename scores 0.15.
    * ``swap_confidence`` (0.65): an IMO heard on a new MMSI; +``swap_rename_bonus`` (0.1)
      when the name changed too (the MMSI/name swap of shadow-fleet tankers).
    * ``mmsi_name_conflict_factor`` (0.6): a watchlist match by MMSI alone is scaled by
      this when the vessel broadcasts a name unlike the entry's current and former names
      (MMSIs are reissued to other hulls: old gpsd recordings hit GUR entries this way).
    * ``update_min_delta`` (0.1): an open finding is updated only for at least this much
      change in confidence (or a new watchlist entry / changed facts).
    """

    invalid_mmsi_confidence: float = 0.6
    placeholder_mmsi_confidence: float = 0.7
    unallocated_mid_confidence: float = 0.65
    bad_imo_confidence: float = 0.6
    flag_mismatch_confidence: float = 0.45
    churn_window_s: float = 7 * 86400.0
    churn_min_changes: int = 3
    rename_confidence: float = 0.15
    churn_confidence: float = 0.6
    swap_confidence: float = 0.65
    swap_rename_bonus: float = 0.1
    update_min_delta: float = 0.1
    mmsi_name_conflict_factor: float = 0.6

    def __post_init__(self) -> None:
        for name in (
            "invalid_mmsi_confidence",
            "placeholder_mmsi_confidence",
            "unallocated_mid_confidence",
            "bad_imo_confidence",
            "flag_mismatch_confidence",
            "rename_confidence",
            "churn_confidence",
            "swap_confidence",
            "swap_rename_bonus",
            "mmsi_name_conflict_factor",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"identity: {name} must be within 0..1, got {value}")
        if not self.churn_window_s > 0:
            raise ConfigError(f"identity: churn_window_s must be > 0 s, got {self.churn_window_s}")
        if self.churn_min_changes < 1:
            raise ConfigError("identity: churn_min_changes must be at least 1")
        if not 0.0 < self.update_min_delta <= 1.0:
            raise ConfigError("identity: update_min_delta must be within (0, 1]")


@dataclass(slots=True, kw_only=True)
class Finding:
    """One open finding: when first noticed, its confidence and a digest of its facts."""

    start: datetime
    confidence: float
    digest: str


@dataclass(slots=True, kw_only=True)
class IdentityState:
    """Per-vessel state: open findings by type and what was last evaluated."""

    # open findings by type; None while there is none (most vessels: no empty dict each)
    findings: dict[str, Finding] | None = None
    seen_statics: int = -1  # vessel.n_statics at the last evaluation (-1: never evaluated)
    had_watch: bool = False
    bad_imo: int | None = None  # last bad IMO stated in a static report
    bad_imo_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Claim:
    type: str
    confidence: float
    digest: str
    reasons: tuple[str, ...]
    attrs: dict[str, Any]


class IdentityDetector(Detector[IdentityConfig, IdentityState]):
    """Findings on a vessel's claimed identity; see the module docstring."""

    name: ClassVar[str] = "identity"
    version: ClassVar[str] = "1"
    config_type: ClassVar[type[Any]] = IdentityConfig
    state_types: ClassVar[tuple[type[Any], ...]] = (IdentityState, Finding)

    def initial_state(self, mmsi: int) -> IdentityState:
        return IdentityState()

    def step(
        self, state: IdentityState, report: PositionReport, ctx: Context
    ) -> tuple[IdentityState, list[Event]]:
        vessel = ctx.vessel
        # Fast path: nothing about the identity changed since the last evaluation.
        if state.seen_statics == vessel.n_statics and state.had_watch == (vessel.watch is not None):
            return state, []
        return state, self._evaluate(state, vessel, report, ctx.now)

    def on_static(
        self, state: IdentityState, report: StaticReport, ctx: Context
    ) -> tuple[IdentityState, list[Event]]:
        if report.imo is not None and (not imo_valid(report.imo) or report.imo in PLACEHOLDER_IMOS):
            # The fleet drops bad IMOs before merging; only the raw report still has them.
            state.bad_imo = report.imo
            state.bad_imo_time = report.time
        vessel = ctx.vessel
        at = vessel.last
        if at is None:
            # No position yet: evaluate with the first one, so events have a place.
            return state, []
        return state, self._evaluate(state, vessel, at, ctx.now)

    # -- evaluation ---------------------------------------------------------------------------
    def _evaluate(
        self, state: IdentityState, vessel: VesselState, at: PositionReport, now: datetime
    ) -> list[Event]:
        state.seen_statics = vessel.n_statics
        state.had_watch = vessel.watch is not None
        claims = {c.type: c for c in self._claims(state, vessel, now)}
        events: list[Event] = []
        cfg = self.config
        findings = state.findings if state.findings is not None else {}
        for ftype, claim in claims.items():
            old = findings.get(ftype)
            if old is None:
                findings[ftype] = Finding(
                    start=now, confidence=claim.confidence, digest=claim.digest
                )
                events.append(self._event("open", vessel.mmsi, now, at, claim))
            elif claim.digest.split("|")[0] != old.digest.split("|")[0]:
                # The finding now concerns something else (another watchlist entry): new id.
                events.append(self._close(vessel.mmsi, old, at, now, ftype, "facts changed"))
                findings[ftype] = Finding(
                    start=now, confidence=claim.confidence, digest=claim.digest
                )
                events.append(self._event("open", vessel.mmsi, now, at, claim))
            elif claim.digest != old.digest and (
                abs(claim.confidence - old.confidence) >= cfg.update_min_delta
                or claim.type == "watchlist"
            ):
                old.confidence = claim.confidence
                old.digest = claim.digest
                events.append(self._event("update", vessel.mmsi, old.start, at, claim, now=now))
        for ftype in [t for t in findings if t not in claims]:
            old = findings.pop(ftype)
            events.append(self._close(vessel.mmsi, old, at, now, ftype, "no longer holds"))
        state.findings = findings or None
        return events

    def _claims(self, state: IdentityState, vessel: VesselState, now: datetime) -> list[_Claim]:
        cfg = self.config
        out: list[_Claim] = []
        ident = vessel.identity
        bad = _BAD_MMSI.get(ident.kind)
        if bad is not None:
            conf = {
                "invalid_mmsi": cfg.invalid_mmsi_confidence,
                "placeholder_mmsi": cfg.placeholder_mmsi_confidence,
                "unallocated_mid": cfg.unallocated_mid_confidence,
            }[bad]
            out.append(
                _Claim(
                    bad,
                    conf,
                    f"{vessel.mmsi}",
                    (f"MMSI {vessel.mmsi:09d} cannot identify a ship: {ident.reason}",),
                    {"mmsi_kind": str(ident.kind), "mid": ident.mid},
                )
            )
        if state.bad_imo is not None:
            why = (
                "is a transponder default value"
                if state.bad_imo in PLACEHOLDER_IMOS
                else "fails the IMO check digit"
            )
            out.append(
                _Claim(
                    "bad_imo",
                    cfg.bad_imo_confidence,
                    f"{state.bad_imo}",
                    (f"stated IMO {state.bad_imo} {why}",),
                    {
                        "imo_stated": state.bad_imo,
                        "imo_stated_time": (
                            state.bad_imo_time.isoformat() if state.bad_imo_time else None
                        ),
                    },
                )
            )
        watch = vessel.watch
        if watch is not None:
            entry = watch.entry
            lists = ", ".join(entry.lists) or "watchlist"
            score = watch.score
            reasons = [
                f"matches {entry.name or entry.key} on {lists} by {watch.key} "
                f"({watch.detail}, score {watch.score:.2f})"
            ]
            if watch.key == "mmsi" and vessel.name and not _name_agrees(vessel.name, entry):
                # MMSIs are reissued to other hulls; a different name weakens an MMSI-only match.
                score *= cfg.mmsi_name_conflict_factor
                reasons.append(
                    f"but the vessel calls itself {vessel.name!r}, not a listed name: "
                    "the MMSI may have been reissued"
                )
            if entry.reason:
                reasons.append(f"listed because: {entry.reason}")
            out.append(
                _Claim(
                    "watchlist",
                    score,
                    f"{entry.key}|{watch.key}|{score:.3f}",
                    tuple(reasons),
                    {
                        "watch_key": watch.key,
                        "watch_detail": watch.detail,
                        "watch_entry": entry.key,
                        "watch_lists": list(entry.lists),
                        "watch_reason": entry.reason,
                        "watch_entry_name": entry.name,
                        "watch_entry_imo": entry.imo,
                    },
                )
            )
            if (
                watch.key in ("imo", "mmsi")
                and entry.flag
                and vessel.flag
                and entry.flag != vessel.flag
            ):
                out.append(
                    _Claim(
                        "flag_mismatch",
                        cfg.flag_mismatch_confidence,
                        f"{vessel.flag}/{entry.flag}",
                        (
                            f"MMSI {vessel.mmsi} (MID {vessel.identity.mid}) flies "
                            f"{vessel.flag} but the watchlist records flag {entry.flag}: "
                            "reflagged or false flag",
                        ),
                        {"flag_mid": vessel.flag, "flag_declared": entry.flag},
                    )
                )
        churn = self._churn(vessel, now)
        if churn is not None:
            out.append(churn)
        return out

    def _churn(self, vessel: VesselState, now: datetime) -> _Claim | None:
        cfg = self.config
        since = now - timedelta(seconds=cfg.churn_window_s)
        recent = [c for c in vessel.changes if c.field in _CHURN_FIELDS and c.time >= since]
        if not recent:
            return None
        episodes = len({c.time for c in recent})
        fields = {c.field for c in recent}
        if episodes >= cfg.churn_min_changes:
            conf = cfg.churn_confidence + 0.1 * (episodes - cfg.churn_min_changes)
        else:
            conf = cfg.rename_confidence * episodes
        reasons = [
            f"{c.field} changed from {c.old!r} to {c.new!r} at {c.time:%Y-%m-%d %H:%M}Z"
            for c in recent[-5:]
        ]
        if "mmsi" in fields:
            conf = max(conf, cfg.swap_confidence)
            if "name" in fields:
                conf += cfg.swap_rename_bonus
            reasons.insert(0, "the same IMO is now heard on another MMSI (identity swap)")
        elif episodes >= cfg.churn_min_changes:
            days = cfg.churn_window_s / 86400
            reasons.insert(0, f"{episodes} identity changes within {days:g} days")
        else:
            reasons.insert(0, "identity changed (a single rename is usually a sale or charter)")
        conf = min(conf, 0.95)
        return _Claim(
            "identity_churn",
            conf,
            f"churn|{len(recent)}|{episodes}",
            tuple(reasons),
            {
                "changes": [c.to_dict() for c in recent[-8:]],
                "episodes": episodes,
                "fields_changed": sorted(fields),
            },
        )

    # -- events --------------------------------------------------------------------------------
    def _event(
        self,
        phase: EventPhase,
        mmsi: int,
        start: datetime,
        at: PositionReport,
        claim: _Claim,
        *,
        now: datetime | None = None,
    ) -> Event:
        return self.make_event(
            phase,
            mmsi,
            start,
            at,
            time=now or start,
            confidence=claim.confidence,
            reasons=claim.reasons,
            evidence_reports=(at,),
            attrs={"type": claim.type, **claim.attrs},
            discriminator=claim.type,
        )

    def _close(
        self,
        mmsi: int,
        finding: Finding,
        at: PositionReport,
        now: datetime,
        ftype: str,
        why: str,
    ) -> Event:
        return self.make_event(
            "close",
            mmsi,
            finding.start,
            at,
            time=now,
            confidence=finding.confidence,
            reasons=(f"{ftype.replace('_', ' ')} finding closed: {why}",),
            attrs={"type": ftype},
            discriminator=ftype,
        )


def _name_agrees(name: str, entry: WatchlistEntry) -> bool:
    """True if ``name`` resembles the entry's current or a former name (fuzzy, ≥ 0.8)."""
    query = normalise_name(name)
    if not query:
        return True
    return any(
        fuzz.ratio(query, normalise_name(known)) >= 80.0
        for known in (entry.name, *entry.former_names)
        if known
    )
