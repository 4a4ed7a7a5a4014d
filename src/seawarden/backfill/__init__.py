"""Backfill: the unchanged detectors over a history archive, sequential or on Dask."""
