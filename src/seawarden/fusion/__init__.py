"""Fusion of non-AIS contacts (radar, satellite) and context (weather) with AIS tracks."""
