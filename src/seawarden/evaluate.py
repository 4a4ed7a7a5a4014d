"""Score alerts against scenario labels: did the watch officer get warned, how early, and
how often was he disturbed for nothing?

Inputs are the labels JSONL written by ``seawarden simulate`` (one line per scenario vessel)
and the alerts JSONL written by a run (one line per alert revision, ``docs/formats.md``).

For each labelled vessel expected to raise an alert, a *qualifying* alert is any revision
(``Alert`` or ``Update``; a ``Cancel`` never qualifies) for that MMSI whose ``severity`` is
at least the threshold (the label's ``min_severity`` if set, else ``severity``) and whose
``event_time`` lies in [onset, end + grace]. From the first one:

* **delay** = first qualifying alert time − onset (seconds; smaller is better);
* **lead time** = last corridor crossing − first qualifying alert time (seconds; positive
  means the warning came before the ship crossed the last cable it crossed).

**Recall** = detected / expected. For ``no_alert`` vessels every distinct alert id that
reaches the threshold at any time is a false alert. **Background false alarms** are
distinct alert ids reaching the threshold for MMSIs not in the labels, per 100 vessel-days
of background traffic; vessel-days are given, or measured from the input file with
:func:`vessel_days` (per vessel, last − first report, at least 1 hour; labelled MMSIs
excluded).

Malformed lines are counted and reported (with their line numbers), never fatal; a missing
file, or a labels file with no usable label, is an :class:`~seawarden.errors.InputError`.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from seawarden.errors import ConfigError, InputError
from seawarden.model import PositionReport

__all__ = ["SEVERITIES", "Report", "VesselResult", "evaluate", "label_mmsis", "vessel_days"]

SEVERITIES = ("info", "low", "medium", "high", "critical")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}
MIN_VESSEL_S = 3600.0
_MAX_BAD_LINES_KEPT = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class _Label:
    scenario: str
    mmsi: int
    name: str
    expected: str
    min_severity: str | None
    onset: datetime
    end: datetime
    last_corridor_crossing: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Alert:
    id: str
    mmsi: int
    msg_type: str
    severity: str
    event_time: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class VesselResult:
    """The outcome for one labelled vessel."""

    scenario: str
    mmsi: int
    name: str
    expected: str
    threshold: str
    detected: bool | None  # None for no_alert vessels
    first_alert: datetime | None
    delay_s: float | None
    lead_time_s: float | None
    false_alerts: int  # distinct alert ids at/above threshold for a no_alert vessel

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "mmsi": self.mmsi,
            "name": self.name,
            "expected": self.expected,
            "threshold": self.threshold,
            "detected": self.detected,
            "first_alert": None if self.first_alert is None else _iso(self.first_alert),
            "delay_s": self.delay_s,
            "lead_time_s": self.lead_time_s,
            "false_alerts": self.false_alerts,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    severity: str
    grace_s: float
    vessels: tuple[VesselResult, ...]
    expected_alerts: int
    detected: int
    recall: float | None
    median_delay_s: float | None
    median_lead_time_s: float | None
    no_alert_vessels: int
    no_alert_false_alerts: int
    background_alerts: int
    vessel_days: float | None
    false_alarms_per_100_vessel_days: float | None
    alert_lines: int
    label_lines: int
    malformed_alert_lines: tuple[int, ...] = ()
    malformed_label_lines: tuple[int, ...] = ()
    malformed_alerts: int = 0
    malformed_labels: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def summary(self) -> dict[str, float | int | None]:
        """The headline figures, as the CLI prints them (``name=value``)."""
        return {
            "recall": _round(self.recall, 4),
            "detected": self.detected,
            "expected_alerts": self.expected_alerts,
            "median_delay_s": _round(self.median_delay_s, 1),
            "median_lead_time_s": _round(self.median_lead_time_s, 1),
            "no_alert_false_alerts": self.no_alert_false_alerts,
            "background_alerts": self.background_alerts,
            "vessel_days": _round(self.vessel_days, 3),
            "false_alarms_per_100_vessel_days": _round(self.false_alarms_per_100_vessel_days, 3),
            "malformed_alerts": self.malformed_alerts,
            "malformed_labels": self.malformed_labels,
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "grace_s": self.grace_s,
            **self.summary(),
            "no_alert_vessels": self.no_alert_vessels,
            "alert_lines": self.alert_lines,
            "label_lines": self.label_lines,
            "malformed_alert_lines": list(self.malformed_alert_lines),
            "malformed_label_lines": list(self.malformed_label_lines),
            "notes": list(self.notes),
            "vessels": [v.as_dict() for v in self.vessels],
        }

    def as_table(self) -> str:
        """A fixed-width table, one row per labelled vessel, then the totals."""
        head = ("scenario", "mmsi", "expected", "thr", "result", "first alert", "delay", "lead")
        rows = [head]
        for v in self.vessels:
            if v.expected == "alert":
                result = "DETECTED" if v.detected else "missed"
            else:
                result = "ok" if v.false_alerts == 0 else f"{v.false_alerts} FALSE"
            rows.append(
                (
                    v.scenario,
                    str(v.mmsi),
                    v.expected,
                    v.threshold,
                    result,
                    "-" if v.first_alert is None else _iso(v.first_alert),
                    _dur(v.delay_s),
                    _dur(v.lead_time_s),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = [
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
        ]
        lines.insert(1, "  ".join("-" * w for w in widths))
        fa = self.false_alarms_per_100_vessel_days
        lines += [
            "",
            f"severity threshold: {self.severity} (grace {self.grace_s:g} s after end)",
            f"recall: {self.detected}/{self.expected_alerts}"
            + ("" if self.recall is None else f" = {self.recall:.2f}"),
            f"median delay from onset: {_dur(self.median_delay_s)}",
            f"median lead time before last corridor crossing: {_dur(self.median_lead_time_s)}",
            f"false alerts on no_alert scenario vessels: {self.no_alert_false_alerts} "
            f"({self.no_alert_vessels} vessels)",
            f"background false alarms: {self.background_alerts}"
            + (
                ""
                if fa is None or self.vessel_days is None
                else f" over {self.vessel_days:.2f} vessel-days = {fa:.2f} per 100 vessel-days"
            ),
        ]
        if self.malformed_alerts or self.malformed_labels:
            lines.append(
                f"malformed lines skipped: alerts {self.malformed_alerts} "
                f"{list(self.malformed_alert_lines)}, labels {self.malformed_labels} "
                f"{list(self.malformed_label_lines)}"
            )
        lines += list(self.notes)
        return "\n".join(lines)


def _round(value: float | int | None, digits: int) -> float | int | None:
    return value if value is None or isinstance(value, int) else round(value, digits)


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    sign = "-" if seconds < 0 else ""
    s = abs(round(seconds))
    return f"{sign}{s // 3600}h{(s % 3600) // 60:02d}m{s % 60:02d}s"


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("time must be an ISO 8601 string")
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _read_jsonl(path: Path, what: str) -> Iterable[tuple[int, Any]]:
    if not path.is_file():
        raise InputError(f"no such {what} file (check the path)", source=str(path))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {what} file: {exc}", source=str(path)) from exc
    for line_no, raw in enumerate(data.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith(b"#"):
            continue
        try:
            yield line_no, orjson.loads(raw)
        except orjson.JSONDecodeError:
            yield line_no, None


def _parse_label(doc: Any) -> _Label:
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    expected = doc["expected"]
    if expected not in ("alert", "no_alert"):
        raise ValueError("expected must be alert or no_alert")
    min_sev = doc.get("min_severity")
    if min_sev is not None and min_sev not in _RANK:
        raise ValueError("bad min_severity")
    crossing = doc.get("last_corridor_crossing")
    mmsi = doc["mmsi"]
    if isinstance(mmsi, bool) or not isinstance(mmsi, int):
        raise ValueError("mmsi must be an integer")
    return _Label(
        scenario=str(doc["scenario"]),
        mmsi=mmsi,
        name=str(doc.get("name") or ""),
        expected=expected,
        min_severity=min_sev,
        onset=_time(doc["onset"]),
        end=_time(doc["end"]),
        last_corridor_crossing=None if crossing is None else _time(crossing),
    )


def _parse_alert(doc: Any) -> _Alert:
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    severity = doc["severity"]
    if severity not in _RANK:
        raise ValueError("bad severity")
    mmsi = doc["mmsi"]
    if isinstance(mmsi, bool) or not isinstance(mmsi, int):
        raise ValueError("mmsi must be an integer")
    msg_type = doc.get("msg_type", "Alert")
    if msg_type not in ("Alert", "Update", "Cancel"):
        raise ValueError("bad msg_type")
    return _Alert(
        id=str(doc["id"]),
        mmsi=mmsi,
        msg_type=msg_type,
        severity=severity,
        event_time=_time(doc["event_time"]),
    )


def _load(path: Path, what: str, parse: Any) -> tuple[list[Any], list[int], int]:
    items: list[Any] = []
    bad: list[int] = []
    lines = 0
    for line_no, doc in _read_jsonl(path, what):
        lines += 1
        try:
            items.append(parse(doc))
        except (KeyError, ValueError, TypeError):
            bad.append(line_no)
    return items, bad, lines


def evaluate(
    labels: Path,
    alerts: Path,
    *,
    severity: str = "high",
    vessel_days: float | None = None,
    grace_s: float = 1800.0,
) -> Report:
    """Compare an alerts JSONL with a labels JSONL; see the module docstring."""
    if severity not in _RANK:
        raise ConfigError(f"unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}")
    if vessel_days is not None and vessel_days <= 0:
        raise ConfigError("vessel_days must be > 0 (or omitted)")
    label_list, bad_labels, label_lines = _load(Path(labels), "labels", _parse_label)
    if not label_list:
        detail = f" ({len(bad_labels)} malformed lines)" if bad_labels else ""
        raise InputError(
            f"no usable label{detail}; write one with `seawarden simulate`", source=str(labels)
        )
    alert_list, bad_alerts, alert_lines = _load(Path(alerts), "alerts", _parse_alert)
    notes: list[str] = []
    if not alert_list:
        notes.append("note: the alerts file holds no alerts")

    by_mmsi: dict[int, list[_Alert]] = {}
    for a in alert_list:
        by_mmsi.setdefault(a.mmsi, []).append(a)
    grace = timedelta(seconds=grace_s)
    results: list[VesselResult] = []
    for lb in label_list:
        thr = lb.min_severity or severity
        rank = _RANK[thr]
        mine = [
            a
            for a in by_mmsi.get(lb.mmsi, ())
            if a.msg_type != "Cancel" and _RANK[a.severity] >= rank
        ]
        if lb.expected == "alert":
            hits = [a.event_time for a in mine if lb.onset <= a.event_time <= lb.end + grace]
            first = min(hits) if hits else None
            delay = None if first is None else (first - lb.onset).total_seconds()
            lead = (
                None
                if first is None or lb.last_corridor_crossing is None
                else (lb.last_corridor_crossing - first).total_seconds()
            )
            results.append(
                VesselResult(
                    scenario=lb.scenario, mmsi=lb.mmsi, name=lb.name, expected=lb.expected,
                    threshold=thr, detected=first is not None, first_alert=first,
                    delay_s=delay, lead_time_s=lead, false_alerts=0,
                )
            )  # fmt: skip
        else:
            ids = {a.id for a in mine}
            first = min((a.event_time for a in mine), default=None)
            results.append(
                VesselResult(
                    scenario=lb.scenario, mmsi=lb.mmsi, name=lb.name, expected=lb.expected,
                    threshold=thr, detected=None, first_alert=first, delay_s=None,
                    lead_time_s=None, false_alerts=len(ids),
                )
            )  # fmt: skip

    expected = [r for r in results if r.expected == "alert"]
    detected = [r for r in expected if r.detected]
    delays = [r.delay_s for r in detected if r.delay_s is not None]
    leads = [r.lead_time_s for r in detected if r.lead_time_s is not None]
    no_alert = [r for r in results if r.expected == "no_alert"]
    labelled = {lb.mmsi for lb in label_list}
    bg_ids = {
        a.id
        for a in alert_list
        if a.mmsi not in labelled
        and a.msg_type != "Cancel"
        and _RANK[a.severity] >= _RANK[severity]
    }
    rate = None if vessel_days is None else len(bg_ids) / vessel_days * 100.0
    if vessel_days is None:
        notes.append("note: no vessel-days given, background false-alarm rate not computed")
    return Report(
        severity=severity,
        grace_s=grace_s,
        vessels=tuple(results),
        expected_alerts=len(expected),
        detected=len(detected),
        recall=len(detected) / len(expected) if expected else None,
        median_delay_s=statistics.median(delays) if delays else None,
        median_lead_time_s=statistics.median(leads) if leads else None,
        no_alert_vessels=len(no_alert),
        no_alert_false_alerts=sum(r.false_alerts for r in no_alert),
        background_alerts=len(bg_ids),
        vessel_days=vessel_days,
        false_alarms_per_100_vessel_days=rate,
        alert_lines=alert_lines,
        label_lines=label_lines,
        malformed_alert_lines=tuple(bad_alerts[:_MAX_BAD_LINES_KEPT]),
        malformed_label_lines=tuple(bad_labels[:_MAX_BAD_LINES_KEPT]),
        malformed_alerts=len(bad_alerts),
        malformed_labels=len(bad_labels),
        notes=tuple(notes),
    )


def vessel_days(input_path: Path, *, exclude: Iterable[int] = ()) -> float:
    """Background exposure of an input file (NMEA or CSV): the sum over vessels of
    (last − first position report), at least 1 hour per vessel, in days. MMSIs in
    ``exclude`` (the labelled scenario vessels) are left out."""
    from seawarden.testing import read_track

    skip = set(exclude)
    span: dict[int, tuple[datetime, datetime]] = {}
    for rec in read_track(input_path, sort=False):
        if not isinstance(rec, PositionReport) or rec.mmsi in skip:
            continue
        first_last = span.get(rec.mmsi)
        if first_last is None:
            span[rec.mmsi] = (rec.time, rec.time)
        else:
            lo, hi = first_last
            span[rec.mmsi] = (min(lo, rec.time), max(hi, rec.time))
    seconds = sum(max(MIN_VESSEL_S, (hi - lo).total_seconds()) for lo, hi in span.values())
    return seconds / 86400.0


def label_mmsis(labels: Path) -> set[int]:
    """MMSIs named in a labels file (malformed lines skipped), for ``vessel_days(exclude=…)``."""
    out: set[int] = set()
    for _, doc in _read_jsonl(Path(labels), "labels"):
        if isinstance(doc, dict) and isinstance(doc.get("mmsi"), int):
            out.add(doc["mmsi"])
    return out
