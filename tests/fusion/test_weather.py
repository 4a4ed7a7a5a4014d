"""Weather context: GRIB2 written by eccodes' own encoder, CSV grids, storm modifiers.

The storm scenario follows VEZHEN (26 Jan 2025, Gotland–Ventspils cable): the owner said the
port anchor fell in wind above 25 m/s and dragged (shared/data/incidents.md). No real GRIB of
that night is in the repository, so fields are synthetic, written with eccodes.
"""

from __future__ import annotations

import json
import logging
import math
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seawarden.errors import ConfigError
from seawarden.fusion.weather import (
    WeatherAt,
    WeatherConfig,
    WeatherContext,
    WeatherField,
    WeatherLayer,
    beaufort,
)
from seawarden.ingest.weather import import_eccodes, load_weather
from seawarden.model import Event
from seawarden.sim.weather import write_storm_grib2, write_weather_csv

eccodes = import_eccodes()  # pyproj first: see import_eccodes
T0 = datetime(2025, 1, 26, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)
VEZHEN_POS = (57.0, 19.5)  # Swedish EEZ between Gotland and Ventspils, approximately


def _message(
    f: Any,
    short: str,
    lats: list[float],
    lons: list[float],
    values: np.ndarray,
    time: datetime = T0,
    step: int = 0,
) -> None:
    """One regular_ll GRIB2 message written by eccodes; ``values`` is (lats, lons)."""
    h = eccodes.codes_grib_new_from_samples("regular_ll_sfc_grib2")
    di = abs(lons[1] - lons[0])
    dj = abs(lats[1] - lats[0])
    for key, value in (
        ("Ni", len(lons)),
        ("Nj", len(lats)),
        ("latitudeOfFirstGridPointInDegrees", lats[0]),
        ("longitudeOfFirstGridPointInDegrees", lons[0]),
        ("latitudeOfLastGridPointInDegrees", lats[-1]),
        ("longitudeOfLastGridPointInDegrees", lons[-1]),
        ("iDirectionIncrementInDegrees", di),
        ("jDirectionIncrementInDegrees", dj),
        ("jScansPositively", 1 if lats[1] > lats[0] else 0),
        ("shortName", short),
        ("dataDate", int(time.strftime("%Y%m%d"))),
        ("dataTime", int(time.strftime("%H%M"))),
        ("step", step),
        ("bitsPerValue", 24),
    ):
        eccodes.codes_set(h, key, value)
    eccodes.codes_set_values(h, np.asarray(values, dtype=np.float64).ravel())
    eccodes.codes_write(h, f)
    eccodes.codes_release(h)


# Corner values chosen so bilinear interpolation is easy to check by hand.
LATS = [56.0, 55.5, 55.0]  # north to south, as ECMWF writes
LONS = [18.0, 18.5, 19.0]
GRID = np.array(
    [
        [70.0, 80.0, 90.0],  # 56.0
        [30.0, 60.0, 40.0],  # 55.5
        [10.0, 20.0, 50.0],  # 55.0
    ]
)


@pytest.fixture
def grid_file(tmp_path: Path) -> Path:
    path = tmp_path / "wind.grib2"
    with path.open("wb") as f:
        _message(f, "10si", LATS, LONS, GRID)
    return path


# -- reading GRIB2 ----------------------------------------------------------------------------


def test_values_at_grid_points_and_bilinear_in_between(grid_file: Path) -> None:
    field = load_weather([grid_file])
    assert field.stats["grib_messages"] == 1
    assert field.stats["layers_wind_ms"] == 1
    for i, la in enumerate(LATS):
        for j, lo in enumerate(LONS):
            w = field.at(la, lo, T0)
            assert w is not None
            assert w.wind_ms == pytest.approx(GRID[i, j], abs=1e-3)
    # (55.25, 18.125): fy=0.5 from 55.0, fx=0.25 from 18.0
    # 0.5*0.75*10 + 0.5*0.25*20 + 0.5*0.75*30 + 0.5*0.25*60 = 3.75 + 2.5 + 11.25 + 7.5 = 25
    w = field.at(55.25, 18.125, T0)
    assert w is not None
    assert w.wind_ms == pytest.approx(25.0, abs=1e-3)
    # cell centre of the upper right cell: mean of 60, 40, 80, 90 = 67.5
    w = field.at(55.75, 18.75, T0)
    assert w is not None
    assert w.wind_ms == pytest.approx(67.5, abs=1e-3)
    assert w.gust_ms is None
    assert w.wave_m is None
    assert w.valid_time == T0
    assert w.source == "wind.grib2 msg 1"
    assert isinstance(w.wind_ms, float)


def test_south_to_north_scanning_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "s2n.grib2"
    with path.open("wb") as f:
        _message(f, "10si", LATS[::-1], LONS, GRID[::-1, :])
    w = load_weather([path]).at(55.25, 18.125, T0)
    assert w is not None
    assert w.wind_ms == pytest.approx(25.0, abs=1e-3)


def test_u_v_components_become_speed(tmp_path: Path) -> None:
    path = tmp_path / "uv.grib2"
    with path.open("wb") as f:
        _message(f, "10u", LATS, LONS, np.full((3, 3), 3.0))
        _message(f, "10v", LATS, LONS, np.full((3, 3), -4.0))
        _message(f, "10u", LATS, LONS, np.full((3, 3), 1.0), time=T0 + H)  # no partner
    field = load_weather([path])
    w = field.at(55.3, 18.3, T0)
    assert w is not None
    assert w.wind_ms == pytest.approx(5.0, abs=1e-3)
    assert w.source == "uv.grib2 msg 1+2"
    assert field.stats["grib_unpaired_wind_component"] == 1


def test_gust_and_wave_and_valid_time_from_step(tmp_path: Path) -> None:
    path = tmp_path / "gw.grib2"
    with path.open("wb") as f:
        _message(f, "10si", LATS, LONS, np.full((3, 3), 20.0), time=T0, step=1)
        _message(f, "i10fg", LATS, LONS, np.full((3, 3), 31.0), time=T0, step=1)
        _message(f, "swh", LATS, LONS, np.full((3, 3), 6.5), time=T0, step=1)
        _message(f, "2t", LATS, LONS, np.full((3, 3), 270.0), time=T0, step=1)
    field = load_weather([path])
    w = field.at(55.5, 18.5, T0 + H)
    assert w == WeatherAt(T0 + H, 20.0, 31.0, 6.5, w.source if w else "")
    assert w is not None
    assert "msg 1" in w.source
    assert "msg 3" in w.source
    assert field.stats["grib_ignored_param"] == 1


def test_time_selection_nearest_and_max_age(tmp_path: Path) -> None:
    path = tmp_path / "times.grib2"
    with path.open("wb") as f:
        _message(f, "10si", LATS, LONS, np.full((3, 3), 10.0), time=T0)
        _message(f, "10si", LATS, LONS, np.full((3, 3), 30.0), time=T0 + 3 * H)
    field = load_weather([path])
    assert field.times() == [T0, T0 + 3 * H]

    def wind(t: datetime) -> float | None:
        w = field.at(55.5, 18.5, t)
        return None if w is None else w.wind_ms

    assert wind(T0 + H) == pytest.approx(10.0)
    assert wind(T0 + 2 * H) == pytest.approx(30.0)
    assert wind(T0 + 1.5 * H) == pytest.approx(10.0)  # a tie goes to the earlier time
    assert wind(T0 - 3 * H) == pytest.approx(10.0)  # exactly max_age_s: still valid
    assert wind(T0 - 3 * H - timedelta(seconds=1)) is None
    assert wind(T0 + 6 * H + timedelta(seconds=1)) is None
    assert wind(T0.replace(tzinfo=None) + 2 * H) == pytest.approx(30.0)  # naive = UTC
    short = load_weather([path], max_age_s=600)
    assert short.at(55.5, 18.5, T0 + H) is None


def test_outside_extent_is_none(grid_file: Path) -> None:
    field = load_weather([grid_file])
    assert field.at(54.99, 18.5, T0) is None
    assert field.at(56.01, 18.5, T0) is None
    assert field.at(55.5, 17.99, T0) is None
    assert field.at(55.5, 19.01, T0) is None
    assert field.at(55.5, 18.5 - 360.0, T0) is not None  # same meridian


def test_0_360_longitudes(tmp_path: Path) -> None:
    # A grid written in 0..360 west of Greenwich: 350..355 E = 10..5 W.
    path = tmp_path / "west.grib2"
    with path.open("wb") as f:
        _message(f, "10si", [56.0, 55.0], [350.0, 355.0], np.array([[10.0, 20.0], [30.0, 40.0]]))
    field = load_weather([path])
    w = field.at(55.5, -7.5, T0)
    assert w is not None
    assert w.wind_ms == pytest.approx(25.0, abs=1e-3)
    w = field.at(55.5, 352.5, T0)
    assert w is not None
    assert w.wind_ms == pytest.approx(25.0, abs=1e-3)
    assert field.at(55.5, 7.5, T0) is None


def test_global_grid_wraps_around_greenwich() -> None:
    lons = np.arange(0.0, 360.0, 90.0)  # 0, 90, 180, 270: the last cell is 270..360(=0)
    values = np.array([[0.0, 10.0, 20.0, 40.0], [0.0, 10.0, 20.0, 40.0]])
    field = WeatherField([WeatherLayer("wind_ms", T0, [-10.0, 10.0], lons, values, "g")])
    w = field.at(0.0, -45.0, T0)  # halfway between 270 (40) and 360 (= 0, value 0)
    assert w is not None
    assert w.wind_ms == pytest.approx(20.0)
    w = field.at(0.0, 315.0, T0)
    assert w is not None
    assert w.wind_ms == pytest.approx(20.0)


def test_grid_across_the_antimeridian() -> None:
    layer = WeatherLayer(
        "wind_ms", T0, [0.0, 1.0], [170.0, 180.0, -170.0], np.array([[0, 10, 20]] * 2), "am"
    )
    field = WeatherField([layer])
    w = field.at(0.5, -175.0, T0)
    assert w is not None
    assert w.wind_ms == pytest.approx(15.0)


def test_missing_corners_use_the_finite_ones() -> None:
    values = np.array([[np.nan, 4.0], [2.0, np.nan]])
    field = WeatherField([WeatherLayer("wave_m", T0, [0.0, 1.0], [0.0, 1.0], values, "w")])
    w = field.at(0.5, 0.5, T0)
    assert w is not None
    assert w.wave_m == pytest.approx(3.0)
    all_nan = WeatherField(
        [WeatherLayer("wave_m", T0, [0.0, 1.0], [0.0, 1.0], np.full((2, 2), np.nan), "w")]
    )
    assert all_nan.at(0.5, 0.5, T0) is None


def test_sim_writer_round_trip_uv_and_speed(tmp_path: Path) -> None:
    times = [T0, T0 + H]
    bbox = (19.0, 56.5, 20.0, 57.5)

    def wind(lat: float, lon: float, t: datetime) -> float:
        return 20.0 + 2.0 * (lat - 56.5) + 4.0 * (lon - 19.0) + (t - T0) / H

    uv = write_storm_grib2(tmp_path / "uv.grib2", bbox=bbox, times=times, wind_ms=wind, wave_m=7)
    si = write_storm_grib2(
        tmp_path / "si.grib2", bbox=bbox, times=times, wind_ms=wind, wind_as="speed"
    )
    for path in (uv, si):
        w = load_weather([path]).at(*VEZHEN_POS, T0 + H)
        assert w is not None
        assert w.wind_ms == pytest.approx(20.0 + 1.0 + 2.0 + 1.0, abs=1e-3)
    w = load_weather([uv]).at(*VEZHEN_POS, T0)
    assert w is not None
    assert w.wave_m == pytest.approx(7.0, abs=1e-3)


# -- malformed GRIB -------------------------------------------------------------------------


def test_truncated_grib_is_a_clear_error(grid_file: Path, tmp_path: Path) -> None:
    data = grid_file.read_bytes()
    bad = tmp_path / "trunc.grib2"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ConfigError, match=r"trunc\.grib2.*no usable.*grib_unreadable"):
        load_weather([bad])


def test_good_message_then_truncated_keeps_the_good_one(
    grid_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = grid_file.read_bytes()
    path = tmp_path / "partial.grib2"
    path.write_bytes(data + data[:100])
    with caplog.at_level(logging.WARNING):
        field = load_weather([path])
    assert field.stats["grib_unreadable"] == 1
    assert field.at(55.5, 18.5, T0) is not None
    assert any("unreadable" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("content", [os.urandom(2000), b"GRIB" + os.urandom(600), b""])
def test_random_bytes_are_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "junk.grb"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=r"junk\.grb"):
        load_weather([path])


def test_unsupported_grid_type_is_counted_and_skipped(grid_file: Path, tmp_path: Path) -> None:
    path = tmp_path / "mixed.grib2"
    h = eccodes.codes_grib_new_from_samples("reduced_gg_pl_32_grib2")
    eccodes.codes_set(h, "shortName", "10si")
    with path.open("wb") as f:
        eccodes.codes_write(h, f)
    eccodes.codes_release(h)
    with pytest.raises(ConfigError, match="grib_unsupported_grid"):
        load_weather([path])
    path.write_bytes(path.read_bytes() + grid_file.read_bytes())
    field = load_weather([path])
    assert field.stats["grib_unsupported_grid"] == 1
    assert field.stats["layers_wind_ms"] == 1


def test_only_other_parameters_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "t2m.grib2"
    with path.open("wb") as f:
        _message(f, "2t", LATS, LONS, np.full((3, 3), 270.0))
    with pytest.raises(ConfigError, match="grib_ignored_param"):
        load_weather([path])


def test_repeated_layer_counted_first_kept(tmp_path: Path) -> None:
    path = tmp_path / "dup.grib2"
    with path.open("wb") as f:
        _message(f, "10si", LATS, LONS, np.full((3, 3), 10.0))
        _message(f, "10si", LATS, LONS, np.full((3, 3), 99.0))
    field = load_weather([path])
    assert field.stats["duplicate_layer"] == 1
    w = field.at(55.5, 18.5, T0)
    assert w is not None
    assert w.wind_ms == pytest.approx(10.0)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_weather([tmp_path / "missing.grib2"])
    other = tmp_path / "wind.nc"
    other.write_bytes(b"CDF")
    with pytest.raises(ConfigError, match="unknown file type"):
        load_weather([other])
    with pytest.raises(ConfigError, match="no weather files"):
        load_weather([])


# -- CSV grids ------------------------------------------------------------------------------


def test_csv_grid_bilinear_and_writer(tmp_path: Path) -> None:
    path = write_weather_csv(
        tmp_path / "w.csv",
        bbox=(18.0, 55.0, 19.0, 56.0),
        times=[T0],
        wind_ms=lambda la, lo, t: 10.0 * (la - 55.0) + 4.0 * (lo - 18.0),
        gust_ms=30.0,
        wave_m=6.2,
    )
    field = load_weather([path])
    w = field.at(55.3, 18.6, T0)
    assert w is not None
    assert w.wind_ms == pytest.approx(3.0 + 2.4, abs=1e-6)
    assert w.gust_ms == pytest.approx(30.0)
    assert w.wave_m == pytest.approx(6.2)
    assert w.source.startswith("w.csv lines 2-")


def test_csv_u10_v10_and_bad_rows_are_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "uv.csv"
    path.write_text(
        "# synthetic\n"
        "time,lat,lon,u10,v10\n"
        "2025-01-26T00:00Z,55,18,3,4\n"
        "2025-01-26T00:00Z,55,19,6,8\n"
        "2025-01-26T00:00Z,56,18,3,4\n"
        "2025-01-26T00:00Z,56,19,6,8\n"
        "2025-01-26T00:00Z,56,19,1,1\n"  # duplicate
        "yesterday,55,18,3,4\n"  # bad time
        "2025-01-26T00:00Z,95,18,3,4\n"  # bad lat
        "2025-01-26T00:00Z,55,18,nan,4\n"  # non-finite
        "2025-01-26T00:00Z,55,18,999,4\n"  # implausible
        "2025-01-26T00:00Z,55,18\n"  # short row
        "2025-01-26T00:00Z,55,18,,\n"  # no value
        f"2025-01-26T00:00Z,55,18,{'9' * 2000}\n"  # over-long line
    )
    with caplog.at_level(logging.WARNING):
        field = load_weather([path])
    s = field.stats
    assert (s["csv_duplicate"], s["csv_bad_time"], s["csv_bad_value"]) == (1, 1, 4)
    assert s["csv_bad_row"] == 2
    assert sum(r.getMessage() == "weather row skipped" for r in caplog.records) == 8
    w = field.at(55.5, 18.5, T0)
    assert w is not None
    assert w.wind_ms == pytest.approx(7.5)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("time,lat,lon,temp\n2025-01-26T00:00Z,55,18,3\n", "unrecognised header"),
        ("time,lat,lon,wind_ms,wind_ms\n", "repeated column"),
        ("time,lat,lon,wind_ms\nbad,1,2,3\n", "no usable.*csv_bad_time"),
        (
            "time,lat,lon,wind_ms\n"
            + "".join(f"2025-01-26T00:00Z,{50 + k},{10 + k},5\n" for k in range(6)),
            "do not form a lat/lon grid",
        ),
    ],
)
def test_bad_csv_files_are_clear_errors(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_weather([path])


def test_csv_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"time,lat,lon,wind_ms\n\xff\xfe,1,2,3\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_weather([path])


# -- never raising --------------------------------------------------------------------------

_FIELD = WeatherField(
    [
        WeatherLayer("wind_ms", T0, [50.0, 60.0], [10.0, 20.0], np.full((2, 2), 20.0), "a"),
        WeatherLayer(
            "wave_m", T0, [-90.0, 90.0], np.arange(0.0, 360.0, 30.0), np.ones((2, 12)), "b"
        ),
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    lat=st.floats(allow_nan=True, allow_infinity=True),
    lon=st.floats(allow_nan=True, allow_infinity=True),
    t=st.datetimes(timezones=st.just(UTC) | st.none()),
)
def test_at_never_raises(lat: float, lon: float, t: datetime) -> None:
    w = _FIELD.at(lat, lon, t)
    if w is not None:
        assert math.isfinite(lat)
        assert math.isfinite(lon)
        assert abs(lat) <= 90
        assert w.wave_m == pytest.approx(1.0)


# -- storms and anchor drags ----------------------------------------------------------------


def _drag(
    phase: str = "open",
    time: datetime = T0,
    drag_id: str = "drag1",
    pos: tuple[float, float] = VEZHEN_POS,
) -> Event:
    return Event(
        id=drag_id,
        kind="anchor_drag",
        phase=phase,  # type: ignore[arg-type]
        mmsi=248000000,
        time=time,
        lat=pos[0],
        lon=pos[1],
    )


def _field(wind: float, gust: float | None = None, wave: float | None = None) -> WeatherField:
    layers = [
        WeatherLayer("wind_ms", T0, [56, 58], [19, 20], np.full((2, 2), wind), "vz.grib2 msg 1")
    ]
    if gust is not None:
        layers.append(WeatherLayer("gust_ms", T0, [56, 58], [19, 20], np.full((2, 2), gust), "g"))
    if wave is not None:
        layers.append(WeatherLayer("wave_m", T0, [56, 58], [19, 20], np.full((2, 2), wave), "s"))
    return WeatherField(layers, max_age_s=24 * 3600)


def test_storm_emits_one_modifier_per_drag_id() -> None:
    ctx = WeatherContext(_field(27.0))
    out = ctx.on_findings([_drag("open"), _drag("update", T0 + timedelta(minutes=10))])
    assert len(out) == 1
    ev = out[0]
    assert (ev.kind, ev.phase, ev.mmsi, ev.time) == ("weather", "instant", 248000000, T0)
    a = ev.attrs
    assert a["type"] == "storm"
    assert a["modifies"] == "anchor_drag"
    assert a["modifies_event_id"] == "drag1"
    assert a["factor"] == 0.9
    assert a["valid_s"] == 10800
    assert a["explanation"] == "likely accidental"
    assert a["beaufort"] == 10
    assert a["wind_ms"] == 27.0
    assert a["note"] == (
        "likely accidental: storm, wind 27 m/s (Beaufort 10) at the vessel at 00:00Z "
        "(vz.grib2 msg 1)"
    )
    assert len(a["reasons"]) == 1
    assert "stays an alert" in a["reasons"][0]
    json.dumps(dict(a))
    # Later updates of the same drag, and other kinds of events, add nothing.
    assert ctx.on_findings([_drag("update", T0 + H)]) == []
    other = Event(id="x", kind="ais_gap", phase="open", mmsi=1, time=T0, lat=57, lon=19.5)
    assert ctx.on_findings([other]) == []
    # A second drag gets its own modifier with its own id.
    second = ctx.on_findings([_drag("open", drag_id="drag2")])
    assert len(second) == 1
    assert second[0].id != ev.id


def test_deterministic_ids() -> None:
    a = WeatherContext(_field(27.0)).on_findings([_drag()])
    b = WeatherContext(_field(27.0)).on_findings([_drag()])
    assert a == b


def test_gust_or_waves_alone_make_a_storm() -> None:
    ev = WeatherContext(_field(20.0, gust=26.0)).on_findings([_drag()])[0]
    assert ev.attrs["type"] == "storm"
    assert ev.attrs["beaufort"] == 8
    assert "gusts 26 m/s" in ev.attrs["note"]
    ev = WeatherContext(_field(10.0, wave=6.5)).on_findings([_drag()])[0]
    assert ev.attrs["type"] == "storm"
    assert "waves 6.5 m" in ev.attrs["note"]


def test_gale_then_storm_updates_the_same_modifier() -> None:
    gale = WeatherContext(_field(18.0))
    ev = gale.on_findings([_drag()])[0]
    assert ev.attrs["type"] == "gale"
    assert ev.attrs["factor"] == 0.97
    assert ev.attrs["explanation"] == "accidental drag possible"
    # The same context, now over a storm field (the drag continued into it).
    gale.field = _field(30.0)
    up = gale.on_findings([_drag("update", T0 + H)])
    assert len(up) == 1
    assert up[0].id == ev.id
    assert up[0].time == T0 + H
    assert up[0].attrs["type"] == "storm"
    assert up[0].attrs["beaufort"] == 11


def test_calm_or_uncovered_emits_nothing() -> None:
    assert WeatherContext(_field(12.0)).on_findings([_drag()]) == []
    far = _drag(pos=(40.0, 0.0))
    assert WeatherContext(_field(30.0)).on_findings([far]) == []


def test_refresh_after_lapse_and_close_forgets() -> None:
    ctx = WeatherContext(_field(27.0))
    first = ctx.on_findings([_drag()])
    assert ctx.on_findings([_drag("update", T0 + 3 * H)]) == []  # exactly valid_s: active
    again = ctx.on_findings([_drag("update", T0 + 3 * H + timedelta(seconds=1))])
    assert len(again) == 1
    assert again[0].id == first[0].id
    assert ctx.on_findings([_drag("close", T0 + 4 * H)]) == []
    assert ctx.snapshot()["annotated"] == []


def test_snapshot_restore_and_forget() -> None:
    ctx = WeatherContext(_field(27.0))
    ctx.on_findings([_drag(drag_id="a"), _drag(drag_id="b")])
    snap = json.loads(json.dumps(ctx.snapshot()))
    fresh = WeatherContext(_field(27.0))
    fresh.restore(snap)
    assert fresh.snapshot() == ctx.snapshot()
    assert fresh.on_findings([_drag("update", T0 + H, drag_id="a")]) == []
    fresh.forget(["a"])
    assert len(fresh.on_findings([_drag("update", T0 + H, drag_id="a")])) == 1
    bads: list[Any] = [
        {},
        {"version": 2},
        {"version": 1, "annotated": [["a", "m", "hail", "x"]]},
        [],
    ]
    for bad in bads:
        with pytest.raises(ConfigError, match="snapshot"):
            fresh.restore(bad)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"factor": 0.0},
        {"factor": 1.2},
        {"gale_wind_ms": 30.0},
        {"storm_wave_m": float("nan")},
        {"valid_s": -1},
        {"gale_factor": 0.5},
    ],
)
def test_config_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        WeatherConfig(**kwargs)


def test_beaufort_bounds() -> None:
    assert [beaufort(v) for v in (0.0, 17.1, 17.2, 24.4, 24.5, 28.5, 40.0)] == [
        0,
        7,
        8,
        9,
        10,
        11,
        12,
    ]


def test_eccodes_then_psycopg_exits_cleanly() -> None:
    """The eccodes wheels bundle OpenSSL 1.1; loaded before psycopg's OpenSSL 3 the process
    segfaulted at exit (it killed a whole CI run after every test had passed)."""
    import subprocess
    import sys

    code = (
        "from seawarden.ingest.weather import import_eccodes\n"
        "import_eccodes()\n"
        "import psycopg  # noqa: F401\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-500:])
