"""The examples in the fleet modules' docstrings run and hold."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from seawarden.fleet import fleet, identity, vessel, watchlist, watchlist_io


@pytest.mark.parametrize("module", [identity, watchlist, watchlist_io, vessel, fleet])
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_examples_exist() -> None:
    finder = doctest.DocTestFinder()
    examples = sum(len(t.examples) for m in (identity, watchlist) for t in finder.find(m))
    assert examples >= 5
