"""Wiring of the stages into runnable pipelines (replay of files, live feeds)."""
