"""Association of radar contacts with real Solent AIS traffic: accuracy, GNN, gates."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from seawarden.fusion.associate import AisIndex, associate, length_ok
from seawarden.fusion.config import FusionConfig
from seawarden.fusion.predict import from_plane
from seawarden.model.contacts import Contact
from seawarden.model.reports import PositionReport
from tests.fusion.conftest import RADAR_ID, by_mmsi, km, moving_ships, true_position

CFG = FusionConfig()
T0 = datetime(2024, 1, 1, 12, tzinfo=UTC)


def radar(t: datetime, lat: float, lon: float, **kw: object) -> Contact:
    return Contact(time=t, lat=lat, lon=lon, sensor=RADAR_ID, kind="radar", **kw)  # type: ignore[arg-type]


def no_length(_: int) -> float | None:
    return None


def test_noisy_contacts_of_20_real_ships_go_to_the_right_mmsi(
    solent_positions: list[PositionReport],
) -> None:
    """20 of the busiest real Solent vessels, one noisy (σ 50 m) contact each per 30 s scan.

    Scored over contacts whose vessel is radar-resolvable: more than 150 m (3 σ) from every
    other vessel's true position. Closer pairs (ships moored alongside, a tug on a tow,
    the Solent's twin transponders 12-30 m apart) are one echo to a real radar and any
    assignment between them is a coin toss; they stay in the scans as distractors and
    their raw accuracy is printed too."""
    index = AisIndex(CFG)  # fed as a stream: AIS up to hold_s after each scan
    tracks = by_mmsi(solent_positions)
    fed = 0
    ships = moving_ships(tracks, 20, min_reports=150, min_speed_kn=0.0)
    assert len(ships) == 20
    rng = random.Random(7)
    t = solent_positions[0].time + timedelta(minutes=5)
    end = solent_positions[-1].time - timedelta(minutes=5)
    right = total = raw_right = raw_total = scans = 0
    elapsed = 0.0
    while t < end:
        while fed < len(solent_positions) and solent_positions[fed].time <= t + timedelta(
            seconds=CFG.hold_s
        ):
            index.add(solent_positions[fed])
            fed += 1
        ts = t.timestamp()
        preds = {m: index.predict(m, ts, ts + CFG.hold_s) for m in tracks}
        everyone = {m: (p.lat, p.lon) for m, p in preds.items() if p is not None}
        contacts, truth, resolvable = [], [], []
        for m in ships:
            p = true_position(tracks[m], t)
            if p is None:
                continue
            lat, lon = from_plane(p[0], p[1], rng.gauss(0, 50), rng.gauss(0, 50))
            contacts.append(radar(t, lat, lon))
            truth.append(m)
            resolvable.append(all(km(p, q) > 0.150 for o, q in everyone.items() if o != m))
        started = time.perf_counter()
        res = associate(contacts, [50.0] * len(contacts), index, no_length, CFG)
        elapsed += time.perf_counter() - started
        got = {p.contact: p.mmsi for p in res.pairs}
        for i, m in enumerate(truth):
            raw_total += 1
            raw_right += got.get(i) == m
            if resolvable[i]:
                total += 1
                right += got.get(i) == m
        scans += 1
        t += timedelta(seconds=30)
    accuracy = right / total
    print(f"\nassociation: resolvable {right}/{total} = {accuracy:.3f}; all contacts "
          f"{raw_right}/{raw_total} = {raw_right / raw_total:.3f}; {scans} scans, "
          f"{raw_total / elapsed:.0f} contacts/s in associate()")  # fmt: skip
    assert total > 1000
    assert accuracy >= 0.95


def two_ships_passing() -> tuple[AisIndex, list[Contact]]:
    """A at (0, 0) and B 100 m north, both heading east at 10 kn. The contacts are noisy the
    'wrong' way: A's lies 50 m south, B's 60 m south (40 m north of A). Greedy takes the
    closest pair first (B's contact → A) and is left with A's contact → B; the global
    assignment minimises the total and gets both right."""
    index = AisIndex(CFG)
    lat_b, lon_b = from_plane(50.0, -1.0, 0.0, 100.0)
    for k in range(-3, 4):
        t = T0 + timedelta(seconds=10 * k)
        e = 10 * 1852 / 3600 * 10 * k
        la, lo = from_plane(50.0, -1.0, e, 0.0)
        lb, lob = from_plane(lat_b, lon_b, e, 0.0)
        index.add(PositionReport(mmsi=1, time=t, lat=la, lon=lo, speed_kn=10.0, course_deg=90.0))
        index.add(PositionReport(mmsi=2, time=t, lat=lb, lon=lob, speed_kn=10.0, course_deg=90.0))
    ca = from_plane(50.0, -1.0, 0.0, -50.0)
    cb = from_plane(50.0, -1.0, 0.0, 40.0)
    return index, [radar(T0, *cb, track="B"), radar(T0, *ca, track="A")]


def test_hungarian_does_not_swap_two_ships_where_greedy_does() -> None:
    index, contacts = two_ships_passing()
    sig = [50.0, 50.0]
    cfg = FusionConfig(gate_chi2=16.0)  # a wide gate so that both pairings are admissible
    hung = associate(contacts, sig, index, no_length, cfg)
    greedy = associate(contacts, sig, index, no_length, cfg, method="greedy")
    assert {p.contact: p.mmsi for p in hung.pairs} == {0: 2, 1: 1}
    assert {p.contact: p.mmsi for p in greedy.pairs} == {0: 1, 1: 2}


def test_length_gate_refuses_a_tanker_for_a_small_contact() -> None:
    index, contacts = two_ships_passing()
    lengths = {1: 300.0, 2: 310.0}
    small = [radar(T0, c.lat, c.lon, length_m=20.0) for c in contacts]
    res = associate(small, [50.0, 50.0], index, lengths.get, CFG)
    assert res.pairs == []
    assert res.unassigned == [0, 1]
    big = [radar(T0, c.lat, c.lon, length_m=280.0) for c in contacts]
    assert len(associate(big, [50.0, 50.0], index, lengths.get, CFG).pairs) == 2
    assert length_ok(None, 300.0, 2.0)
    assert not length_ok(100.0, 201.0, 2.0)


def test_no_candidate_beyond_max_extrapolate() -> None:
    index = AisIndex(CFG)
    index.add(PositionReport(mmsi=5, time=T0, lat=50.0, lon=-1.0, speed_kn=0.0, course_deg=0.0))
    near = radar(T0 + timedelta(seconds=CFG.max_extrapolate_s - 1), 50.0, -1.0)
    far = radar(T0 + timedelta(seconds=CFG.max_extrapolate_s + 1), 50.0, -1.0)
    assert [p.mmsi for p in associate([near], [50.0], index, no_length, CFG).pairs] == [5]
    assert associate([far], [50.0], index, no_length, CFG).pairs == []


def test_outside_the_gate_is_not_assigned_even_if_alone() -> None:
    index = AisIndex(CFG)
    index.add(PositionReport(mmsi=5, time=T0, lat=50.0, lon=-1.0, speed_kn=0.0, course_deg=0.0))
    lat, lon = from_plane(50.0, -1.0, 400.0, 0.0)  # 400 m off; σ = √(25² + 50²) ≈ 56 m
    res = associate([radar(T0, lat, lon)], [50.0], index, no_length, CFG)
    assert res.pairs == []
    assert res.unassigned == [0]


def test_index_is_restored_identically(solent_positions: list[PositionReport]) -> None:
    index = AisIndex(CFG)
    for r in solent_positions[:3000]:
        index.add(r)
    copy = AisIndex(CFG)
    copy.restore(index.to_dict())
    t = solent_positions[2000].time.timestamp()
    for m in index.candidates(50.6, 50.9, -1.4, -0.9, t):
        assert index.predict(m, t, t + 30) == copy.predict(m, t, t + 30)
    assert index.candidates(50.6, 50.9, -1.4, -0.9, t) == copy.candidates(50.6, 50.9, -1.4, -0.9, t)


def test_a_vague_prediction_does_not_steal_a_precise_vessels_contact() -> None:
    """P reported just now, 100 m from the contact; V last reported 8 min ago, its
    dead-reckoned position 30 m from the contact but uncertain by ~340 m. d² alone prefers V
    (0.01 against 3.2); the likelihood cost (d² + ln|S|/|R|) prefers P."""
    index = AisIndex(CFG)
    index.add(PositionReport(mmsi=11, time=T0, lat=50.0, lon=-1.0, speed_kn=0.0, course_deg=0.0))
    v_lat, v_lon = from_plane(50.0, -1.0, 100.0, 30.0)
    index.add(PositionReport(mmsi=22, time=T0 - timedelta(minutes=8), lat=v_lat, lon=v_lon,
                             speed_kn=0.0, course_deg=0.0))  # fmt: skip
    c = radar(T0, *from_plane(50.0, -1.0, 100.0, 0.0))
    res = associate([c], [50.0], index, no_length, CFG)
    assert [p.mmsi for p in res.pairs] == [11]
    assert sorted(res.gated) == [11, 22]  # both gate; the cost decides
