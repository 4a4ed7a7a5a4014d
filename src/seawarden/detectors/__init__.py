"""Behaviour detectors: one module per behaviour, all on the contract in ``base.py``.

Each detector is a small class with a frozen, validated config and a pure step over per-vessel
state owned by the framework (``runner.py``), so state can be snapshotted, restored and
partitioned. The registry (``registry.py``) lists them by name.
"""
