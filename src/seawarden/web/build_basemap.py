"""Build the console's offline basemap from the package's Natural Earth land polygons.

A watch floor may have no Internet at all, so the console cannot draw its coastline from a
tile server. The package already ships Natural Earth land (``data/land/land.geojson.gz``:
1:10m around northern Europe, 1:50m elsewhere, public domain) for the spoofing checks; this
script turns it into a lighter copy a browser can parse in a blink:
``web/static/basemap/land.geojson``.

Simplification is chosen for a display map, not for analysis: features tagged
``ne_10m_land`` (the northern-European box where the cable corridors are) are simplified with
``fine_tol_deg`` (default 0.002°, ≈ 220 m, under a pixel at the zoom that shows a whole
corridor), the rest of the world with ``coarse_tol_deg`` (0.02°, ≈ 2 km); polygons smaller
than ``min_area_deg2`` disappear; coordinates are rounded to ``digits`` decimals. The output
is compact, key-sorted JSON, so a rebuild from the same input is byte-identical and can be
committed and checked.

Run: ``python -m seawarden.web.build_basemap [--out PATH]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
from importlib import resources
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import mapping, shape

FINE_SOURCE = "ne_10m_land"
DEFAULT_OUT = Path(__file__).parent / "static" / "basemap" / "land.geojson"


def _load_land() -> dict[str, Any]:
    ref = resources.files("seawarden").joinpath("data", "land", "land.geojson.gz")
    with ref.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def _round(coords: Any, digits: int) -> Any:
    if isinstance(coords, (int, float)):
        return round(float(coords), digits)
    return [_round(c, digits) for c in coords]


def simplify_land(
    data: dict[str, Any],
    *,
    fine_tol_deg: float = 0.002,
    coarse_tol_deg: float = 0.02,
    min_area_deg2: float = 1e-4,
    digits: int = 3,
) -> dict[str, Any]:
    """A display copy of a land FeatureCollection: simplified, small islets dropped, rounded."""
    features: list[dict[str, Any]] = []
    for feature in data["features"]:
        source = str(feature.get("properties", {}).get("source", ""))
        tol = fine_tol_deg if source == FINE_SOURCE else coarse_tol_deg
        geom = shapely.make_valid(shape(feature["geometry"]))
        keep = [
            p.simplify(tol, preserve_topology=True)
            for p in shapely.get_parts(geom)
            if p.geom_type == "Polygon" and p.area >= min_area_deg2
        ]
        keep = [p for p in keep if not p.is_empty and p.area > 0]
        if not keep:
            continue
        merged = shapely.multipolygons(keep) if len(keep) > 1 else keep[0]
        geo = mapping(merged)
        features.append(
            {
                "type": "Feature",
                "properties": {"source": source},
                "geometry": {
                    "type": geo["type"],
                    "coordinates": _round(geo["coordinates"], digits),
                },
            }
        )
    return {
        "type": "FeatureCollection",
        "name": "land",
        "attribution": "Made with Natural Earth (public domain)",
        "features": features,
    }


def build(out: Path = DEFAULT_OUT) -> int:
    """Write the basemap; return its size in bytes."""
    result = simplify_land(_load_land())
    text = json.dumps(result, separators=(",", ":"), sort_keys=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n", encoding="utf-8")
    return out.stat().st_size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    size = build(args.out)
    print(f"wrote {args.out} ({size:,} bytes)")  # a build script: its one line of output


if __name__ == "__main__":
    main()
