"""What fusing a radar costs: the same real AIS replayed with and without a radar feed.

Usage: ``python bench/fusion.py [--seed 7]``

Input: the Solent 2016 recording (real AIS, ~90 ships, 84 min) with the ``dark_spell``
scenario, plus a SIMULATED radar at the illustrative Calshot site of
``config/sensors.example.yaml`` that tracks every ship in its 30 km range every 6 s
(``seawarden.sim.sensors``; no real radar record is available offline). Three runs of the
full pipeline (areas, all detectors, risk, alerts; no store):

* AIS only, without a sensors file;
* AIS + radar TTM lines, without a sensors file (radar sentences decoded and counted,
  not fused: the cost of carrying them);
* AIS + radar with the sensors file (fusion on).

Ends with ``name=value`` lines. Figures, not assertions: never run in tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from seawarden.fusion.sensors import load_sensors  # noqa: E402
from seawarden.pipeline.replay import Replay  # noqa: E402
from seawarden.pipeline.settings import RunConfig  # noqa: E402
from seawarden.sim.sensors import radar_scenario  # noqa: E402

SOLENT = REPO.parent / "shared/data/tracks/solent/SolentAIS_20160112_130211.csv"
SENSORS = REPO / "config/sensors.example.yaml"


def _time(path: Path, config: RunConfig) -> tuple[float, int, int]:
    started = time.perf_counter()
    stats = Replay([path], config).run()
    return time.perf_counter() - started, stats.lines, stats.contacts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    radar = load_sensors(SENSORS).get("vts-solent")
    assert radar is not None
    base = RunConfig(
        areas=REPO / "config/areas.geojson", watchlists=(REPO / "config/watchlist.csv",)
    )
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        rs = radar_scenario(
            tmp, "dark_spell:region=solent", background=SOLENT, radar=radar, seed=args.seed
        )
        ais, merged = rs.ais, rs.feed
        t_ais, n_ais, _ = _time(ais, base)
        t_carry, n_all, _ = _time(merged, base)
        t_fused, _, contacts = _time(merged, replace(base, sensors=SENSORS))
    n_radar = n_all - n_ais
    print(f"AIS only:            {n_ais:,} lines in {t_ais:.2f} s ({n_ais / t_ais:,.0f} lines/s)")
    print(f"AIS + radar, no fusion: {n_all:,} lines in {t_carry:.2f} s")
    print(f"AIS + radar, fused:  {n_all:,} lines ({contacts:,} contacts) in {t_fused:.2f} s")
    fusion_s = max(t_fused - t_carry, 1e-9)
    print(f"radar_lines={n_radar}")
    print(f"ais_only_lines_per_s={n_ais / t_ais:.0f}")
    print(f"with_radar_unfused_lines_per_s={n_all / t_carry:.0f}")
    print(f"with_radar_fused_lines_per_s={n_all / t_fused:.0f}")
    print(f"fusion_contacts_per_s={contacts / fusion_s:.0f}")


if __name__ == "__main__":
    main()
