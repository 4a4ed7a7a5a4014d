"""The exceptions seawarden raises, all rooted at :class:`SeawardenError`.

::

    SeawardenError
    ├── ConfigError            bad settings, area GeoJSON, watchlist or detector config
    ├── InputError             an input could not be read or parsed (carries source, line)
    │   └── RejectedInputError      a record refused under --strict (carries the Rejection)
    ├── SourceError            a live source (TCP/UDP) failed beyond retry
    └── StoreError             the store is unreadable, locked, or from another schema

Lenient runs never raise for bad data: they count a :class:`~seawarden.model.Rejection`.
"""

from __future__ import annotations

from seawarden.model.reports import Rejection


class SeawardenError(Exception):
    """Base of every error seawarden raises on purpose."""


class ConfigError(SeawardenError):
    """A configuration file or value is invalid; the message names the file and the fix."""


class InputError(SeawardenError):
    """An input could not be read.

    ``source`` names the file or endpoint, ``line_no`` the 1-based line (0 if unknown).
    """

    def __init__(self, message: str, *, source: str = "", line_no: int = 0) -> None:
        where = f"{source}:{line_no}: " if source and line_no else (f"{source}: " if source else "")
        super().__init__(f"{where}{message}")
        self.source = source
        self.line_no = line_no


class RejectedInputError(InputError):
    """Raised instead of counting a rejection when ``--strict`` is on."""

    def __init__(self, rejection: Rejection) -> None:
        detail = f" ({rejection.detail})" if rejection.detail else ""
        super().__init__(
            f"rejected: {rejection.reason}{detail}; run without --strict to count and skip",
            source=rejection.source,
            line_no=rejection.line_no,
        )
        self.rejection = rejection


class SourceError(SeawardenError):
    """A live feed could not be reached or broke beyond retry."""


class StoreError(SeawardenError):
    """The store cannot be opened or used."""
