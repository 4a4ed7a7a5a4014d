"""``/metrics``: what an operations team graphs and alarms on, in Prometheus text format.

A silent feed, a rising rejection rate, a dead-letter pile or a console that keeps being
dropped are operational faults that must page someone. The numbers already exist as plain
counters (the live runner's, the hub's, the auth failures, the outbox table); a collector
reads them at scrape time, so the pipeline's hot path gains nothing. The registry is the
app's own, never ``prometheus_client``'s global default (two apps in one process — the
tests — must not share counts).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from seawarden.alerts import outbox
from seawarden.api import db
from seawarden.api.auth import AuthFailures
from seawarden.api.hub import Hub
from seawarden.api.link import PipelineLink
from seawarden.errors import StoreError

log = logging.getLogger("seawarden.api.metrics")


def _counter(
    name: str, doc: str, labels: list[str], values: dict[tuple[str, ...], float]
) -> Metric:
    fam = CounterMetricFamily(name, doc, labels=labels)
    for key, v in sorted(values.items()):
        fam.add_metric(list(key), v)
    return fam


class SeawardenCollector(Collector):
    """Reads the live counters at scrape time."""

    def __init__(
        self, *, store: db.StoreTarget, hub: Hub, failures: AuthFailures, link: PipelineLink | None
    ) -> None:
        self.store = store
        self.hub = hub
        self.failures = failures
        self.link = link

    def collect(self) -> Iterator[Metric]:
        yield from self._pipeline()
        yield from self._stream()
        fails = self.failures.snapshot()
        yield _counter(
            "seawarden_auth_failures",
            "Failed API authentications by reason",
            ["reason"],
            {(k,): float(v) for k, v in fails.items()},
        )
        deliveries = GaugeMetricFamily(
            "seawarden_deliveries", "Outbox deliveries by status", labels=["status"]
        )
        for status, n in self._deliveries().items():
            deliveries.add_metric([status], float(n))
        yield deliveries

    def _pipeline(self) -> Iterator[Metric]:
        link = self.link
        if link is None:
            return
        r = link.runner
        # dict(Counter) copies in one C call under the GIL: safe while the pipeline counts.
        rejections, events, alerts = dict(r.rejections), dict(r.events), dict(r.alerts)
        yield _counter("seawarden_lines", "NMEA sentences read from live feeds", [], {(): r.lines})
        yield _counter("seawarden_records", "Records processed", [], {(): r.records})
        yield _counter(
            "seawarden_rejections",
            "Input rejected, by reason",
            ["reason"],
            {(k,): float(v) for k, v in rejections.items()},
        )
        yield _counter(
            "seawarden_events",
            "Events, by kind",
            ["kind"],
            {(k,): float(v) for k, v in events.items()},
        )
        by_rev: dict[tuple[str, ...], float] = {}
        for key, n in alerts.items():
            msg_type, _, severity = key.partition(":")
            by_rev[(msg_type, severity)] = float(n)
        yield _counter(
            "seawarden_alert_revisions",
            "Alert revisions, by CAP msgType and severity",
            ["msg_type", "severity"],
            by_rev,
        )
        core = r.core
        yield GaugeMetricFamily("seawarden_vessels", "Vessels in memory", value=len(core.fleet))
        yield GaugeMetricFamily(
            "seawarden_pipeline_running", "1 while the feed runs", value=float(link.running)
        )
        lag = GaugeMetricFamily(
            "seawarden_pipeline_lag_seconds",
            "Wall clock minus the event time of the last record processed",
        )
        if r.records:
            lag.add_metric([], (datetime.now(UTC) - core.clock.now()).total_seconds())
        yield lag

    def _stream(self) -> Iterator[Metric]:
        hub = self.hub
        yield GaugeMetricFamily(
            "seawarden_stream_clients", "Connected stream clients", value=hub.client_count
        )
        yield _counter(
            "seawarden_stream_dropped_clients",
            "Stream clients disconnected because they read too slowly",
            [],
            {(): float(hub.dropped_clients)},
        )
        yield _counter(
            "seawarden_stream_frames",
            "Stream frames published, by kind",
            ["kind"],
            {(k,): float(v) for k, v in dict(hub.frames).items()},
        )

    def _deliveries(self) -> dict[str, int]:
        counts = dict.fromkeys(outbox.STATUSES, 0)
        try:
            with db.connection(self.store, busy_timeout_ms=1000) as conn:
                if db.table_exists(conn, "outbox"):  # outbox.counts_by_status, either store
                    rows = conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status")
                    counts.update({str(s): int(n) for s, n in rows})
        except (sqlite3.DatabaseError, OSError, StoreError) as exc:
            log.warning("metrics: cannot read the outbox: %s", exc)
        return counts


def registry_for(
    *, store: db.StoreTarget, hub: Hub, failures: AuthFailures, link: PipelineLink | None
) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(SeawardenCollector(store=store, hub=hub, failures=failures, link=link))
    return reg
