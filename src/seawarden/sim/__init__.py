"""Scenario simulation: incident-shaped vessels over real background traffic.

``simulate(...)`` writes a tagged NMEA file and a labels JSONL (see ``docs/scenarios.md``);
``seawarden.evaluate`` scores detector alerts against those labels.
"""

from seawarden.sim.scenarios import SCENARIOS, parse_scenario
from seawarden.sim.write import DEFAULT_START, Label, simulate

__all__ = ["DEFAULT_START", "SCENARIOS", "Label", "parse_scenario", "simulate"]
