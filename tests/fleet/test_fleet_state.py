"""Per-vessel state: identity history, 24A/24B merge, track window, expiry, snapshots."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seawarden.errors import ConfigError
from seawarden.fleet import Fleet, FleetConfig, MmsiKind, Watchlist, WatchlistEntry

from .factories import EXAMPLE, at, make_position, make_static

EAGLE_IMO = 9329760


def test_first_fill_is_not_a_change_and_rename_is_recorded_once() -> None:
    fleet = Fleet()
    assert fleet.on_static(make_static(0, imo=EAGLE_IMO, name="EAGLE S", callsign="E5U3615")) == []
    assert fleet.on_static(make_static(360, imo=EAGLE_IMO, name="EAGLE S")) == []
    changes = fleet.on_static(make_static(720, imo=EAGLE_IMO, name="EAGLE SEA"))
    assert [(c.field, c.old, c.new) for c in changes] == [("name", "EAGLE S", "EAGLE SEA")]
    assert changes[0].time == at(720)
    assert changes[0].mmsi == 230123456
    assert fleet.on_static(make_static(1080, name="EAGLE SEA")) == []
    # A late report with the old name is older than what we know: not a change back.
    assert fleet.on_static(make_static(600, name="EAGLE S")) == []
    vessel = fleet.get(230123456)
    assert vessel is not None
    assert vessel.name == "EAGLE SEA"
    assert vessel.name_time == at(1080)
    assert len(vessel.changes) == 1
    assert vessel.n_statics == 5


def test_type24_parts_merge_without_erasing() -> None:
    fleet = Fleet()
    mmsi = 235070762  # a real Solent MMSI (class B)
    assert fleet.on_static(make_static(0, mmsi=mmsi, msg_type=24, name="RED FALCON")) == []
    part_b = make_static(5, mmsi=mmsi, msg_type=24, ship_type=60, callsign="MXYZ7", length_m=93.0)
    assert fleet.on_static(part_b) == []
    vessel = fleet.get(mmsi)
    assert vessel is not None
    assert (vessel.name, vessel.ship_type, vessel.callsign, vessel.length_m) == (
        "RED FALCON",
        60,
        "MXYZ7",
        93.0,
    )
    changed = fleet.on_static(make_static(400, mmsi=mmsi, msg_type=24, callsign="MXYZ8"))
    assert [(c.field, c.old, c.new) for c in changed] == [("callsign", "MXYZ7", "MXYZ8")]
    assert vessel.name == "RED FALCON"


def test_voyage_fields_update_silently() -> None:
    fleet = Fleet()
    fleet.on_static(make_static(0, draught_m=7.5, destination="RU ULU"))
    assert fleet.on_static(make_static(60, draught_m=9.1, destination="EGPSD")) == []
    vessel = fleet.get(230123456)
    assert vessel is not None
    assert (vessel.draught_m, vessel.destination) == (9.1, "EGPSD")


def test_invalid_imo_is_ignored_and_counted() -> None:
    fleet = Fleet()
    fleet.on_static(make_static(0, imo=9329761, name="X"))
    fleet.on_static(make_static(1, imo=1234567))
    vessel = fleet.get(230123456)
    assert vessel is not None
    assert vessel.imo is None
    assert fleet.stats["imo_invalid"] == 2


def test_imo_on_new_mmsi_records_mmsi_and_flag_change() -> None:
    fleet = Fleet()
    fleet.on_static(make_static(0, mmsi=518998865, imo=EAGLE_IMO, name="EAGLE S"))
    changes = fleet.on_static(make_static(3600, mmsi=636019999, imo=EAGLE_IMO, name="EAGLE S"))
    assert [(c.field, c.old, c.new) for c in changes] == [
        ("mmsi", 518998865, 636019999),
        ("flag", "CK", "LR"),
    ]
    assert all(c.mmsi == 636019999 for c in changes)
    # Heard again on the new MMSI: nothing new.
    assert fleet.on_static(make_static(4000, mmsi=636019999, imo=EAGLE_IMO)) == []


def test_late_report_does_not_swap_imo_back() -> None:
    fleet = Fleet()
    fleet.on_static(make_static(0, mmsi=518998865, imo=EAGLE_IMO))
    assert len(fleet.on_static(make_static(3600, mmsi=636019999, imo=EAGLE_IMO))) == 2
    assert fleet.on_static(make_static(1800, mmsi=518998865, imo=EAGLE_IMO)) == []
    assert [c.field for c in fleet.on_static(make_static(4000, mmsi=518998865, imo=EAGLE_IMO))] == [
        "mmsi",
        "flag",
    ]


def test_imo_link_forgotten_after_identity_ttl() -> None:
    fleet = Fleet(FleetConfig(identity_ttl_s=3600))
    fleet.on_static(make_static(0, mmsi=518998865, imo=EAGLE_IMO))
    assert fleet.on_static(make_static(7200, mmsi=636019999, imo=EAGLE_IMO)) == []


def test_watchlist_match_survives_mmsi_name_and_flag_change() -> None:
    fleet = Fleet(watchlist=Watchlist.load(EXAMPLE))
    first = fleet.on_position(make_position(0, mmsi=518998865)).watch
    assert first is not None
    assert first.key == "mmsi"
    fleet.on_static(make_static(10, mmsi=518998865, imo=EAGLE_IMO, name="EAGLE S"))
    upgraded = fleet.on_position(make_position(20, mmsi=518998865)).watch
    assert upgraded is not None
    assert upgraded.key == "imo"
    # Renamed, reflagged to Liberia, new MMSI: the IMO still gives it away.
    fleet.on_static(make_static(7200, mmsi=636019999, imo=EAGLE_IMO, name="ORION STAR"))
    moved = fleet.get(636019999)
    assert moved is not None
    assert moved.watch is not None
    assert moved.watch.entry.name == "EAGLE S"
    assert moved.watch.key == "imo"


def test_match_carried_to_new_mmsi_when_only_old_mmsi_was_listed() -> None:
    listed = WatchlistEntry(mmsis=(273111110,), name="SHADOW", lists=("local",))
    fleet = Fleet(watchlist=Watchlist([listed]))
    fleet.on_static(make_static(0, mmsi=273111110, imo=9224984, name="SHADOW"))
    fleet.on_static(make_static(600, mmsi=620999001, imo=9224984, name="NEW NAME"))
    vessel = fleet.get(620999001)
    assert vessel is not None
    assert vessel.watch is not None
    assert vessel.watch.entry.key == "mmsi:273111110"


def test_rename_keeps_match_by_name_sticky() -> None:
    fleet = Fleet(watchlist=Watchlist.load(EXAMPLE))
    fleet.on_static(make_static(0, mmsi=477111222, name="NEWNEW POLAR BEAR"))
    vessel = fleet.get(477111222)
    assert vessel is not None
    assert vessel.watch is not None
    assert vessel.watch.key == "name"
    fleet.on_static(make_static(600, mmsi=477111222, name="POLAR"))
    assert vessel.watch is not None
    assert vessel.watch.entry.name == "NEWNEW POLAR BEAR"


def test_unlisted_vessel_has_no_match_and_identity_class() -> None:
    fleet = Fleet(watchlist=Watchlist.load(EXAMPLE))
    vessel = fleet.on_position(make_position(0, mmsi=235070762))
    fleet.on_static(make_static(1, mmsi=235070762, name="RED FALCON"))
    assert vessel.watch is None
    assert vessel.identity.kind is MmsiKind.SHIP
    assert vessel.flag == "GB"
    assert fleet.on_position(make_position(0, mmsi=636000000)).identity.kind is MmsiKind.PLACEHOLDER


def test_track_orders_late_reports_and_drops_duplicates() -> None:
    fleet = Fleet(FleetConfig(track_window_s=600, track_window_n=10))
    for t in (0, 20, 10, 30, 30):
        fleet.on_position(make_position(t))
    vessel = fleet.get(230123456)
    assert vessel is not None
    assert [r.time for r in vessel.track] == [at(0), at(10), at(20), at(30)]
    assert vessel.last is not None
    assert vessel.last.time == at(30)
    assert vessel.n_positions == 5
    assert fleet.stats["positions_not_tracked"] == 1


@settings(max_examples=200, deadline=None)
@given(
    offsets=st.lists(st.integers(0, 20_000), min_size=1, max_size=120),
    window_s=st.integers(1, 3600),
    window_n=st.integers(1, 40),
)
def test_track_never_exceeds_window(offsets: list[int], window_s: int, window_n: int) -> None:
    fleet = Fleet(FleetConfig(track_window_s=window_s, track_window_n=window_n))
    for i, t in enumerate(offsets):
        vessel = fleet.on_position(make_position(t, lat=59.0 + i * 1e-4))
        track = list(vessel.track)
        assert 1 <= len(track) <= window_n
        assert track[-1].time - track[0].time <= timedelta(seconds=window_s)
        assert [r.time for r in track] == sorted(r.time for r in track)
        assert track[-1].time == at(max(offsets[: i + 1]))


def test_expire_bounds_memory() -> None:
    fleet = Fleet(FleetConfig(state_ttl_s=3600))
    for n in range(1000):
        fleet.on_position(make_position(n % 600, mmsi=230_000_000 + n))
    fleet.on_static(make_static(0, mmsi=230_000_001, imo=EAGLE_IMO))
    assert len(fleet) == 1000
    fleet.on_position(make_position(5000, mmsi=230_999_999))
    assert fleet.expire(at(5000)) == 1000
    assert [v.mmsi for v in fleet] == [230_999_999]
    assert 230_000_001 not in fleet
    assert fleet.stats["vessels_expired"] == 1000
    # The IMO link outlives the vessel (identity_ttl_s) so an MMSI swap is still noticed.
    changes = fleet.on_static(make_static(5100, mmsi=518998865, imo=EAGLE_IMO))
    assert [c.field for c in changes] == ["mmsi", "flag"]


def test_history_is_bounded() -> None:
    fleet = Fleet(FleetConfig(history_n=3))
    for i in range(10):
        fleet.on_static(make_static(i * 60, name=f"NAME {i}"))
    vessel = fleet.get(230123456)
    assert vessel is not None
    assert [c.new for c in vessel.changes] == ["NAME 7", "NAME 8", "NAME 9"]


def _busy_fleet() -> Fleet:
    fleet = Fleet(FleetConfig(track_window_n=5), watchlist=Watchlist.load(EXAMPLE))
    for t in range(0, 600, 60):
        fleet.on_position(make_position(t, mmsi=518998865, speed_kn=None, heading_deg=None))
        fleet.on_position(make_position(t + 7, mmsi=235070762, accuracy=True, msg_type=18))
    fleet.on_static(make_static(30, mmsi=518998865, imo=EAGLE_IMO, name="EAGLE S", length_m=228.0))
    fleet.on_static(make_static(90, mmsi=518998865, name="EAGLE 5"))
    fleet.on_static(make_static(95, mmsi=235070762, msg_type=24, name="RED FALCON"))
    return fleet


def test_snapshot_restore_round_trip() -> None:
    fleet = _busy_fleet()
    snap = json.loads(json.dumps(fleet.snapshot()))  # must survive JSON
    restored = Fleet(FleetConfig(track_window_n=5), watchlist=Watchlist.load(EXAMPLE))
    restored.restore(snap)
    assert restored.snapshot() == snap
    before, after = fleet.get(518998865), restored.get(518998865)
    assert before is not None
    assert after is not None
    assert list(after.track) == list(before.track)
    assert after.changes == before.changes
    assert after.watch == before.watch
    assert after.identity == before.identity
    # The restored fleet carries on exactly like the original.
    assert restored.on_static(make_static(700, mmsi=518998865, name="EAGLE 6")) == fleet.on_static(
        make_static(700, mmsi=518998865, name="EAGLE 6")
    )


def test_restore_rejects_other_versions() -> None:
    with pytest.raises(ConfigError, match="version"):
        Fleet().restore({"version": 99, "vessels": [], "imo_index": []})


@pytest.mark.parametrize(
    "bad",
    [
        {"track_window_s": 0},
        {"track_window_n": 0},
        {"state_ttl_s": -1},
        {"history_n": 0},
    ],
)
def test_config_is_validated(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        FleetConfig(**bad)  # type: ignore[arg-type]
