"""AIS prediction and the radar-track CV filter, on real Solent tracks and by property."""

from __future__ import annotations

import math
import random

from hypothesis import given
from hypothesis import strategies as st

from seawarden.fusion.config import FusionConfig
from seawarden.fusion.predict import CVFilter, Fix, from_plane, predict_at, to_plane
from seawarden.model.reports import PositionReport
from tests.fusion.conftest import by_mmsi, moving_ships

CFG = FusionConfig()


def fixes_of(reports: list[PositionReport]) -> tuple[list[Fix], list[float]]:
    fx = [Fix(r.time.timestamp(), r.lat, r.lon, r.speed_kn, r.course_deg) for r in reports]
    return fx, [f.t for f in fx]


def test_plane_round_trip() -> None:
    lat, lon = from_plane(50.7, -1.1, 1234.0, -567.0)
    e, n = to_plane(50.7, -1.1, lat, lon)
    assert abs(e - 1234.0) < 1e-6
    assert abs(n + 567.0) < 1e-6


def test_interpolation_is_exact_at_reports_and_between_them(
    solent_positions: list[PositionReport],
) -> None:
    tracks = by_mmsi(solent_positions)
    m = moving_ships(tracks, 1)[0]
    fx, ts = fixes_of(tracks[m])
    for k in range(5, len(fx) - 5, 37):
        p = predict_at(fx, ts, ts[k], CFG)
        assert p is not None
        assert p.method == "interpolate"
        assert (p.lat, p.lon) == (fx[k].lat, fx[k].lon)
        assert p.var_m2 == CFG.ais_sigma_m**2
    # drop every other report: the dropped ones are recovered by interpolation (Hermite on
    # SOG/COG) to within a few tens of metres on this real ferry track
    errs = []
    for k in range(1, len(fx) - 1, 2):
        kept = [fx[j] for j in range(len(fx)) if j % 2 == 0]
        p = predict_at(kept, [f.t for f in kept], ts[k], CFG)
        assert p is not None
        e, n = to_plane(fx[k].lat, fx[k].lon, p.lat, p.lon)
        errs.append(math.hypot(e, n))
        if len(errs) > 100:
            break
    errs.sort()
    assert errs[len(errs) // 2] < 30.0, errs[len(errs) // 2]


def test_linear_interpolation_midpoint_without_sog() -> None:
    a = Fix(0.0, 50.0, -1.0, None, None)
    b = Fix(100.0, 50.01, -1.0, None, None)
    p = predict_at([a, b], [0.0, 100.0], 50.0, CFG)
    assert p is not None
    assert abs(p.lat - 50.005) < 1e-9
    assert abs(p.lon + 1.0) < 1e-9


def test_extrapolation_along_a_straight_course() -> None:
    f = Fix(0.0, 50.0, -1.0, 10.0, 90.0)  # 10 kn due east
    p = predict_at([f], [0.0], 300.0, CFG)
    assert p is not None
    assert p.method == "extrapolate"
    e, n = to_plane(50.0, -1.0, p.lat, p.lon)
    assert abs(e - 10 * 1852 / 3600 * 300) < 0.5
    assert abs(n) < 0.5
    # backwards too (a contact before the first report)
    q = predict_at([f], [0.0], -60.0, CFG)
    assert q is not None
    assert to_plane(50.0, -1.0, q.lat, q.lon)[0] < 0


def test_extrapolation_uses_two_reports_when_sog_missing() -> None:
    a = Fix(0.0, 50.0, -1.0, None, None)
    b = Fix(60.0, 50.0 + 300 / 111_195, -1.0, None, None)  # 5 m/s north
    p = predict_at([a, b], [0.0, 60.0], 120.0, CFG)
    assert p is not None
    assert abs(to_plane(50.0, -1.0, p.lat, p.lon)[1] - 600.0) < 1.0


def test_covariance_grows_with_dt_and_is_capped() -> None:
    f = Fix(0.0, 50.0, -1.0, 12.0, 45.0)
    vs = []
    for dt in (0.0, 10.0, 60.0, 300.0, 600.0):
        p = predict_at([f], [0.0], dt, CFG)
        assert p is not None
        vs.append(p.var_m2)
    assert vs == sorted(vs)
    assert len(set(vs)) == len(vs)
    assert predict_at([f], [0.0], CFG.max_extrapolate_s + 1, CFG) is None
    assert predict_at([f], [0.0], -CFG.max_extrapolate_s - 1, CFG) is None


@given(
    st.floats(-80, 80), st.floats(-180, 180), st.floats(0, 60), st.floats(0, 360),
    st.floats(-600, 600), st.one_of(st.none(), st.floats(0, 102)),
)  # fmt: skip
def test_finite_outputs_for_finite_inputs(
    lat: float, lon: float, sog: float, cog: float, dt: float, sog2: float | None
) -> None:
    fx = [Fix(0.0, lat, lon, sog, cog), Fix(30.0, lat, lon, sog2, None if sog2 is None else cog)]
    for t in (dt, 15.0, 30.0 + dt / 2):
        p = predict_at(fx, [0.0, 30.0], t, CFG)
        if p is not None:
            assert all(math.isfinite(v) for v in (p.lat, p.lon, p.var_m2, p.ve, p.vn))
            assert -90 <= p.lat <= 90
            assert -180 <= p.lon <= 180
            assert p.var_m2 > 0


def test_cv_filter_follows_a_real_track(solent_positions: list[PositionReport]) -> None:
    tracks = by_mmsi(solent_positions)
    m = moving_ships(tracks, 1)[0]
    tr = tracks[m]
    rng = random.Random(3)
    r0 = tr[0]
    f = CVFilter(r0.lat, r0.lon, r0.time.timestamp(), 30.0, CFG.accel_sigma_mps2**2)
    raw, filt = [], []
    for r in tr[1:300]:
        lat, lon = from_plane(r.lat, r.lon, rng.gauss(0, 30), rng.gauss(0, 30))
        d2 = f.update(r.time.timestamp(), lat, lon, 30.0)
        assert math.isfinite(d2)
        flat, flon, _var = f.latlon_at(r.time.timestamp())
        raw.append(math.hypot(*to_plane(r.lat, r.lon, lat, lon)))
        filt.append(math.hypot(*to_plane(r.lat, r.lon, flat, flon)))
    # after settling the filter is closer to the truth than the raw noisy contacts
    assert sum(filt[50:]) < sum(raw[50:])
    snap = CVFilter.from_dict(f.to_dict())
    assert snap.latlon_at(tr[400].time.timestamp()) == f.latlon_at(tr[400].time.timestamp())


def test_config_is_validated() -> None:
    import pytest

    from seawarden.errors import ConfigError

    for bad in ({"hold_s": 0.0}, {"gate_chi2": float("nan")}, {"length_ratio_max": 0.5},
                {"partner_min": 6}, {"confirm_factor": 1.5}, {"confirm_updates": 0}):  # fmt: skip
        with pytest.raises(ConfigError):
            FusionConfig(**bad)
    assert FusionConfig().params()["gate_chi2"] == 9.21
