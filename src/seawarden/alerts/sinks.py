"""Where alert revisions go for now: a JSON Lines file, the log, memory (tests).

(Dissemination to allies — webhooks, bus, e-mail, CAP — builds on these records.)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Protocol

import orjson

from seawarden.alerts.model import Alert
from seawarden.pipeline.sinks import iso_utc

log = logging.getLogger("seawarden.alerts")


class AlertSink(Protocol):
    def write(self, alerts: Sequence[Alert]) -> None: ...
    def close(self) -> None: ...


def dumps_alert(alert: Alert) -> bytes:
    return orjson.dumps(alert.to_dict(), option=orjson.OPT_SORT_KEYS)


class JsonlAlertSink:
    def __init__(self, path: str | Path, *, append: bool = False) -> None:
        self.path = Path(path)
        self._fh: IO[bytes] = self.path.open("ab" if append else "wb")

    def write(self, alerts: Sequence[Alert]) -> None:
        for a in alerts:
            self._fh.write(dumps_alert(a) + b"\n")

    def flush(self) -> None:
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


class LogAlertSink:
    def write(self, alerts: Sequence[Alert]) -> None:
        for a in alerts:
            top = "; ".join(f"{r.text} (+{r.weight:g})" for r in a.reasons[:3])
            crossing = ""
            if a.next_crossing is not None:
                nc = a.next_crossing
                crossing = (
                    f" — inside {nc.area_id}"
                    if nc.inside_now
                    else f" — next crossing {nc.area_id} at {iso_utc(nc.eta)}"
                )
            log.warning(
                "ALERT %s r%d %s %s mmsi=%d %s score %.0f: %s%s",
                a.id,
                a.revision,
                a.msg_type,
                a.severity.upper(),
                a.mmsi,
                a.name or "",
                a.score,
                top,
                crossing,
            )

    def close(self) -> None:
        pass


class MemoryAlertSink:
    def __init__(self) -> None:
        self.alerts: list[Alert] = []

    def write(self, alerts: Sequence[Alert]) -> None:
        self.alerts.extend(alerts)

    def close(self) -> None:
        pass
