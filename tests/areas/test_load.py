"""The AOI loader refuses every malformed feature with a message naming file, feature, fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from shapely.geometry import MultiPolygon, Point, Polygon

from seawarden.areas import load_areas, parse_areas
from seawarden.errors import ConfigError

from .conftest import collection, feature

LINE = [[10.0, 55.0], [10.2, 55.0]]
SQUARE = [[[10.0, 55.0], [10.1, 55.0], [10.1, 55.1], [10.0, 55.1], [10.0, 55.0]]]


def good_line(**overrides: Any) -> dict[str, Any]:
    props: dict[str, Any] = {"id": "c1", "name": "Cable 1", "kind": "cable", "buffer_m": 1000}
    props.update(overrides)
    return feature("LineString", LINE, **{k: v for k, v in props.items() if v is not ...})


def write(tmp_path: Path, doc: Any) -> Path:
    path = tmp_path / "areas.geojson"
    path.write_text(json.dumps(doc))
    return path


def test_loads_corridor_and_zone_with_properties(tmp_path: Path) -> None:
    doc = collection(
        good_line(source="drawn for a test", operator="Op"),
        feature("Polygon", SQUARE, id="z1", name="Zone", kind="zone"),
    )
    areas = load_areas(write(tmp_path, doc))
    assert [a.id for a in areas] == ["c1", "z1"]
    cable, zone = areas
    assert cable.kind == "cable"
    assert cable.buffer_m == 1000.0
    assert cable.centerline is not None
    assert cable.is_corridor
    assert isinstance(cable.geometry, Polygon)
    assert cable.geometry.contains(Point(10.1, 55.005))  # ~556 m north of the line
    assert not cable.geometry.contains(Point(10.1, 55.02))  # ~2.2 km north
    assert dict(cable.properties) == {"source": "drawn for a test", "operator": "Op"}
    assert zone.centerline is None
    assert zone.buffer_m is None
    assert zone.geometry.equals(Polygon(SQUARE[0]))


BAD_CASES: list[tuple[str, Any, str]] = [
    ("not a collection", {"type": "Feature"}, "FeatureCollection"),
    ("features not list", {"type": "FeatureCollection", "features": {}}, "'features' must be"),
    ("feature not feature", collection({"type": "Point"}), "feature 0: not a GeoJSON Feature"),
    ("no properties", collection({"type": "Feature", "geometry": None}), "missing 'properties'"),
    ("missing id", collection(good_line(id=...)), "feature 0: missing properties.id"),
    ("blank id", collection(good_line(id="  ")), "missing properties.id"),
    ("numeric id", collection(good_line(id=7)), "missing properties.id"),
    ("missing name", collection(good_line(name=...)), "missing properties.name"),
    ("bad kind", collection(good_line(kind="wreck")), "kind is 'wreck'; use one of cable"),
    ("no buffer", collection(good_line(buffer_m=...)), "needs properties.buffer_m"),
    ("zero buffer", collection(good_line(buffer_m=0)), "buffer_m is 0"),
    ("negative buffer", collection(good_line(buffer_m=-5)), "buffer_m is -5"),
    ("string buffer", collection(good_line(buffer_m="2km")), "buffer_m is '2km'"),
    ("huge buffer", collection(good_line(buffer_m=1e7)), "buffer_m is 10000000.0"),
    (
        "buffer on polygon",
        collection(feature("Polygon", SQUARE, id="z", name="Z", kind="zone", buffer_m=5)),
        "buffer_m applies to lines only",
    ),
    (
        "point geometry",
        collection(feature("Point", [10.0, 55.0], id="p", name="P", kind="zone")),
        "geometry type 'Point' is not supported",
    ),
    (
        "no geometry",
        collection({"type": "Feature", "properties": {"id": "a", "name": "A", "kind": "zone"}}),
        "missing geometry",
    ),
    (
        "lat out of range",
        collection(
            feature(
                "LineString", [[10, 55], [10, 95]], id="a", name="A", kind="cable", buffer_m=100
            )
        ),
        "latitude 95 out of range",
    ),
    (
        "lon out of range",
        collection(
            feature(
                "LineString", [[190, 55], [10, 55]], id="a", name="A", kind="cable", buffer_m=100
            )
        ),
        "longitude 190 out of range",
    ),
    (
        "one-point line",
        collection(feature("LineString", [[10, 55]], id="a", name="A", kind="cable", buffer_m=100)),
        "at least 2 positions",
    ),
    (
        "degenerate line",
        collection(
            feature(
                "LineString", [[10, 55], [10, 55]], id="a", name="A", kind="cable", buffer_m=100
            )
        ),
        "all its points in one place",
    ),
    (
        "text coordinate",
        collection(
            feature(
                "LineString", [[10, "55"], [10, 56]], id="a", name="A", kind="cable", buffer_m=100
            )
        ),
        "must hold numbers",
    ),
    (
        "bow-tie polygon",
        collection(
            feature(
                "Polygon", [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]], id="a", name="A", kind="zone"
            )
        ),
        "invalid polygon (Self-intersection",
    ),
    (
        "open ring",
        collection(feature("Polygon", [[[0, 0], [1, 0], [1, 1]]], id="a", name="A", kind="zone")),
        "ring is not closed; repeat the first position",
    ),
    (
        "duplicate id",
        collection(good_line(), good_line(name="Again")),
        "feature 1: duplicate id 'c1' (first used by feature 0)",
    ),
]


@pytest.mark.parametrize(("case", "doc", "message"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_input_raises_config_error_naming_file_and_fix(
    tmp_path: Path, case: str, doc: Any, message: str
) -> None:
    path = write(tmp_path, doc)
    with pytest.raises(ConfigError) as info:
        load_areas(path)
    text = str(info.value)
    assert text.startswith(f"{path}: "), text
    assert message in text, text


def test_error_names_the_feature_by_index_and_id() -> None:
    doc = collection(good_line(), good_line(id="c2", kind="tunnel"))
    with pytest.raises(ConfigError, match=r"feature 1 \(id 'c2'\): properties.kind"):
        parse_areas(doc, source="x.geojson")


def test_unreadable_and_invalid_json_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read area file"):
        load_areas(tmp_path / "missing.geojson")
    bad = tmp_path / "bad.geojson"
    bad.write_text("{ not json")
    with pytest.raises(ConfigError, match="not valid JSON at line 1"):
        load_areas(bad)


def test_multilinestring_corridor_covers_every_part() -> None:
    doc = collection(
        feature(
            "MultiLineString",
            [LINE, [[11.0, 56.0], [11.2, 56.0]]],
            id="m",
            name="M",
            kind="pipeline",
            buffer_m=500,
        )
    )
    (area,) = parse_areas(doc)
    assert isinstance(area.geometry, MultiPolygon)
    assert area.geometry.contains(Point(10.1, 55.0))
    assert area.geometry.contains(Point(11.1, 56.0))
    assert not area.geometry.contains(Point(10.6, 55.5))
