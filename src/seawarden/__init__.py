"""seawarden — a maritime reaction system that protects undersea cables and pipelines."""

__version__ = "0.1.0"
