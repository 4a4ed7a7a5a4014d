"""Association of radar contacts with real Solent AIS traffic: accuracy, GNN, gates."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

import pytest

from seawarden.fusion.associate import AisIndex, associate, length_ok
from seawarden.fusion.config import FusionConfig
from seawarden.fusion.predict import from_plane
from seawarden.model.contacts import Contact
from seawarden.model.reports import PositionReport
from tests.fusion.conftest import (
    RADAR_ID,
    by_mmsi,
    crossing_path,
    km,
    moving_ships,
    path_ais,
    path_contacts,
    real_path,
    reciprocal_path,
    true_position,
    velocity_of,
)

CFG = FusionConfig()
T0 = datetime(2024, 1, 1, 12, tzinfo=UTC)


def radar(t: datetime, lat: float, lon: float, **kw: object) -> Contact:
    return Contact(time=t, lat=lat, lon=lon, sensor=RADAR_ID, kind="radar", **kw)  # type: ignore[arg-type]


def no_length(_: int) -> float | None:
    return None


@pytest.mark.parametrize("with_velocity", [False, True], ids=["position", "position+velocity"])
def test_noisy_contacts_of_20_real_ships_go_to_the_right_mmsi(
    solent_positions: list[PositionReport], with_velocity: bool
) -> None:
    """20 of the busiest real Solent vessels, one noisy (σ 50 m) contact each per 30 s scan.

    Scored over contacts whose vessel is radar-resolvable: more than 150 m (3 σ) from every
    other vessel's true position. Closer pairs (ships moored alongside, a tug on a tow,
    the Solent's twin transponders 12-30 m apart) are one echo to a real radar and any
    assignment between them is a coin toss; they stay in the scans as distractors and
    their raw accuracy is printed too. With ``with_velocity`` the contacts also carry a
    tracker's speed/course: the true track's (±15 s central difference) with 0.5 kn / 4°
    noise."""
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
            vel = velocity_of(real_path(tracks[m]), t) if with_velocity else None
            if vel is None:
                contacts.append(radar(t, lat, lon))
            else:
                sp, co = max(0.0, vel[0] + rng.gauss(0, 0.5)), vel[1] + rng.gauss(0, 4.0)
                contacts.append(radar(t, lat, lon, speed_kn=sp, course_deg=co % 360.0))
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
    print(f"\nassociation ({'with' if with_velocity else 'no'} velocity): resolvable "
          f"{right}/{total} = {accuracy:.3f}; all contacts "
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


SHIP = 235031617  # real Solent track, ~9 kn, reports every ~10 s (as in test_stage)
OTHER = 235999001  # the synthetic ship it meets
OFFSET, SIGMA = 40.0, 40.0  # passing distance (m); radar noise as the simulator's (1 σ, m)
SEEDS = (11, 12, 13, 14, 15)


@pytest.mark.parametrize("geometry", ["reciprocal", "crossing"])
def test_ships_passing_40_m_apart_on_different_courses_are_told_apart_by_velocity(
    solent_positions: list[PositionReport], geometry: str
) -> None:
    """The real ship meets a synthetic one 40 m away, head-on on the reciprocal course along
    the real lane, or crossing its track at 90° 40 m ahead of it. Each is tracked by radar
    (σ 40 m, speed ±0.5 kn, course ±4°) every 6 s for 3 min either side of the encounter,
    over the real background traffic, with five noise seeds. With the contacts' speed/course
    no contact goes to the wrong ship in any scan (a contact beyond 3 σ of its own ship may
    be left unassigned: the 99 % gate); on position alone (the same contacts without
    speed/course, as before velocity gating) some scans swap them."""
    tracks = by_mmsi(solent_positions)
    real = tracks[SHIP]
    t_c = real[0].time + timedelta(minutes=12)  # under way at 9.5 kn (berthed 29-54)
    other = (reciprocal_path(real, t_c, OFFSET) if geometry == "reciprocal"
             else crossing_path(real, t_c, OFFSET))  # fmt: skip
    start, end = t_c - timedelta(minutes=3), t_c + timedelta(minutes=3)
    ais = sorted([*solent_positions, *path_ais(other, OTHER, start=start - timedelta(
        minutes=10), end=end + timedelta(minutes=1))], key=lambda r: r.time)  # fmt: skip
    wrong = {True: 0, False: 0}  # scans where a contact went to the other ship (or a third)
    missed = {True: 0, False: 0}  # contacts outside every gate (noise beyond 3 σ: ~1 %)
    truth = (SHIP, OTHER)
    scans = 0
    for seed in SEEDS:  # the same encounter seen with different radar noise
        index = AisIndex(CFG)  # fed as a stream: AIS up to hold_s / 2 after each scan
        fed = 0
        rng = random.Random(seed)
        own = path_contacts(real_path(real), start=start, end=end, rng=rng, track_no="1",
                            sigma_m=SIGMA)  # fmt: skip
        theirs = path_contacts(other, start=start, end=end, rng=rng, track_no="2",
                               sigma_m=SIGMA)  # fmt: skip
        assert len(own) == len(theirs) > 50
        closest = min(km(real_path(real)(c.time) or (0.0, 0.0), other(c.time) or (0.0, 0.0))
                      for c in own)  # fmt: skip
        assert closest < 0.060
        for a, b in zip(own, theirs, strict=True):
            assert a.time == b.time
            while fed < len(ais) and ais[fed].time <= a.time + timedelta(seconds=CFG.hold_s / 2):
                index.add(ais[fed])
                fed += 1
            scans += 1
            for with_velocity in (True, False):
                scan = [a, b] if with_velocity else [
                    Contact(time=c.time, lat=c.lat, lon=c.lon, sensor=c.sensor, kind="radar",
                            track=c.track) for c in (a, b)]  # fmt: skip
                res = associate(scan, [SIGMA, SIGMA], index, no_length, CFG,
                                until=a.time.timestamp() + CFG.hold_s / 2)  # fmt: skip
                got = {p.contact: p.mmsi for p in res.pairs}
                wrong[with_velocity] += any(got.get(k, m) != m for k, m in enumerate(truth))
                missed[with_velocity] += len(truth) - len(got)
    print(f"\n{geometry}: scans with a wrong assignment: with velocity {wrong[True]}/"
          f"{scans}, position only {wrong[False]}/{scans}; contacts unassigned "
          f"{missed[True]} / {missed[False]} of {2 * scans}")  # fmt: skip
    assert wrong[True] == 0
    assert missed[True] <= 0.02 * 2 * scans
    assert wrong[False] >= 1  # the encounter is ambiguous on position alone


def test_velocity_gate_refuses_a_reciprocal_course_and_ignores_slow_or_missing_velocity() -> None:
    """One vessel at 12 kn on 118°; a contact exactly on its position. On 298° at 12 kn it
    is not associable; on 118° (± the radar's course error) it is; below velocity_min_kn
    (course meaningless) or without speed/course, position alone decides."""
    index = AisIndex(CFG)
    for k in range(-3, 4):
        t = T0 + timedelta(seconds=10 * k)
        d = 12 * 1852 / 3600 * 10 * k
        lat, lon = from_plane(50.0, -1.0, d * 0.8480, d * -0.5299)  # course 118°
        index.add(PositionReport(mmsi=7, time=t, lat=lat, lon=lon, speed_kn=12.0,
                                 course_deg=118.0))  # fmt: skip

    def mmsis(**kw: object) -> list[int]:
        c = radar(T0, 50.0, -1.0, **kw)
        return [p.mmsi for p in associate([c], [30.0], index, no_length, CFG).pairs]

    assert mmsis(speed_kn=12.0, course_deg=298.0) == []
    assert mmsis(speed_kn=12.0, course_deg=208.0) == []  # crossing at 90°
    assert mmsis(speed_kn=12.0, course_deg=118.0) == [7]
    assert mmsis(speed_kn=11.0, course_deg=128.0) == [7]  # within the radar's errors
    assert mmsis(speed_kn=1.5, course_deg=298.0) == [7]  # too slow for a course
    assert mmsis() == [7]  # no velocity: position only, as before
    assert mmsis(speed_kn=12.0) == [7]  # speed without course: position only
