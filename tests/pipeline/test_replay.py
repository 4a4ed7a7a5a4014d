"""Replays of real traffic: determinism, resume after a stop, strictness, sorting.

Inputs are real: the Solent track (Stone Soup demo data, MIT) and AISdb's raw NMEA with tag
blocks (Canadian waters). The Solent corridor in tests/data is drawn for tests only.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seawarden.errors import ConfigError, RejectedInputError
from seawarden.pipeline.order import OrderConfig
from seawarden.pipeline.replay import Replay
from seawarden.pipeline.settings import RunConfig
from seawarden.store.sqlite import SQLiteStore
from tests.conftest import REPO, SHARED_DATA

SOLENT = SHARED_DATA / "tracks/solent/SolentAIS_20160112_130211.csv"
AISDB = SHARED_DATA / "nmea/aisdb/test_data_20211101.nm4"
BALTIC = SHARED_DATA / "tracks/baltic-cargo-2020/baltic_cargo_20201101.csv"
CORRIDOR = REPO / "tests/data/solent_corridor.geojson"
WATCHLIST = REPO / "config/watchlist.csv"


def config(**kw: object) -> RunConfig:
    return RunConfig(areas=CORRIDOR, watchlists=(WATCHLIST,), **kw)  # type: ignore[arg-type]


def replay(tmp: Path, name: str, inputs: list[Path], **kw: object) -> tuple[bytes, Replay]:
    out = tmp / f"{name}.jsonl"
    run = Replay(inputs, config(), events_out=out, **kw)  # type: ignore[arg-type]
    run.run()
    return out.read_bytes(), run


def test_solent_replay_finds_crossings_and_is_byte_identical(tmp_path: Path) -> None:
    first, run = replay(tmp_path, "a", [SOLENT])
    second, _ = replay(tmp_path, "b", [SOLENT])
    assert first == second
    assert run.stats.records + run.stats.rejected == 18_623
    assert run.stats.events["area.crossing"] >= 3  # ferries on the Portsmouth-Ryde route
    assert run.stats.events["area.enter"] >= run.stats.events["area.exit"]


def test_stop_and_resume_gives_the_same_output(tmp_path: Path) -> None:
    inputs = [SOLENT, AISDB]  # 2016 then 2021: in time order across files
    expected, full = replay(tmp_path, "full", inputs)
    assert full.stats.rejections["too_late"] == 0
    assert full.stats.events["area.crossing"] >= 3
    store_path = tmp_path / "w.db"
    out = tmp_path / "resumed.jsonl"
    for stop in (9_000, 18_900, None):  # stop in the CSV, in the NMEA file, then finish
        store = SQLiteStore(store_path)
        run = Replay(
            inputs,
            config(),
            store=store,
            events_out=out,
            resume=True,
            checkpoint_every=997,
            stop_after_lines=stop,
        )
        stats = run.run()
        store.close()
        assert run.completed == (stop is None)
    assert out.read_bytes() == expected
    assert stats.records == full.stats.records
    assert dict(stats.rejections) == dict(full.stats.rejections)
    assert stats.resumed_from is not None
    store = SQLiteStore(store_path)
    try:
        n_events = sum(full.stats.events.values())
        assert len({(e.id, e.phase, e.time) for e in store.events()}) == n_events
        assert len(store.vessels()) == full.stats.vessels or len(store.vessels()) >= 90
    finally:
        store.close()


def test_resume_without_checkpoint_starts_from_scratch(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "w.db")
    run = Replay([AISDB], config(), store=store, resume=True)
    stats = run.run()
    store.close()
    assert stats.resumed_from is None
    assert stats.records > 900


def test_strict_stops_at_first_rejection_with_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nmea"
    good = "!AIVDM,1,1,,A,15MrVH0000KH<:V:NtBLoqFP2H9:,0*2F"
    bad.write_text(f"{good}\n{good[:-2]}00\n")
    with pytest.raises(RejectedInputError, match=r"bad.nmea:2: rejected: checksum"):
        Replay([bad], config(), strict=True).run()
    # lenient: counted, not raised
    stats = Replay([bad], config()).run()
    assert stats.rejections["checksum"] == 1


def test_vessel_sorted_history_needs_sort(tmp_path: Path) -> None:
    _, unsorted = replay(tmp_path, "u", [BALTIC])
    assert unsorted.stats.rejections["too_late"] > 10_000
    _, ordered = replay(tmp_path, "s", [BALTIC], sort=True)
    assert ordered.stats.rejected == 0
    assert ordered.stats.records == 27_487
    with pytest.raises(ConfigError):
        Replay([BALTIC], config(), sort=True, resume=True)


def test_store_keeps_vessels_positions_and_run_metadata(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "w.db")
    Replay([SOLENT], config(), store=store).run()
    vessels = store.vessels()
    assert len(vessels) == 91
    runs = store.runs()
    assert runs[-1]["status"] == "complete"
    assert "area_tracker" in runs[-1]["versions"]
    v = vessels[0]
    track = store.track(v.mmsi, v.first_seen, v.last_seen)
    assert track  # sampled positions kept
    assert all(b.time > a.time for a, b in itertools.pairwise(track))
    store.close()


SOLENT_HEAD = SOLENT.read_text().splitlines()[:4001]  # header + 4,000 real rows (~18 min)


@settings(max_examples=8)
@given(st.integers(0, 2**32 - 1))
def test_shuffled_within_lateness_gives_identical_events(seed: int) -> None:
    """Rows displaced by less than the lateness bound must not change a single event."""
    import random
    import tempfile
    from datetime import datetime

    lateness_s = 30.0
    header, rows = SOLENT_HEAD[0], SOLENT_HEAD[1:]
    rng = random.Random(seed)

    def when(row: str) -> float:
        return datetime.fromisoformat(row.split(",", 1)[0]).timestamp()

    jitter = [rng.uniform(0, lateness_s * 0.9) for _ in rows]
    shuffled = [
        r
        for _, r in sorted(
            zip([when(r) + j for r, j in zip(rows, jitter, strict=True)], rows, strict=True)
        )
    ]
    outputs = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, body in (("ordered", rows), ("shuffled", shuffled)):
            src = Path(tmp) / f"{name}.csv"
            src.write_text("\n".join([header, *body]) + "\n")
            out = Path(tmp) / f"{name}.jsonl"
            cfg = RunConfig(areas=CORRIDOR, order=OrderConfig(lateness_s=lateness_s))
            Replay([src], cfg, events_out=out).run()
            outputs.append(_without_input_positions(out.read_bytes()))
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) > 5


def _without_input_positions(jsonl: bytes) -> list[str]:
    """Events with evidence line numbers and file names dropped: those point into the input
    file, which differs by construction between an ordered and a shuffled copy."""
    import json

    rows = []
    for line in jsonl.splitlines():
        ev = json.loads(line)
        for item in ev["attrs"].get("evidence", []):
            item.pop("line_no", None)
            item.pop("source", None)
        rows.append(json.dumps(ev, sort_keys=True))
    return rows
